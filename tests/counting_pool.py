"""A pool that records every read, for tests that prove pools are read in slices and never whole."""
import numpy as np


class CountingPool:
    """An array-like over ``data`` (shape, dtype, len(), slicing) that records each key it is read
    with in ``reads`` and refuses to be converted whole (``np.asarray`` raises)."""

    def __init__(self, data):
        self.data = data
        self.shape, self.dtype = data.shape, data.dtype
        self.reads = []

    def __len__(self):
        return len(self.data)

    def __getitem__(self, key):
        self.reads.append(key)
        return self.data[key]

    def __array__(self, dtype=None, copy=None):
        raise AssertionError("the pool was converted whole")

    def rows_read(self):
        """How many times each row was read, from the slices recorded (an int array of len(data))."""
        counts = np.zeros(len(self.data), dtype=int)
        for key in self.reads:
            counts[key] += 1
        return counts
