"""Constructor arguments of a module class that ``ALNetClassifier`` takes from the data."""
import inspect

import torch

from .errors import ConfigError

#: Sizes the data give: the number of classes, and the channels or features of a sample.
DATA_SIZES = ("num_classes", "in_channels", "in_features")


def accepted_params(module):
    """The constructor's parameters of a module class or factory; ``{}`` for a module instance."""
    if isinstance(module, torch.nn.Module):
        return {}
    try:
        return inspect.signature(module).parameters
    except (TypeError, ValueError):
        return {}


def inferred_params(module, n_classes=None, input_shape=None, requested=None):
    """``num_classes`` / ``in_channels`` (images (C, H, W)) / ``in_features`` (rows (F,)) and the
    ``requested`` ones (an auxiliary loss's ``module_params``, e.g. ``aux_head=True``) for the
    parameters the constructor accepts; unknown sizes are left out."""
    accepted = accepted_params(module)
    inferred = {}
    if n_classes is not None and "num_classes" in accepted:
        inferred["num_classes"] = n_classes
    if input_shape is not None and len(input_shape) == 3 and "in_channels" in accepted:
        inferred["in_channels"] = input_shape[0]
    if input_shape is not None and len(input_shape) == 1 and "in_features" in accepted:
        inferred["in_features"] = input_shape[0]
    inferred.update({name: value for name, value in (requested or {}).items() if name in accepted})
    return inferred


def missing_params(module, given):
    """Names of the constructor's required parameters that ``given`` does not supply."""
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [name for name, p in accepted_params(module).items()
            if p.kind in kinds and p.default is inspect.Parameter.empty and name not in given]


def missing_params_error(module, missing, data_seen):
    """The ConfigError naming the ``module__`` parameters to give."""
    name = getattr(module, "__name__", type(module).__name__)
    wanted = ", ".join(f"module__{m}=..." for m in missing)
    reason = ("the data cannot give them" if data_seen and set(missing) <= set(DATA_SIZES)
              else "they have no default")
    return ConfigError(f"{name} needs {', '.join(missing)} to be built and {reason}: give ALNetClassifier(..., {wanted})")
