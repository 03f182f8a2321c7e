"""Dataset registry: ``load_dataset(name)`` returns an :class:`ImageDataset` of uint8 arrays."""
from ..errors import ConfigError
from . import digits
from .spec import ImageDataset

LOADERS = {"digits": digits.load}


def load_dataset(name, data_dir=None, download=False):
    """Load a registered dataset; nothing touches the network unless ``download=True``."""
    if name not in LOADERS:
        raise ConfigError(f"unknown dataset {name!r}; choose one of {sorted(LOADERS)}")
    return LOADERS[name](data_dir=data_dir, download=download)


__all__ = ["ImageDataset", "LOADERS", "load_dataset"]
