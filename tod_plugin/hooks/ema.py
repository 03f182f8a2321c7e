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


def ema_weight(step, decay):
    """a_k = min(1 - 1/(k + 1), decay) for the k-th update (k >= 1)."""
    return min(1.0 - 1.0 / (step + 1), decay)


def unwrap(module):
    """The plain module behind a ``torch.compile`` wrapper."""
    return getattr(module, "_orig_mod", module)


class EMAAverager:
    """Keeps ``average_`` (a frozen copy of a module) with the a_k rule; k = ``steps_``.

    One update is a single fused ``theta_ema <- theta_ema + (1 - a_k) (theta - theta_ema)`` over all
    parameters, with a_k computed on the host: no device-to-host synchronisation per step.
    """

    def __init__(self, decay):
        self.decay = decay
        self.average_ = None
        self.steps_ = 0

    def start(self, module):
        """theta_ema <- theta (a copy of the student), once."""
        if self.average_ is None:
            self.average_ = copy.deepcopy(unwrap(module)).requires_grad_(False)

    @torch.no_grad()
    def update(self, module):
        """One optimizer step done: k += 1, theta_ema <- a_k * theta_ema + (1 - a_k) * theta."""
        self.start(module)
        self.steps_ += 1
        weight = 1.0 - ema_weight(self.steps_, self.decay)
        torch._foreach_lerp_(list(self.average_.parameters()), list(unwrap(module).parameters()), weight)

    @property
    def module(self):
        return self.average_

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
        self.averager_.module.to(next(net.module_.parameters()).device)

    def on_batch_end(self, net, training=False, **kwargs):
        if training:
            self.averager_.update(net.module_)

    def __getstate__(self):
        state = self.__dict__.copy()
        if "averager_" in state:
            averager = copy.deepcopy(state["averager_"])
            averager.to_cpu()
            state["averager_"] = averager
        return state
