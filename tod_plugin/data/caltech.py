"""Caltech-101 and Caltech-256 from their class folders, resized once at load time.

Layout (torchvision's, under the data folder): ``caltech101/101_ObjectCategories/<class>/*.jpg``
and ``caltech256/256_ObjectCategories/<NNN.class>/*.jpg``.

* Classes: Caltech-101's 101 object classes (``BACKGROUND_Google`` dropped); Caltech-256's 256
  (``257.clutter`` dropped, the same rule; the ``NNN.`` prefix is removed from class names).
  Classes are sorted by folder name, files by name.
* Caltech-101 as the TOD reference code (``main_TOD.py``) prepares it: per class, a seeded (seed 0)
  shuffle puts ``int(0.9 n)`` of its n images in the training pool and the other ``n - int(0.9 n)``
  in the test set; images are decoded to RGB, resized to 256 x 256 WITHOUT keeping the aspect ratio
  (``Resize((256, 256))``) and centre-cropped to 224 x 224, kept as uint8 (about 1.3 GB); the
  normalisation is the reference's own, mean 0.502 and std 1.0 per channel. ``keep_aspect=True``
  (the dataset ``caltech101-keep-aspect``) resizes the short side to 256 instead
  (``Resize(256)`` + ``CenterCrop(224)``), everything else the same.
* Caltech-256 (no reference protocol in these papers): 10% of each class (rounded half up, at
  least one) held out, the short side resized to 256, centre crop 224 (about 4.5 GB), ImageNet
  statistics.
* ``image_size=S`` stores S x S images instead (resized to ``round(S * 256 / 224)``, then the
  centre crop): less memory, faster CPU runs. Training adds random horizontal flips.
"""
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .files import DatasetDamaged, Source, data_root, fetch
from .decode_cache import CACHE_FOLDER, cached_images
from .images import class_folders, crop_transform, list_images, split_per_class
from .spec import ImageDataset

CROP = 224
TEST_PERCENT = 10
SPLIT_SEED = 0
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
REFERENCE_TRAIN_SHARE = 0.9  # the TOD reference: int(0.9 n) images of a class train, the rest test
REFERENCE_MEAN = (0.5020, 0.5020, 0.5020)  # the TOD reference's Caltech-101 normalisation
REFERENCE_STD = (1.0, 1.0, 1.0)


@dataclass(frozen=True)
class CaltechFormat:
    name: str
    source: Source
    drop: str
    torchvision_class: str

    def download(self, root):
        import torchvision.datasets  # lazy: may not import on a CPU torch

        getattr(torchvision.datasets, self.torchvision_class)(str(root), download=True)

    def class_name(self, folder_name):
        return folder_name.split(".", 1)[1] if self.name == "caltech256" and "." in folder_name else folder_name


CALTECH101 = CaltechFormat("caltech101", Source("caltech101/101_ObjectCategories", (),
                                                "https://data.caltech.edu/records/mzrjq-6wc02"),
                           drop="BACKGROUND_Google", torchvision_class="Caltech101")
CALTECH256 = CaltechFormat("caltech256", Source("caltech256/256_ObjectCategories", (),
                                                "https://data.caltech.edu/records/nyy15-4j048"),
                           drop="257.clutter", torchvision_class="Caltech256")


def list_classes(fmt, folder):
    """``(paths, labels, class names)`` of every image in the class folders."""
    paths, labels, names = [], [], []
    for label, class_folder in enumerate(class_folders(folder, drop=(fmt.drop,))):
        files = list_images(class_folder)
        if len(files) < 2:
            raise DatasetDamaged(f"{class_folder} holds {len(files)} image(s); a class needs at least 2 "
                                 f"(one for training, one for testing)")
        paths += files
        labels += [label] * len(files)
        names.append(fmt.class_name(class_folder.name))
    if not names:
        raise DatasetDamaged(f"{folder} has no class folders")
    return paths, np.asarray(labels, dtype=np.int64), names


def stretch_center_crop(crop):
    """torchvision's ``Resize((R, R))`` (aspect ratio not kept, bilinear, antialiased as PIL does) then
    ``CenterCrop(crop)``, R = ``round(crop * 256 / 224)`` (256 for 224); PIL image -> PIL image."""

    resize = int(round(crop * 256 / 224))
    offset = int(round((resize - crop) / 2.0))

    def transform(image):
        if image.size != (resize, resize):
            image = image.resize((resize, resize), Image.Resampling.BILINEAR)
        return image.crop((offset, offset, offset + crop, offset + crop))

    return transform


def reference_split(labels, seed=SPLIT_SEED):
    """The TOD reference's per-class split: a seeded shuffle of each class, its first ``int(0.9 n)``
    images train, the other ``n - int(0.9 n)`` test. Returns sorted ``(train_rows, test_rows)``."""
    rng = np.random.RandomState(seed)
    test = np.zeros(len(labels), dtype=bool)
    for label in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == label))
        test[rows[int(len(rows) * REFERENCE_TRAIN_SHARE):]] = True
    return np.flatnonzero(~test), np.flatnonzero(test)


def load(fmt, data_dir=None, download=False, image_size=None, reference=False, keep_aspect=True, name=None,
         cache_dir=None):
    """``reference``: the TOD reference's split and normalisation; ``keep_aspect``: short-side resize
    (else the reference's 256 x 256 stretch). The images are decoded once into ``cache_dir``
    (default ``<name>/.tod-cache``; see ``decode_cache``)."""
    root = data_root(data_dir)
    if download and fmt.source.missing(root):
        fetch(fmt.name, root, fmt.download)
    fmt.source.require(fmt.name, root)
    paths, labels, names = list_classes(fmt, fmt.source.path(root))
    if reference:
        train_rows, test_rows = reference_split(labels)
    else:
        train_rows, test_rows = split_per_class(labels, TEST_PERCENT, SPLIT_SEED)
    mean, std = (REFERENCE_MEAN, REFERENCE_STD) if reference else (IMAGENET_MEAN, IMAGENET_STD)

    size = image_size or CROP
    transform = crop_transform(size) if keep_aspect else stretch_center_crop(size)

    folder = fmt.source.path(root)
    cache_dir = folder.parent / CACHE_FOLDER if cache_dir is None else cache_dir
    name = name or fmt.name

    def read(rows, split):
        return cached_images([paths[i] for i in rows], size, size, transform, cache_dir=cache_dir,
                             split=f"{name}-{split}", root=folder, recipe={"crop": size, "keep_aspect": keep_aspect})

    return ImageDataset(name=name, X_train=read(train_rows, "train"), y_train=labels[train_rows],
                        X_test=read(test_rows, "test"), y_test=labels[test_rows], class_names=names, mean=mean,
                        std=std, crop_padding=0, hflip=True)


def load_caltech101(data_dir=None, download=False, image_size=None, keep_aspect=False, cache_dir=None):
    """Caltech-101 as the TOD reference: 101 classes, int(0.9 n) / rest split per class, 256 x 256
    stretch + centre crop 224 (``keep_aspect``: short side 256 instead), mean 0.502 / std 1.0."""
    name = "caltech101-keep-aspect" if keep_aspect else "caltech101"
    return load(CALTECH101, data_dir, download, image_size, reference=True, keep_aspect=keep_aspect, name=name,
                cache_dir=cache_dir)


def load_caltech101_keep_aspect(data_dir=None, download=False, image_size=None, cache_dir=None):
    """Caltech-101 as :func:`load_caltech101`, resized on the short side (aspect ratio kept)."""
    return load_caltech101(data_dir, download, image_size, keep_aspect=True, cache_dir=cache_dir)


def load_caltech256(data_dir=None, download=False, image_size=None, cache_dir=None):
    """Caltech-256: 256 object classes, 224 x 224 (short side 256, centre crop), seeded 90/10 split per class."""
    return load(CALTECH256, data_dir, download, image_size, cache_dir=cache_dir)
