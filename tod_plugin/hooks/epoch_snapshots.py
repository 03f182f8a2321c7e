"""EpochSnapshots: late-training weight snapshots, their averaged teacher and the students (ST-CoNAL).

Baik, Yoon, Choi, ACCV 2022 (arXiv 2207.02182): with E = 200 epochs the weights are saved after
epochs 160, 170, ..., 200; the teacher is the uniform average of the snapshots' parameters (or an
EMA of the weights) with its BatchNorm statistics recomputed by one train-mode pass over the
labeled data; the students are the last K = 4 snapshots.
"""
import warnings
from collections import deque

import torch
from skorch.callbacks import Callback
from torch.optim.swa_utils import update_bn

from ..device import resolve_device
from ..states import module_state
from ..validation import check_number
from .ema import EMAAverager

TEACHERS = ("mean", "ema")


def snapshot_plan(epochs):
    """``(start, every)`` scaled from the paper's 160 / 10 of 200 epochs: 80% of ``epochs``, 1/20 of it.

    >>> snapshot_plan(200), snapshot_plan(20)
    ((160, 10), (16, 1))
    """
    every = max(1, int(round(epochs / 20)))
    return max(1, int(round(0.8 * epochs))), every


def recalibrated(net, state, X):
    """``state`` with BatchNorm running statistics recomputed on ``X``: one train-mode pass of
    cumulative averages over the net's evaluation batches (``torch.optim.swa_utils.update_bn``),
    a last batch of one sample merged into the one before (as in training: ``batching.batch_bounds``)."""
    module = net.copy_module_with(state)
    with torch.no_grad():
        update_bn(_no_single_last(net.iter_batches(X)), module, device=resolve_device(net.device))
    return module_state(module)


def _no_single_last(batches):
    """``batches`` with a last batch of one sample concatenated to the batch before it."""
    previous = None
    for batch in batches:
        if previous is not None and len(batch) == 1:
            batch, previous = torch.cat([previous, batch]), None
        if previous is not None:
            yield previous
        previous = batch
    if previous is not None:
        yield previous


def _mean_of(total, count, last):
    """Floating tensors: ``total / count``; integer buffers (BN batch counters): from ``last``."""
    return {k: total[k] / count if k in total else v.clone() for k, v in last.items()}


class EpochSnapshots(Callback):
    """Skorch hook keeping ST-CoNAL's teacher (``teacher_``) and students (``students_``) of each fit.

    A snapshot is taken after epoch e (0-based, counted within the current fit, so a warm-started
    learner's growing history does not matter) when ``(e + 1) % every == 0`` and
    ``e + 1 >= start``. At the end of the fit:

    * ``teacher="mean"``: teacher = uniform average of all snapshots' parameters;
      ``teacher="ema"``: teacher = EMA of the weights over this fit's optimizer steps,
      theta_ema <- a_k theta_ema + (1 - a_k) theta, a_k = min(1 - 1/(k + 1), ``ema_decay``)
      (``hooks.ema.EMAAverager``, k counted from the fit's first step);
      then its BatchNorm statistics are recomputed on the fit's labeled data (see :func:`recalibrated`).
    * students = the last ``n_students`` snapshots, newest first (fewer if fewer were taken).

    A fit that ends before ``start`` (fewer epochs than ``start``: ``max_epochs``, or
    ``partial_fit(..., epochs=k)``'s ``k``; early stopping) takes its final
    weights as the only snapshot, with a warning. Use :func:`snapshot_plan` to scale
    ``start`` / ``every`` to fewer epochs than the paper's 200.

    Fitted state (CPU state dicts): ``teacher_``, ``students_``, ``snapshot_epochs_`` (1-based
    epochs of the fit's snapshots), ``student_epochs_``.
    """

    def __init__(self, start=160, every=10, teacher="mean", ema_decay=0.97, n_students=4):
        self.start = start
        self.every = every
        self.teacher = teacher
        self.ema_decay = ema_decay
        self.n_students = n_students

    def initialize(self):
        for name in ("start", "every", "n_students"):
            check_number(getattr(self, name), name, integral=True, low=0, low_open=True)
        if self.teacher not in TEACHERS:
            raise ValueError(f"teacher must be one of {TEACHERS}, got {self.teacher!r}")
        if check_number(self.ema_decay, "ema_decay", low=0.0) >= 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), got {self.ema_decay!r}")
        self.teacher_ = None
        self.students_ = []
        self.snapshot_epochs_ = []
        self.student_epochs_ = []
        return super().initialize()

    def on_train_begin(self, net, **kwargs):
        self.epoch_ = 0
        self.snapshot_epochs_ = []
        self.recent_ = deque(maxlen=self.n_students)
        self.total_ = None
        self.ema_ = None
        if self.teacher == "ema":
            self.ema_ = EMAAverager(self.ema_decay)
            self.ema_.start(net.module_)
        if net.planned_epochs_ < self.start:
            epochs = "max_epochs" if net.planned_epochs_ == net.max_epochs else "partial_fit's epochs"
            warnings.warn(
                f"EpochSnapshots: {epochs} ({net.planned_epochs_}) < start ({self.start}): no snapshot will be "
                "taken; the final weights serve as the only snapshot (see snapshot_plan)",
                stacklevel=2,
            )

    def on_batch_end(self, net, training=False, **kwargs):
        if training and self.ema_ is not None:
            self.ema_.update(net.module_)

    def on_epoch_end(self, net, **kwargs):
        self.epoch_ += 1
        if self.epoch_ % self.every == 0 and self.epoch_ >= self.start:
            self._take(net)

    def on_train_end(self, net, X=None, **kwargs):
        if not self.snapshot_epochs_:
            self._take(net)
        newest = self.recent_[-1][1]
        if self.teacher == "mean":
            teacher = _mean_of(self.total_, len(self.snapshot_epochs_), newest)
        else:
            teacher = module_state(self.ema_.module)
        self.teacher_ = recalibrated(net, teacher, X)
        self.students_ = [state for _, state in reversed(self.recent_)]
        self.student_epochs_ = [epoch for epoch, _ in reversed(self.recent_)]
        del self.recent_, self.total_, self.ema_

    def _take(self, net):
        state = module_state(net.module_)
        self.snapshot_epochs_.append(self.epoch_)
        self.recent_.append((self.epoch_, state))
        if self.teacher == "mean":
            if self.total_ is None:
                self.total_ = {k: v.clone() for k, v in state.items() if v.is_floating_point()}
            else:
                for k, v in self.total_.items():
                    v += state[k]
