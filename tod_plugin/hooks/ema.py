"""EMATeacher: an exponential moving average of the student's parameters (TOD, mean teacher).

theta_ema <- a_k * theta_ema + (1 - a_k) * theta after every optimizer step, with
a_k = min(1 - 1/(k + 1), decay) and k the global step count (Huang et al. 2021, section 3.3;
Tarvainen & Valpola 2017). Parameters are averaged, BN buffers are not (as in the reference).
The teacher starts as a copy of the student when training starts (the reference starts it from an
independent random network), and k persists across the fits of a warm-started learner; it is
reset when the net is (re-)initialised.
"""
import copy

import torch
from skorch.callbacks import Callback
from torch.optim.swa_utils import AveragedModel


def ema_weight(step, decay):
    """a_k = min(1 - 1/(k + 1), decay) for the k-th update (k >= 1)."""
    return min(1.0 - 1.0 / (step + 1), decay)


def unwrap(module):
    """The plain module behind a ``torch.compile`` wrapper."""
    return getattr(module, "_orig_mod", module)


class EMAAverager:
    """Keeps ``average_`` (an ``AveragedModel``) of a module with the a_k rule; k = ``steps_``."""

    def __init__(self, decay):
        self.decay = decay
        self.average_ = None
        self.steps_ = 0

    def start(self, module):
        """theta_ema <- theta (a copy of the student), once."""
        if self.average_ is None:
            self.average_ = AveragedModel(copy.deepcopy(unwrap(module)), avg_fn=self._average, use_buffers=False)
            self.average_.module.requires_grad_(False)
            self.average_.update_parameters(unwrap(module))

    def update(self, module):
        """One optimizer step done: k += 1, theta_ema <- a_k * theta_ema + (1 - a_k) * theta."""
        self.start(module)
        self.steps_ += 1
        self.average_.update_parameters(unwrap(module))

    def _average(self, averaged, current, n_averaged):
        a = ema_weight(self.steps_, self.decay)
        return a * averaged + (1.0 - a) * current

    @property
    def module(self):
        return None if self.average_ is None else self.average_.module

    def to_cpu(self):
        if self.average_ is not None:
            self.average_.to("cpu")


class EMATeacher(Callback):
    """Skorch hook keeping an EMA teacher of ``net.module_``; the teacher is ``teacher_``.

    The teacher is a copy of the student when the first fit starts; ``teacher_`` never receives
    gradients.
    """

    def __init__(self, decay=0.999):
        self.decay = decay

    def initialize(self):
        if not 0.0 <= self.decay < 1.0:
            raise ValueError(f"decay must be in [0, 1), got {self.decay!r}")
        self.averager_ = EMAAverager(self.decay)
        return super().initialize()

    @property
    def teacher_(self):
        return self.averager_.module

    @property
    def steps_(self):
        return self.averager_.steps_

    def on_train_begin(self, net, **kwargs):
        self.averager_.start(net.module_)
        self.averager_.average_.to(next(net.module_.parameters()).device)

    def on_batch_end(self, net, training=False, **kwargs):
        if training:
            with torch.no_grad():
                self.averager_.update(net.module_)

    def __getstate__(self):
        state = self.__dict__.copy()
        if "averager_" in state:
            averager = copy.deepcopy(state["averager_"])
            averager.to_cpu()
            state["averager_"] = averager
        return state
