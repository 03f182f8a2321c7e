"""Dataset files written in their real on-disk formats for the tests (and ``benchmarks/load_datasets.py``):
CIFAR's Python 2 protocol-2 pickles, image folders of PNGs."""
import pickle
import struct

import numpy as np
from PIL import Image


def images_with_ids(start, count):
    """Rows whose first two bytes encode their global index (so tests can tell which image is which)."""
    rng = np.random.RandomState(start)
    data = rng.randint(0, 256, size=(count, 3072)).astype(np.uint8)
    ids = np.arange(start, start + count)
    data[:, 0], data[:, 1] = ids % 256, ids // 256
    return data


def image_ids(X):
    flat = X.reshape(len(X), -1)
    return flat[:, 0].astype(int) + 256 * flat[:, 1].astype(int)


class Py2Pickler(pickle._Pickler):
    """Writes bytes with Python 2's str opcodes, as the official files (cPickle, protocol 2) hold them."""

    dispatch = dict(pickle._Pickler.dispatch)

    def save_py2_str(self, obj):
        header = pickle.SHORT_BINSTRING + bytes([len(obj)]) if len(obj) < 256 else (
            pickle.BINSTRING + struct.pack("<i", len(obj)))
        self.write(header)
        self.write(obj)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str


def write_pickle(path, obj, protocol=2):
    """Protocol 2 writes the official files' Python 2 form; higher protocols Python 3's."""
    with open(path, "wb") as f:
        (Py2Pickler(f, protocol=2) if protocol == 2 else pickle.Pickler(f, protocol=protocol)).dump(obj)


def write_cifar10(root, train_labels, test_labels, batches=5):
    """``root/cifar-10-batches-py`` with the official file names and keys; labels given in file order."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    write_pickle(folder / "batches.meta", {"label_names": [f"class{i}" for i in range(10)], "num_cases_per_batch": 0})
    parts = np.array_split(np.arange(len(train_labels)), batches)
    for number, rows in enumerate(parts, 1):
        write_pickle(folder / f"data_batch_{number}", {"batch_label": f"training batch {number} of 5",
                                                       "labels": [int(train_labels[i]) for i in rows],
                                                       "data": images_with_ids(int(rows[0]), len(rows)),
                                                       "filenames": [f"{i}.png" for i in rows]})
    # bytes keys, as files re-saved from pickle.load(..., encoding="bytes") have
    write_pickle(folder / "test_batch", {b"labels": list(map(int, test_labels)),
                                         b"data": images_with_ids(50000, len(test_labels))}, protocol=4)
    return folder


def write_cifar100(root, train_labels, test_labels):
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    write_pickle(folder / "meta", {"fine_label_names": [f"fine{i}" for i in range(100)],
                                   "coarse_label_names": [f"coarse{i}" for i in range(20)]})
    for name, labels, start in (("train", train_labels, 0), ("test", test_labels, 50000)):
        write_pickle(folder / name, {"fine_labels": list(map(int, labels)), "coarse_labels": [0] * len(labels),
                                     "data": images_with_ids(start, len(labels))})
    return folder


def write_image_folder(root, classes=("cat", "dog"), train=5, test=2, sizes=((32, 32),)):
    """PNG images; the i-th image of a split has size sizes[i % len(sizes)] and a constant colour."""
    for split, count in (("train", train), ("test", test)):
        for c, name in enumerate(classes):
            (root / split / name).mkdir(parents=True)
            for i in range(count):
                width, height = sizes[i % len(sizes)]
                colour = (40 * c + i, 100, 200 - i)
                Image.new("RGB", (width, height), colour).save(root / split / name / f"{i}.png")
    (root / "train" / "cat" / "notes.txt").write_text("not an image: ignored")
    return root
