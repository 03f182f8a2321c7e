"""SVHN (cropped digits) from the official MATLAB files ``svhn/train_32x32.mat`` and ``svhn/test_32x32.mat``.

Each file holds ``X``, (32, 32, 3, n) uint8 (height, width, channel, image), and ``y``, (n, 1)
labels 1..10 where 10 stands for the digit 0 (mapped to 0, as torchvision does). The ``extra``
split is not used by the papers. Read with ``scipy.io.loadmat``; full-size files (73,257 training
and 26,032 test images) must have the official md5.
"""
import numpy as np
from scipy.io import loadmat

from .files import DatasetDamaged, Source, data_root, describe, fetch, verify_md5
from .spec import ImageDataset

SOURCE = Source("svhn", ("train_32x32.mat", "test_32x32.mat"), "http://ufldl.stanford.edu/housenumbers/")
OFFICIAL = {  # as torchvision.datasets.SVHN lists them
    "train_32x32.mat": (73257, "e26dedcc434d2e4c54c9b2d4a06d8373"),
    "test_32x32.mat": (26032, "eb5a983be6a315427106f1b164d9cef3"),
}
MEAN = (0.4310, 0.4302, 0.4463)
STD = (0.1965, 0.1984, 0.1992)


def download_files(root):
    from torchvision.datasets import SVHN  # lazy: may not import on a CPU torch
    from torchvision.datasets.utils import download_url  # lazy: may not import on a CPU torch

    for url, filename, md5 in (SVHN.split_list["train"], SVHN.split_list["test"]):
        if not (SOURCE.path(root) / filename).exists():
            download_url(url, str(SOURCE.path(root)), filename=filename, md5=md5)


def read_split(path):
    """``(X (n, 3, 32, 32) uint8, y (n,) int64 in 0..9)`` from one ``*_32x32.mat`` file."""

    try:
        mat = loadmat(path, variable_names=("X", "y"))
    except Exception as exc:  # truncated or foreign files
        raise DatasetDamaged(f"{path} cannot be read ({describe(exc)}); delete it and fetch it again "
                             f"(--download)") from exc
    X, y = mat.get("X"), mat.get("y")
    if not (isinstance(X, np.ndarray) and X.dtype == np.uint8 and X.ndim == 4 and X.shape[:3] == (32, 32, 3)):
        raise DatasetDamaged(f"{path}: X must be a uint8 array of shape (32, 32, 3, n), got {getattr(X, 'shape', X)}")
    n = X.shape[3]
    if y is None or y.size != n or not np.issubdtype(y.dtype, np.number) or (n and (y.min() < 1 or y.max() > 10)):
        raise DatasetDamaged(f"{path}: y must hold {n} labels in 1..10")
    official = OFFICIAL.get(path.name)
    if official and n == official[0]:
        verify_md5(path, official[1])
    labels = y.reshape(n).astype(np.int64) % 10
    images = np.ascontiguousarray(X.transpose(3, 2, 0, 1))
    return images, labels


def load(data_dir=None, download=False):
    """SVHN: 73,257 training and 26,032 test images 32x32, digits 0..9."""
    root = data_root(data_dir)
    if download and SOURCE.missing(root):
        fetch("svhn", root, download_files)
    SOURCE.require("svhn", root)
    X_train, y_train = read_split(SOURCE.path(root) / "train_32x32.mat")
    X_test, y_test = read_split(SOURCE.path(root) / "test_32x32.mat")
    return ImageDataset(name="svhn", X_train=X_train, y_train=y_train, X_test=X_test, y_test=y_test,
                        class_names=[str(d) for d in range(10)], mean=MEAN, std=STD, crop_padding=4, hflip=True)
