"""Pools larger than memory: array-likes read in contiguous slices, and lazy views of their rows.

A pool is any array-like with ``shape``, ``dtype``, ``len()`` and slicing: a numpy array, an
``np.memmap`` / ``np.load(..., mmap_mode="r")``, an ``h5py`` dataset, a ``zarr`` array. Lazy ones
(all but in-memory numpy arrays and tensors) are never converted whole: scoring and prediction read
them one batch at a time (:func:`read_rows`), and :class:`PoolView` names rows of one without
copying them. This module sits at the bottom of the layers (numpy only) so batching can use it.
"""
import numbers

import numpy as np
import scipy.sparse
import torch

from .errors import ConfigError


def is_lazy(X):
    """Whether ``X`` is read on demand: a file-backed ``np.memmap``, a :class:`PoolView`, or an
    array-like with ``shape``, ``dtype``, ``len()`` and slicing that is not an in-memory array or tensor
    (rows taken from a memmap by an index array are in memory; sparse matrices are not pools)."""
    if isinstance(X, np.memmap):
        return getattr(X, "filename", None) is not None
    if isinstance(X, PoolView):
        return True
    if isinstance(X, (np.ndarray, torch.Tensor)) or scipy.sparse.issparse(X):
        return False
    return all(hasattr(X, name) for name in ("shape", "dtype", "__len__", "__getitem__"))


def dtype_of(X):
    """The numpy dtype of the rows of the array-like ``X`` (a tensor's too), reading no row."""
    return np.asarray(X[:0]).dtype


def read_rows(X, rows):
    """Rows ``rows`` (ascending integer positions) of ``X`` as one in-memory numpy array.

    numpy arrays (memory-mapped ones included) take the rows in one indexing; other array-likes
    are read as one slice per run of consecutive rows, so an h5py or zarr array sees contiguous reads.
    """
    rows = np.asarray(rows, dtype=np.intp)
    if isinstance(X, (np.ndarray, PoolView)):
        return np.asarray(X[rows])
    if len(rows) == 0:
        return np.empty((0,) + tuple(X.shape[1:]), dtype=X.dtype)
    breaks = np.flatnonzero(np.diff(rows) != 1) + 1
    runs = np.split(rows, breaks)
    return np.concatenate([np.asarray(X[int(run[0]):int(run[-1]) + 1]) for run in runs])


def read_in_order(X, rows):
    """Rows ``rows`` (integer positions in any order, repeats allowed) of ``X``, read in ascending
    order (each distinct row once) and returned in the order asked."""
    rows = np.asarray(rows, dtype=np.intp)
    unique, inverse = np.unique(rows, return_inverse=True)
    return read_rows(X, unique)[inverse]


class PoolView:
    """The rows ``rows`` of the array-like ``X``, read only when sliced: ``PoolView(X, rows)``.

    It behaves as the array ``X[rows]`` would (``shape``, ``dtype``, ``ndim``, ``len()``, indexing
    by int, slice or integer array giving numpy arrays) without making it; a query strategy given a
    view returns positions in the view, as for an array. Rows are read in ascending order of their
    place in ``X``. ``rows``: integer positions (each in ``[0, len(X))``) or a ``slice``.
    A view of a view is a view of the underlying array.
    """

    def __init__(self, X, rows):
        if not all(hasattr(X, name) for name in ("shape", "dtype", "__len__", "__getitem__")):
            raise TypeError("PoolView needs an array-like with shape, dtype, len() and slicing; "
                            f"got {type(X).__name__}")
        n = len(X)
        if isinstance(rows, slice):
            rows = np.arange(n)[rows]
        rows = np.asarray(rows)
        if rows.ndim != 1 or not (np.issubdtype(rows.dtype, np.integer) or len(rows) == 0):
            raise ConfigError(f"PoolView rows must be a 1-D array of integer positions or a slice, got {rows.dtype} "
                              f"of shape {rows.shape}")
        rows = rows.astype(np.intp)
        if len(rows) and (rows.min() < -n or rows.max() >= n):
            raise ConfigError(f"PoolView rows must be positions in [0, {n}), "
                              f"got values from {rows.min()} to {rows.max()}")
        rows = np.where(rows < 0, rows + n, rows)
        if isinstance(X, PoolView):
            X, rows = X.base, X.rows[rows]
        self.base = X
        self.rows = rows

    @property
    def shape(self):
        return (len(self.rows),) + tuple(self.base.shape[1:])

    @property
    def dtype(self):
        return dtype_of(self.base)

    @property
    def ndim(self):
        return len(self.shape)

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, key):
        if isinstance(key, numbers.Integral) and not isinstance(key, bool):
            return np.asarray(self.base[int(self.rows[key])])
        if isinstance(key, slice) or (isinstance(key, (np.ndarray, list, torch.Tensor)) and not isinstance(key, bool)):
            rows = self.rows[np.asarray(key)] if not isinstance(key, slice) else self.rows[key]
            return read_in_order(self.base, rows)
        raise TypeError(f"a PoolView is indexed by an int, a slice or an array of positions, got {type(key).__name__}")

    def __array__(self, dtype=None, copy=None):
        """The whole view in memory (``np.asarray(view)``): only for callers that need it all."""
        out = self[:]
        return out if dtype is None else out.astype(dtype)

    def __repr__(self):
        return f"PoolView({type(self.base).__name__} of {len(self.base)} rows, {len(self.rows)} rows)"


def iter_slices(X, batch_size):
    """``(start, rows)`` for consecutive slices of ``batch_size`` rows of ``X``, each read once."""
    for start in range(0, len(X), batch_size):
        yield start, np.asarray(X[start:start + batch_size])
