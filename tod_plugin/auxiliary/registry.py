"""The auxiliary losses by name: what ``ALNetClassifier(auxiliary=...)`` accepts."""
from ..errors import ConfigError
from .base import NoAuxiliary
from .ll4al import LL4ALLoss
from .tod import TODLoss

#: ``auxiliary`` value -> loss class.
AUXILIARY_LOSSES = {loss.name: loss for loss in (NoAuxiliary, TODLoss, LL4ALLoss)}
AUXILIARIES = tuple(AUXILIARY_LOSSES)


def resolve_auxiliary(name):
    """The loss object selected by ``auxiliary=name``; ``ConfigError`` naming the accepted values."""
    if not isinstance(name, str) or name not in AUXILIARY_LOSSES:
        raise ConfigError(f"auxiliary must be one of {', '.join(AUXILIARIES)}, got {name!r}")
    return AUXILIARY_LOSSES[name]()
