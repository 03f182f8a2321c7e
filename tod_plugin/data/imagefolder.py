"""Any labeled image collection laid out as ``PATH/train/<class>/*`` and ``PATH/test/<class>/*``.

Used as the dataset name ``imagefolder:PATH`` (PATH relative to the working directory, not the
data folder). Classes are the sorted sub-folders of ``train/``; ``test/`` may hold a subset of
them. Images are decoded to RGB once:

* if every image has the same size, it is kept (e.g. 32 x 32 exports of a CIFAR-like set);
* otherwise each is resized so its short side is 256 and centre-cropped to 224 x 224 (the
  ImageNet / Caltech protocol);
* ``image_size=S`` always resizes, to S x S (short side ``round(S * 256 / 224)``, centre crop).

Normalisation uses the per-channel mean and standard deviation of the training images.
Augmentation: images up to 64 px get a random crop with 4-px zero padding (the CIFAR recipe),
larger ones none; all get random horizontal flips.
"""
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from .files import DatasetNotFound
from .decode_cache import CACHE_FOLDER, cached_images
from .images import channel_stats, class_folders, crop_transform, header_size, list_images
from .spec import ImageDataset

PREFIX = "imagefolder:"
CROP = 224
SMALL = 64


def folder_of(name):
    """PATH from ``"imagefolder:PATH"``."""
    path = name[len(PREFIX):]
    if not name.startswith(PREFIX) or not path:
        raise ConfigError(f"an image folder dataset is named 'imagefolder:PATH', got {name!r}")
    return Path(path).expanduser()


def list_split(folder, classes):
    """``(paths, labels)`` of ``folder/<class>/*`` for the class folders found there."""
    index = {c: i for i, c in enumerate(classes)}
    paths, labels = [], []
    for class_folder in class_folders(folder):
        if class_folder.name not in index:
            raise ConfigError(f"{class_folder}: class {class_folder.name!r} has no folder in the training split; "
                              f"classes are {classes}")
        files = list_images(class_folder)
        paths += files
        labels += [index[class_folder.name]] * len(files)
    return paths, np.asarray(labels, dtype=np.int64)


def load(name, image_size=None, cache_dir=None):
    """Load ``imagefolder:PATH`` (there is nothing to download: the data folder does not apply); the
    images are decoded once into ``cache_dir`` (default ``PATH/.tod-cache``; see ``decode_cache``)."""
    folder = folder_of(name)
    train_dir, test_dir = folder / "train", folder / "test"
    if not (train_dir.is_dir() and test_dir.is_dir()):
        raise DatasetNotFound(f"dataset {name!r} not found: expected the folders {train_dir}/<class>/*.jpg and "
                              f"{test_dir}/<class>/*.jpg (one sub-folder of images per class)")
    classes = [p.name for p in class_folders(train_dir)]
    train_paths, y_train = list_split(train_dir, classes)
    test_paths, y_test = list_split(test_dir, classes)
    if not train_paths or not test_paths:
        raise DatasetNotFound(f"dataset {name!r}: no images in {train_dir if not train_paths else test_dir}/<class>/")
    sizes = {header_size(p) for p in train_paths + test_paths} if image_size is None else ()
    if len(sizes) == 1:
        (width, height), transform = sizes.pop(), None
    else:
        width = height = image_size or CROP
        transform = crop_transform(width)
    cache_dir = folder / CACHE_FOLDER if cache_dir is None else cache_dir
    recipe = {"crop": width if transform is not None else None}
    X_train, X_test = (cached_images(paths, height, width, transform, cache_dir=cache_dir, split=split, root=folder,
                                     recipe=recipe) for paths, split in ((train_paths, "train"), (test_paths, "test")))
    mean, std = channel_stats(X_train)
    return ImageDataset(name=name, X_train=X_train, y_train=y_train, X_test=X_test, y_test=y_test,
                        class_names=classes, mean=mean, std=std,
                        crop_padding=4 if max(width, height) <= SMALL else 0, hflip=True)
