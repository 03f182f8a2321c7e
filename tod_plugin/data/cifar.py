"""CIFAR-10 / CIFAR-100 from the official python pickles, and their imbalanced variants.

Layout (torchvision's, under the data folder): ``cifar-10-batches-py/`` with ``data_batch_1`` ..
``data_batch_5``, ``test_batch``, ``batches.meta``; ``cifar-100-python/`` with ``train``, ``test``,
``meta``. A batch pickle holds ``data``, (n, 3072) uint8 rows that are the R, G, B planes of a
32x32 image (so a row reshapes to (3, 32, 32) without a copy), and ``labels`` / ``fine_labels``.

Memory: a single file (CIFAR-100's) becomes the image array itself, a view on the bytes read from
the file. Several files (CIFAR-10's batches) go into an array preallocated from the file sizes (an
image takes at least 3072 bytes of its file, so the sizes bound the count), one batch at a time,
so the peak is the array plus one batch. The imbalanced variants select their rows batch by batch.

Imbalanced variants (ST-CoNAL, METHODS section 5): ``cifar10im`` keeps the first 50 training images
(in file order) of each even class and the first 5000 of each odd class (a pool of 25,250);
``cifar100im`` keeps 5 / 500. The test sets are unchanged.
"""
from dataclasses import dataclass

import numpy as np

from .files import DatasetDamaged, Source, data_root, fetch, read_pickle, verify_md5
from .spec import ImageDataset

ROW = 3 * 32 * 32
MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2023, 0.1994, 0.2010)


@dataclass(frozen=True)
class CifarFormat:
    name: str
    source: Source
    train_files: tuple
    test_files: tuple
    meta_file: str
    label_key: str
    names_key: str
    official: dict  # file name -> (images in the official file, its md5), as torchvision lists them
    torchvision_class: str

    def download(self, root):
        import torchvision.datasets  # lazy: may not import on a CPU torch
        from torchvision.datasets.utils import download_and_extract_archive  # lazy: may not import on a CPU torch

        cls = getattr(torchvision.datasets, self.torchvision_class)
        download_and_extract_archive(cls.url, str(root), filename=cls.filename, md5=cls.tgz_md5)


CIFAR10 = CifarFormat(
    name="cifar10",
    source=Source("cifar-10-batches-py", tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch", "batches.meta"),
                  "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"),
    train_files=tuple(f"data_batch_{i}" for i in range(1, 6)),
    test_files=("test_batch",),
    meta_file="batches.meta",
    label_key="labels",
    names_key="label_names",
    official={
        "data_batch_1": (10000, "c99cafc152244af753f735de768cd75f"),
        "data_batch_2": (10000, "d4bba439e000b95fd0a9bffe97cbabec"),
        "data_batch_3": (10000, "54ebc095f3ab1f0389bbae665268c751"),
        "data_batch_4": (10000, "634d18415352ddfa80567beed471001a"),
        "data_batch_5": (10000, "482c414d41f54cd18b22e5b47cb7c3cb"),
        "test_batch": (10000, "40351d587109b95175f43aff81a1287e"),
    },
    torchvision_class="CIFAR10",
)

CIFAR100 = CifarFormat(
    name="cifar100",
    source=Source("cifar-100-python", ("train", "test", "meta"),
                  "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"),
    train_files=("train",),
    test_files=("test",),
    meta_file="meta",
    label_key="fine_labels",
    names_key="fine_label_names",
    official={"train": (50000, "16019d7e3df5f24257cddd939b257f8d"),
              "test": (10000, "f0ef6b0ae62326f3e7ffdfab6717acfc")},
    torchvision_class="CIFAR100",
)


def _text(value):
    return value.decode("latin1") if isinstance(value, bytes) else value


def _as_dict(obj, path, keys):
    """A batch/meta pickle as a dict with str keys (files written with bytes keys work too)."""
    if not isinstance(obj, dict):
        raise DatasetDamaged(f"{path} is not a CIFAR pickle: it holds a {type(obj).__name__}, not a dict")
    obj = {_text(k): v for k, v in obj.items()}
    absent = [k for k in keys if k not in obj]
    if absent:
        raise DatasetDamaged(f"{path} is not a CIFAR pickle: no {', '.join(absent)} entry")
    return obj


def read_class_names(fmt, folder):
    path = folder / fmt.meta_file
    names = _as_dict(read_pickle(path), path, [fmt.names_key])[fmt.names_key]
    if not isinstance(names, (list, tuple)) or not names:
        raise DatasetDamaged(f"{path}: {fmt.names_key} is not a list of class names")
    return [_text(n) for n in names]


def read_batch(fmt, path, n_classes):
    """``(data (n, 3072) uint8, labels (n,) int64)`` of one batch file, checked (md5 when full size)."""
    batch = _as_dict(read_pickle(path), path, ["data", fmt.label_key])
    data, labels = batch["data"], np.asarray(batch[fmt.label_key])
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2 and data.shape[1] == ROW):
        shape = getattr(data, "shape", None)
        raise DatasetDamaged(f"{path}: data must be a uint8 array of shape (n, {ROW}), got {type(data).__name__} "
                             f"{shape}")
    if labels.shape != (len(data),) or not np.issubdtype(labels.dtype, np.integer) or (
            len(labels) and (labels.min() < 0 or labels.max() >= n_classes)):
        raise DatasetDamaged(f"{path}: {fmt.label_key} must be {len(data)} ints in [0, {n_classes})")
    official = fmt.official.get(path.name)
    if official and len(data) == official[0]:
        verify_md5(path, official[1])
    return data, labels.astype(np.int64)


class FirstPerClass:
    """Row filter over batches read in file order: the first ``limits[c]`` rows of each class c."""

    def __init__(self, limits):
        self.left = np.array(limits, dtype=np.int64)

    @property
    def capacity(self):
        return int(self.left.sum())

    def __call__(self, labels):
        keep = np.zeros(len(labels), dtype=bool)
        for label in np.unique(labels):
            rows = np.flatnonzero(labels == label)[:self.left[label]]
            keep[rows] = True
            self.left[label] -= len(rows)
        return keep


def read_batches(fmt, folder, files, n_classes, keep=None):
    """Images (n, 3, 32, 32) and labels (n,) of ``files``, one batch in memory at a time; with
    ``keep`` (a :class:`FirstPerClass`) only the rows it keeps, selected batch by batch."""
    paths = [folder / name for name in files]
    if len(paths) == 1 and keep is None:
        data, labels = read_batch(fmt, paths[0], n_classes)
        return data.reshape(len(data), 3, 32, 32), labels
    capacity = sum(p.stat().st_size // ROW for p in paths)
    if keep is not None:
        capacity = min(capacity, keep.capacity)
    X = np.empty((capacity, ROW), dtype=np.uint8)
    y = np.empty(capacity, dtype=np.int64)
    n = 0
    for path in paths:
        data, labels = read_batch(fmt, path, n_classes)
        if keep is not None:
            rows = keep(labels)
            data, labels = data[rows], labels[rows]
        if len(data) > capacity - n:
            raise DatasetDamaged(f"{path} holds more images than its size allows; the file is damaged")
        X[n:n + len(data)] = data
        y[n:n + len(data)] = labels
        n += len(data)
        del data, labels
    return X[:n].reshape(n, 3, 32, 32), y[:n].copy()


def load(fmt, data_dir=None, download=False, train_per_class=None):
    """Read ``fmt`` (CIFAR10 or CIFAR100) from the data folder; ``download`` fetches it first if missing.
    ``train_per_class(label)``: how many training images of each class to keep (the first ones)."""
    root = data_root(data_dir)
    if download and fmt.source.missing(root):
        fetch(fmt.name, root, fmt.download)
    fmt.source.require(fmt.name, root)
    folder = fmt.source.path(root)
    names = read_class_names(fmt, folder)
    keep = None if train_per_class is None else FirstPerClass([train_per_class(c) for c in range(len(names))])
    X_train, y_train = read_batches(fmt, folder, fmt.train_files, len(names), keep)
    X_test, y_test = read_batches(fmt, folder, fmt.test_files, len(names))
    return ImageDataset(name=fmt.name, X_train=X_train, y_train=y_train, X_test=X_test, y_test=y_test,
                        class_names=names, mean=MEAN, std=STD, crop_padding=4, hflip=True)


def imbalanced(fmt, name, keep_even, keep_odd, data_dir, download):
    """``fmt`` keeping the first ``keep_even`` training images of each even class and ``keep_odd`` of each odd one."""
    dataset = load(fmt, data_dir, download, train_per_class=lambda label: keep_odd if label % 2 else keep_even)
    dataset.name = name
    return dataset


def load_cifar10(data_dir=None, download=False):
    """CIFAR-10: 50,000 + 10,000 images 32x32, 10 classes."""
    return load(CIFAR10, data_dir, download)


def load_cifar100(data_dir=None, download=False):
    """CIFAR-100: 50,000 + 10,000 images 32x32, 100 (fine) classes."""
    return load(CIFAR100, data_dir, download)


def load_cifar10im(data_dir=None, download=False):
    """Imbalanced CIFAR-10: even classes 50 training images, odd classes 5000 (pool 25,250)."""
    return imbalanced(CIFAR10, "cifar10im", 50, 5000, data_dir, download)


def load_cifar100im(data_dir=None, download=False):
    """Imbalanced CIFAR-100: even classes 5 training images, odd classes 500 (pool 25,250)."""
    return imbalanced(CIFAR100, "cifar100im", 5, 500, data_dir, download)
