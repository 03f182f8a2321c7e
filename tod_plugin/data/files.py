"""Where datasets live on disk, what a missing or damaged one says, checksums, safe pickles, downloads.

The data folder is ``--data-dir`` (``data_dir=``), else ``$TOD_DATA_DIR``, else ``./data``. Each
dataset has a :class:`Source`: its folder under the data folder (torchvision's layout, so a folder
torchvision filled works as is), the files that must be there, and where to get them. Nothing
touches the network unless ``download=True``; then torchvision's downloaders fetch the official
archives (they verify the archive checksums) into the data folder.

Real files are verified: a file that holds the official number of images must have the official
md5; smaller files (test fixtures, custom subsets) are only checked for structure. Any file that
cannot be read raises :class:`DatasetDamaged`, one line, before any training starts.
"""
import codecs
import hashlib
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

try:
    from numpy._core import multiarray, numeric
except ImportError:  # numpy < 2
    from numpy.core import multiarray, numeric

from ..errors import ConfigError

DATA_DIR_ENV = "TOD_DATA_DIR"
DEFAULT_DATA_DIR = "data"


class DatasetNotFound(ConfigError):
    """A dataset's files are not where they are looked for; the message says which, where and how to get them."""


class DatasetDamaged(ConfigError):
    """A dataset file exists but cannot be read, has the wrong structure or the wrong checksum."""


def data_root(data_dir=None):
    """The data folder: ``data_dir``, else ``$TOD_DATA_DIR``, else ``./data`` (absolute)."""
    chosen = data_dir or os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR
    return Path(chosen).expanduser().absolute()


@dataclass(frozen=True)
class Source:
    """A dataset's place under the data folder: ``folder`` must hold ``files`` (or, with no files, exist)."""

    folder: str
    files: tuple
    url: str

    def path(self, root):
        return Path(root) / self.folder

    def missing(self, root):
        """Required paths that do not exist (the folder itself when no files are listed)."""
        folder = self.path(root)
        if not folder.is_dir() or not (self.files or any(folder.iterdir())):
            return [folder.name + "/"]
        return [name for name in self.files if not (folder / name).exists()]

    def not_found(self, name, root, missing):
        expected = ", ".join(self.files) if self.files else "one folder of images per class"
        return DatasetNotFound(
            f"dataset {name!r} not found: expected {expected} in {self.path(root)} (missing: {', '.join(missing)}); "
            f"pass --download to fetch it with torchvision, or get {self.url} and extract it into {Path(root)}"
        )

    def require(self, name, root):
        """Raise :class:`DatasetNotFound` unless every required path exists."""
        missing = self.missing(root)
        if missing:
            raise self.not_found(name, root, missing)


def describe(exc, limit=200):
    """``"Type: message"`` of an exception on one line (whitespace collapsed, at most ``limit`` chars)."""
    text = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
    return text if len(text) <= limit else text[:limit - 3] + "..."


def md5sum(path, chunk_size=1 << 22):
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_md5(path, expected):
    """Raise :class:`DatasetDamaged` when ``path``'s md5 is not ``expected``."""
    actual = md5sum(path)
    if actual != expected:
        raise DatasetDamaged(
            f"{path} has the official number of images but md5 {actual}, not the official {expected}: the file "
            f"is damaged; delete it and fetch it again (--download)"
        )


def fetch(name, root, download):
    """Run ``download(root)`` (a torchvision downloader), turning any failure into one-line error."""
    Path(root).mkdir(parents=True, exist_ok=True)
    try:
        download(Path(root))
    except Exception as exc:  # network, disk, checksum or archive errors: all mean "no dataset"
        raise ConfigError(f"download of {name!r} into {root} failed: {describe(exc)}") from exc


def _array_globals():
    """The only globals a dataset pickle may name: numpy's array reconstruction (numpy 1 and 2 paths)."""
    allowed = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype, ("_codecs", "encode"): codecs.encode}
    for package in ("numpy.core", "numpy._core"):
        allowed[(f"{package}.multiarray", "_reconstruct")] = multiarray._reconstruct
        allowed[(f"{package}.multiarray", "scalar")] = multiarray.scalar
        allowed[(f"{package}.numeric", "_frombuffer")] = numeric._frombuffer
    return allowed


class _ArrayUnpickler(pickle._Unpickler):
    """An unpickler that builds dicts, lists, strings, numbers and numpy arrays, and nothing else.

    It is pickle's pure-Python unpickler: the C one copies every large string out of its read
    buffer, which doubles the peak memory of a big batch file; this one reads it from the file in
    one piece (``encoding="bytes"``: no decoding either), and numpy's array is a view on it.
    """

    allowed = None

    def find_class(self, module, name):
        if _ArrayUnpickler.allowed is None:
            _ArrayUnpickler.allowed = _array_globals()
        try:
            return self.allowed[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a dataset file") from None


def read_pickle(path):
    """Load a dataset pickle (Python 2 or 3; Python 2 strings come back as bytes) without running
    arbitrary code; a damaged file is one line."""
    try:
        with open(path, "rb") as f:
            return _ArrayUnpickler(f, encoding="bytes").load()
    except Exception as exc:  # truncated, garbage or hostile files all end here
        raise DatasetDamaged(f"{path} cannot be read ({describe(exc)}); delete it and fetch it "
                             f"again (--download)") from exc
