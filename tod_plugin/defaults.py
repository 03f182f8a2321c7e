"""Optimizer defaults of ``ALNetClassifier`` where they differ from skorch's: the learning rate
follows the optimizer, and SGD gets the papers' momentum and weight decay."""
import inspect
import numbers

import torch

from .errors import ConfigError

#: SGD as the TOD/COD, ST-CoNAL, LL4AL and Core-Set papers train their ResNet-18.
PAPER_SGD_DEFAULTS = {"momentum": 0.9, "weight_decay": 5e-4}
#: ``lr="auto"`` with SGD: the value that trains the small CNN on small labeled sets (the papers use 0.1 on CIFAR).
PAPER_SGD_LR = 0.05


def default_lr(optimizer):
    """``lr="auto"``: 0.05 for SGD, otherwise the optimizer's own default (Adam, AdamW: 1e-3; RMSprop: 1e-2).

    A learning rate tuned for SGD makes Adam diverge, so the default follows the optimizer.
    """
    if optimizer is torch.optim.SGD:
        return PAPER_SGD_LR
    try:
        default = inspect.signature(optimizer).parameters["lr"].default
    except (TypeError, ValueError, KeyError):
        default = inspect.Parameter.empty
    if isinstance(default, bool) or not isinstance(default, numbers.Real):
        name = getattr(optimizer, "__name__", type(optimizer).__name__)
        raise ConfigError(f"lr='auto' takes the optimizer's default learning rate, and {name} has none: give lr=<a number>")
    return float(default)


def optimizer_kwargs(optimizer, kwargs):
    """``kwargs`` for ``optimizer`` with ``lr="auto"`` resolved and SGD's paper defaults filled in."""
    if kwargs.get("lr") == "auto":
        kwargs = {**kwargs, "lr": default_lr(optimizer)}
    if optimizer is torch.optim.SGD:
        kwargs = {**PAPER_SGD_DEFAULTS, **kwargs}
    return kwargs

