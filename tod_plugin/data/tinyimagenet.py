"""Tiny-ImageNet-200 from the folder layout of the official zip, under ``tiny-imagenet-200/``.

``wnids.txt`` (the 200 class ids), ``words.txt`` (optional: id -> names), ``train/<wnid>/images/*.JPEG``
(500 per class) and ``val/images/*.JPEG`` labelled by ``val/val_annotations.txt``
(``file<TAB>wnid<TAB>box...``). The official test images carry no labels, so the validation set
(10,000 images) is the test set. Images are 64 x 64 (grey ones converted to RGB), kept as they
are: 1.2 GB of uint8 for the training pool. Classes are the sorted wnids (torchvision
``ImageFolder``'s order); class names are the first name ``words.txt`` gives, else the wnid.
Augmentation: random crop with 4-px zero padding and horizontal flips; normalisation with the
dataset's usual statistics.
"""
import numpy as np

from .files import DatasetDamaged, Source, data_root, describe, fetch
from .decode_cache import CACHE_FOLDER, cached_images
from .images import list_images
from .spec import ImageDataset

SOURCE = Source("tiny-imagenet-200", ("wnids.txt", "train", "val/images", "val/val_annotations.txt"),
                "http://cs231n.stanford.edu/tiny-imagenet-200.zip")
ARCHIVE_MD5 = "90528d7ca1a48142e341f4ef8d21d0de"
SIZE = 64
MEAN = (0.4802, 0.4481, 0.3975)
STD = (0.2302, 0.2265, 0.2262)


def download_files(root):
    from torchvision.datasets.utils import download_and_extract_archive  # lazy: may not import on a CPU torch

    download_and_extract_archive(SOURCE.url, str(root), md5=ARCHIVE_MD5)


def _lines(path):
    try:
        return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetDamaged(f"{path} cannot be read ({describe(exc)})") from exc


def class_names(folder, wnids):
    words = folder / "words.txt"
    names = {}
    if words.exists():
        for line in _lines(words):
            wnid, _, text = line.partition("\t")
            names[wnid] = text.split(",")[0].strip() or wnid
    return [names.get(w, w) for w in wnids]


def list_split(folder, wnids):
    """``(train paths, train labels, val paths, val labels)``."""
    index = {w: i for i, w in enumerate(wnids)}
    train_paths, train_labels = [], []
    for wnid in wnids:
        images = folder / "train" / wnid / "images"
        files = list_images(images) if images.is_dir() else []
        if not files:
            raise DatasetDamaged(f"{images} holds no images for class {wnid}")
        train_paths += files
        train_labels += [index[wnid]] * len(files)
    annotations = folder / "val" / "val_annotations.txt"
    val_paths, val_labels = [], []
    for number, line in enumerate(_lines(annotations), 1):
        fields = line.split("\t")
        if len(fields) < 2 or fields[1] not in index:
            raise DatasetDamaged(f"{annotations} line {number}: expected 'file<TAB>wnid...' with a wnid of "
                                 f"wnids.txt, got {line[:60]!r}")
        val_paths.append(folder / "val" / "images" / fields[0])
        val_labels.append(index[fields[1]])
    return train_paths, np.asarray(train_labels, np.int64), val_paths, np.asarray(val_labels, np.int64)


def load(data_dir=None, download=False, cache_dir=None):
    """Tiny-ImageNet: 100,000 training and 10,000 validation (= test) images 64 x 64, 200 classes,
    decoded once into ``cache_dir`` (default ``tiny-imagenet-200/.tod-cache``; see ``decode_cache``)."""
    root = data_root(data_dir)
    if download and SOURCE.missing(root):
        fetch("tinyimagenet", root, download_files)
    SOURCE.require("tinyimagenet", root)
    folder = SOURCE.path(root)
    wnids = sorted({line.strip() for line in _lines(folder / "wnids.txt")})
    train_paths, y_train, val_paths, y_test = list_split(folder, wnids)
    cache_dir = folder / CACHE_FOLDER if cache_dir is None else cache_dir

    def read(paths, split):
        return cached_images(paths, SIZE, SIZE, None, cache_dir=cache_dir, split=split, root=folder, recipe=None)

    return ImageDataset(name="tinyimagenet", X_train=read(train_paths, "train"), y_train=y_train,
                        X_test=read(val_paths, "test"), y_test=y_test,
                        class_names=class_names(folder, wnids), mean=MEAN, std=STD, crop_padding=4, hflip=True)
