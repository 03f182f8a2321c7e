"""Dataset registry: ``load_dataset(name)`` returns an :class:`ImageDataset` of uint8 arrays.

Files are looked for under the data folder: ``data_dir``, else ``$TOD_DATA_DIR``, else ``./data``
(see :mod:`tod_plugin.data.files`); ``imagefolder:PATH`` reads ``PATH/train/<class>/*`` and
``PATH/test/<class>/*``. Nothing touches the network unless ``download=True``.
"""

from ..errors import ConfigError
from ..validation import check_number
from . import caltech, cifar, digits, imagefolder, svhn, tinyimagenet
from .files import DATA_DIR_ENV, DatasetDamaged, DatasetNotFound, data_root
from .spec import ImageDataset

LOADERS = {
    "digits": digits.load,
    "cifar10": cifar.load_cifar10,
    "cifar100": cifar.load_cifar100,
    "cifar10im": cifar.load_cifar10im,
    "cifar100im": cifar.load_cifar100im,
    "svhn": svhn.load,
    "caltech101": caltech.load_caltech101,
    "caltech101-keep-aspect": caltech.load_caltech101_keep_aspect,
    "caltech256": caltech.load_caltech256,
    "tinyimagenet": tinyimagenet.load,
}

#: Where each dataset's files are looked for under the data folder (None: embedded, no files).
SOURCES = {
    "digits": None,
    "cifar10": cifar.CIFAR10.source,
    "cifar100": cifar.CIFAR100.source,
    "cifar10im": cifar.CIFAR10.source,
    "cifar100im": cifar.CIFAR100.source,
    "svhn": svhn.SOURCE,
    "caltech101": caltech.CALTECH101.source,
    "caltech101-keep-aspect": caltech.CALTECH101.source,
    "caltech256": caltech.CALTECH256.source,
    "tinyimagenet": tinyimagenet.SOURCE,
}


def check_dataset_name(name):
    """Raise :class:`ConfigError` unless ``name`` is a registered dataset or ``imagefolder:PATH``."""
    if isinstance(name, str) and name.startswith(imagefolder.PREFIX):
        imagefolder.folder_of(name)
    elif name not in LOADERS:
        raise ConfigError(f"unknown dataset {name!r}; choose one of {sorted(LOADERS)} or imagefolder:PATH")


#: Datasets decoded from image files, cached as memory-mapped arrays (``cache_dir``).
DECODED = ("caltech101", "caltech101-keep-aspect", "caltech256", "tinyimagenet", "imagefolder:PATH")

#: Datasets resized at load time, which take ``image_size`` (the side of the stored images).
RESIZED = ("caltech101", "caltech101-keep-aspect", "caltech256", "imagefolder:PATH")


def load_dataset(name, data_dir=None, download=False, image_size=None, cache_dir=None):
    """Load a dataset by name; ``data_dir`` is the data folder (default ``$TOD_DATA_DIR``, else ``./data``);
    ``image_size`` sets the side of the stored images of the datasets in :data:`RESIZED` (default 224).
    The datasets of :data:`DECODED` are decoded once into a memory-mapped uint8 cache in ``cache_dir``
    (default: a ``.tod-cache`` folder next to their files; see :mod:`tod_plugin.data.decode_cache`).

    A missing dataset raises :class:`DatasetNotFound`, a damaged one :class:`DatasetDamaged` (both
    :class:`ConfigError`, one line saying which files, where, and how to get them).
    """
    check_dataset_name(name)
    options = {}
    if image_size is not None:
        image_size = check_number(image_size, "image_size", integral=True, low=0, low_open=True)
        if name not in RESIZED and not name.startswith(imagefolder.PREFIX):
            raise ConfigError(f"image_size: {name} images keep their size; it applies to {', '.join(RESIZED)}")
        options["image_size"] = int(image_size)
    if cache_dir is not None:
        options["cache_dir"] = cache_dir
        if name not in DECODED and not name.startswith(imagefolder.PREFIX):
            del options["cache_dir"]  # stored as arrays: nothing is decoded, nothing cached
    if name.startswith(imagefolder.PREFIX):
        return imagefolder.load(name, **options)
    return LOADERS[name](data_dir=data_dir, download=download, **options)


__all__ = ["DATA_DIR_ENV", "DECODED", "DatasetDamaged", "DatasetNotFound", "ImageDataset", "LOADERS", "RESIZED",
           "SOURCES", "check_dataset_name", "data_root", "load_dataset"]
