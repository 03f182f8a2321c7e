"""Recognise the rows of a pool by content, so a sampler fitted once survives ``np.delete`` between cycles."""
import hashlib

import numpy as np

from ..errors import ConfigError
from ..pool import dtype_of, iter_slices

CHUNK_ROWS = 4096


def row_keys(X):
    """A 64-bit BLAKE2b digest of each row's bytes, as uint64 (N,); ``X`` is read ``CHUNK_ROWS`` rows at a time."""
    digests = b"".join(hashlib.blake2b(np.ascontiguousarray(row).data, digest_size=8).digest()
                       for _, chunk in iter_slices(X, CHUNK_ROWS) for row in chunk.reshape(len(chunk), -1))
    return np.frombuffer(digests, dtype=np.uint64)


class PoolIndex:
    """The rows of the pool a sampler was fitted on; maps later pools (subsets of it) to its positions."""

    def __init__(self, X):
        self.row_shape, self.dtype = tuple(X.shape[1:]), dtype_of(X)
        self.keys = row_keys(X)

    def __len__(self):
        return len(self.keys)

    def positions(self, X, taken, owner="sampler"):
        """Position in the fitted pool of each row of ``X``.

        Identical rows (duplicate images) map to distinct positions holding that content, positions
        not in the boolean mask ``taken`` first. A row the fitted pool does not hold (or holds fewer
        times) raises :class:`ConfigError`.
        """
        if tuple(X.shape[1:]) != self.row_shape or dtype_of(X) != self.dtype:
            raise ConfigError(
                f"X_pool has rows of shape {X.shape[1:]} and dtype {X.dtype}, but this {owner} was fitted on a pool "
                f"of shape {self.row_shape} and dtype {self.dtype}; use a new {owner} for a new pool"
            )
        keys = row_keys(X)
        n = len(self.keys)
        fitted = np.lexsort((np.arange(n), taken, self.keys))  # by content, untaken first, then position
        fitted_keys = self.keys[fitted]
        current = np.argsort(keys, kind="stable")
        current_keys = keys[current]
        first_of_group = np.searchsorted(current_keys, current_keys, side="left")
        occurrence = np.arange(len(keys)) - first_of_group
        start = np.searchsorted(fitted_keys, current_keys, side="left")
        count = np.searchsorted(fitted_keys, current_keys, side="right") - start
        unknown = occurrence >= count
        if unknown.any():
            row = int(np.sort(current[unknown])[0])
            raise ConfigError(
                f"X_pool row {row} (and {int(unknown.sum()) - 1} more) is not in the pool this {owner} was fitted "
                f"on; a {owner} serves the pool it first saw and subsets of it (queried rows removed): use a new "
                f"{owner} for a new pool"
            )
        out = np.empty(len(keys), dtype=np.intp)
        out[current] = fitted[start + occurrence]
        return out
