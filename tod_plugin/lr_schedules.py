"""Learning-rate schedules of the protocols, as skorch callbacks (restarted at every fit).

* ``constant``: the initial lr throughout (ST-CoNAL's reference command: a flag default overrides
  its decay, so its 200 epochs run at 0.1).
* ``multistep``: x ``gamma`` at each milestone (TOD / LL4AL: x0.1 at epoch 160 of 200).
* ``cosine-restarts``: constant, then cosine cycles of ``every`` epochs that end exactly on the
  ``EpochSnapshots(start, every)`` snapshot epochs (SGDR, Loshchilov & Hutter 2017), so every
  ST-CoNAL snapshot is taken at the low end of a cycle.
"""
import math

from skorch.callbacks import LRScheduler
from torch.optim.lr_scheduler import LambdaLR, MultiStepLR

from .errors import ConfigError

LR_SCHEDULES = ("constant", "multistep", "cosine-restarts")


class PerFitLRScheduler(LRScheduler):
    """skorch's ``LRScheduler``, pickled without its torch scheduler ``lr_scheduler_``.

    That scheduler is rebuilt at the start of every fit and references the optimizer, which the
    net pickles on its own: keeping it would store the weights and momentum a second time in
    every checkpoint (ResNet-18: 224 MB instead of 134 MB).
    """

    def __getstate__(self):
        state = self.__dict__.copy()
        state["lr_scheduler_"] = None
        return state


class CosineRestarts:
    """lr factor for 0-based epoch e: cosine cycles of ``every`` epochs, (1 + cos(pi t / every)) / 2 with
    t = e mod every, each ending on a snapshot epoch (1-based multiples of ``every``, the first one
    >= ``start``); factor 1 before the cycle that ends on that first snapshot."""

    def __init__(self, start, every):
        self.start = start
        self.every = every

    def __call__(self, epoch):
        first_snapshot = -(-self.start // self.every) * self.every
        if epoch < first_snapshot - self.every:
            return 1.0
        return 0.5 * (1.0 + math.cos(math.pi * (epoch % self.every) / self.every))


def lr_scheduler(name, epochs, milestones=None, start=None, every=None, gamma=0.1):
    """The skorch ``LRScheduler`` callback for schedule ``name`` over ``epochs`` per fit (None: constant).

    ``multistep`` decays at ``milestones`` (None: at 80% of ``epochs``; empty: never);
    ``cosine-restarts`` needs the snapshot plan ``start`` / ``every`` (``tod_plugin.hooks.snapshot_plan``).
    """
    if name not in LR_SCHEDULES:
        raise ConfigError(f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {name!r}")
    if name == "multistep":
        milestones = [max(1, int(round(0.8 * epochs)))] if milestones is None else list(milestones)
        if milestones:
            return PerFitLRScheduler(MultiStepLR, milestones=milestones, gamma=gamma, last_epoch=-1)
    if name == "cosine-restarts":
        if start is None or every is None:
            raise ConfigError("the cosine-restarts schedule needs the snapshot plan: start and every")
        return PerFitLRScheduler(LambdaLR, lr_lambda=CosineRestarts(start, every), last_epoch=-1)
    return None
