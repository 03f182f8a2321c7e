"""Caltech-101 and Caltech-256 from their class folders, resized once at load time.

Layout (torchvision's, under the data folder): ``caltech101/101_ObjectCategories/<class>/*.jpg``
and ``caltech256/256_ObjectCategories/<NNN.class>/*.jpg``.

* Classes: Caltech-101's 101 object classes (``BACKGROUND_Google`` dropped); Caltech-256's 256
  (``257.clutter`` dropped, the same rule; the ``NNN.`` prefix is removed from class names).
  Classes are sorted by folder name, files by name.
* Split: per class, a seeded (seed 0) shuffle puts 10% of the images (rounded half up, at least
  one) in the test set and the rest in the training pool.
* Images: decoded to RGB, resized so the short side is 256 and centre-cropped to 224 x 224 once
  (torchvision's ``Resize(256)`` + ``CenterCrop(224)``), kept as uint8: Caltech-101 takes about
  1.3 GB (8,677 images), Caltech-256 about 4.5 GB (29,780). ``image_size=S`` stores S x S images
  instead (short side ``round(S * 256 / 224)``, then the centre crop): less memory, faster CPU
  runs. Training adds random horizontal flips; normalisation uses the ImageNet statistics (the
  network starts from ImageNet weights).
"""
from dataclasses import dataclass

import numpy as np

from .files import DatasetDamaged, Source, data_root, fetch
from .decode_cache import CACHE_FOLDER, cached_images
from .images import class_folders, crop_transform, list_images, split_per_class
from .spec import ImageDataset

CROP = 224
TEST_PERCENT = 10
SPLIT_SEED = 0
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class CaltechFormat:
    name: str
    source: Source
    drop: str
    torchvision_class: str

    def download(self, root):
        import torchvision.datasets

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


def load(fmt, data_dir=None, download=False, image_size=None, cache_dir=None):
    """The images are decoded once into ``cache_dir`` (default ``<name>/.tod-cache``; see ``decode_cache``)."""
    root = data_root(data_dir)
    if download and fmt.source.missing(root):
        fetch(fmt.name, root, fmt.download)
    fmt.source.require(fmt.name, root)
    paths, labels, names = list_classes(fmt, fmt.source.path(root))
    train_rows, test_rows = split_per_class(labels, TEST_PERCENT, SPLIT_SEED)

    size = image_size or CROP

    folder = fmt.source.path(root)
    cache_dir = folder.parent / CACHE_FOLDER if cache_dir is None else cache_dir

    def read(rows, split):
        return cached_images([paths[i] for i in rows], size, size, crop_transform(size), cache_dir=cache_dir,
                             split=f"{fmt.name}-{split}", root=folder, recipe={"crop": size})

    return ImageDataset(name=fmt.name, X_train=read(train_rows, "train"), y_train=labels[train_rows],
                        X_test=read(test_rows, "test"),
                        y_test=labels[test_rows], class_names=names, mean=IMAGENET_MEAN, std=IMAGENET_STD,
                        crop_padding=0, hflip=True)


def load_caltech101(data_dir=None, download=False, image_size=None, cache_dir=None):
    """Caltech-101: 101 object classes, 224 x 224, seeded 90/10 split per class."""
    return load(CALTECH101, data_dir, download, image_size, cache_dir)


def load_caltech256(data_dir=None, download=False, image_size=None, cache_dir=None):
    """Caltech-256: 256 object classes, 224 x 224, seeded 90/10 split per class."""
    return load(CALTECH256, data_dir, download, image_size, cache_dir)
