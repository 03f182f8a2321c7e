"""In-memory batching: arrays become tensors once, batches are slices prepared on the device.

This replaces skorch's per-sample ``DataLoader`` for array input. A batch is gathered from the
resident tensor by index, moved to the training device, augmented there (training only), turned
into floats (uint8 is scaled to [0, 1]) and normalised with ``(x - mean) / std``.

Nothing in a step waits for the GPU: the data lives on the device, the few small index and
augmentation tensors drawn on the host go through pinned memory with ``non_blocking`` copies, and
the normalisation constants are put on the device once.
"""
import warnings
from dataclasses import dataclass

import numpy as np
import torch

from .augment import crop_flip, draw_crop_flip
from .errors import ConfigError
from .pool import is_lazy, read_in_order


def to_device(tensor, device):
    """``tensor`` on ``device``; a host-to-CUDA copy is staged in pinned memory and does not block
    the host (a plain ``.to("cuda")`` of pageable memory waits for the GPU to finish its queue)."""
    device = torch.device(device)
    if device.type == "cuda" and tensor.device.type == "cpu":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)


class LazyRows:
    """A lazily read pool (:func:`tod_plugin.pool.is_lazy`) serving tensor rows on the host: a slice or
    an index tensor is read from the array-like when asked (ascending), never the whole array.
    Float rows are checked for NaN / infinity as they are read."""

    device = torch.device("cpu")

    def __init__(self, X):
        self.source = X

    def __len__(self):
        return len(self.source)

    def __getitem__(self, key):
        rows = self.source[key] if isinstance(key, slice) else read_in_order(self.source, key.cpu().numpy())
        rows = np.ascontiguousarray(rows)  # a memory-mapped slice stays file pages: no copy of the batch
        if rows.dtype.kind == "f" and not np.isfinite(rows).all():
            raise ConfigError("X contains NaN or infinity; clean or impute it first")
        with warnings.catch_warnings():  # read-only rows (memmaps) are only read: batches are prepared into new tensors
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            return torch.from_numpy(rows)


class ArrayDataset(torch.utils.data.Dataset):
    """Images (or feature rows) ``X`` and encoded labels ``y``: tensors (on ``device``) for in-memory
    arrays, :class:`LazyRows` read batch by batch for lazily read pools (memory maps, h5py, zarr,
    :class:`~tod_plugin.pool.PoolView`)."""

    def __init__(self, X, y=None, device="cpu"):
        self.y = None if y is None else torch.as_tensor(y, dtype=torch.long).to(device)
        if is_lazy(X):
            self.X = LazyRows(X)
            return
        with warnings.catch_warnings():  # read-only arrays (memmaps) are shared, never written to
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            self.X = torch.as_tensor(X).to(device)

    def __len__(self):
        return len(self.X)

    def __getitem__(self, index):
        return self.X[index], (self.y[index] if self.y is not None else torch.tensor(0))


def in_layout(x, channels_last):
    """4-D ``x`` with the canonical strides of NCHW (or NHWC with ``channels_last``).

    Convolutions follow the strides, and an (N, 1, H, W) array may carry channels-last strides
    while counting as contiguous (``.contiguous()`` keeps them): batches of the same values
    would then take another kernel, with results a few ulps apart.
    """
    layout = torch.channels_last if channels_last else torch.contiguous_format
    if x.stride() != torch.empty(x.shape, device="meta", memory_format=layout).stride():
        x = x.clone(memory_format=layout)
    return x


@dataclass
class BatchPreparer:
    """Turns a raw batch into the network's input: augment, to float, normalise."""

    device: str
    mean: tuple = None
    std: tuple = None
    crop_padding: int = 0
    hflip: bool = False
    channels_last: bool = False

    def __post_init__(self):
        self._constants = {}  # (ndim, device) -> (mean, std) tensors, made once

    def __call__(self, x, training, generator=None):
        x = to_device(x, self.device)
        if training and x.ndim == 4 and (self.crop_padding or self.hflip):
            draws = draw_crop_flip(len(x), self.crop_padding, self.hflip, generator)
            x = crop_flip(x, self.crop_padding, *(to_device(t, x.device) for t in draws))
        if x.ndim == 4:
            x = in_layout(x, self.channels_last)  # the float ops below keep the layout
        x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
        if self.mean is not None:
            mean, std = self._normalization(x)
            x = (x - mean) / std
        return x

    def _normalization(self, x):
        key = (x.ndim, x.device)
        if key not in self._constants:
            shape = (1, -1) + (1,) * (x.ndim - 2)
            self._constants[key] = tuple(
                to_device(torch.tensor(values, dtype=torch.float32).view(shape), x.device) for values in (self.mean, self.std)
            )
        return self._constants[key]


def batch_bounds(n, batch_size, training):
    """``(start, stop)`` of each batch over ``n`` samples. In training, a last batch of one sample is
    merged into the batch before it (that batch has ``batch_size + 1`` samples): BatchNorm cannot
    normalise one sample whose feature maps are 1x1 ("Expected more than 1 value per channel"), and
    dropping it would waste a label. Evaluation batches are never merged."""
    starts = list(range(0, n, batch_size))
    if training and len(starts) > 1 and n - starts[-1] == 1:
        starts.pop()
    return list(zip(starts, starts[1:] + [n]))


class BatchIterator:
    """Iterates an :class:`ArrayDataset` in (optionally shuffled) slices; re-iterable per epoch."""

    def __init__(self, dataset, batch_size, prepare, training, generator=None):
        self.dataset = dataset
        self.batch_size = batch_size
        self.prepare = prepare
        self.training = training
        self.generator = generator

    def __len__(self):
        return len(batch_bounds(len(self.dataset), self.batch_size, self.training))

    def __iter__(self):
        n = len(self.dataset)
        if self.training:
            order = to_device(torch.randperm(n, generator=self.generator), self.dataset.X.device)
        for start, stop in batch_bounds(n, self.batch_size, self.training):
            if self.training:
                index = order[start:stop]
                x, y = self.dataset.X[index], self.dataset.y[index]
            else:
                x = self.dataset.X[start:stop]
                y = None if self.dataset.y is None else self.dataset.y[start:stop]
            x = self.prepare(x, self.training, self.generator)
            yield x, (y.to(x.device, non_blocking=True) if y is not None else None)


def auto_batch_size(n_samples):
    """Default training batch: n/16 clipped to [8, 128], so a few dozen labels still give several steps."""
    return int(np.clip(n_samples // 16, 8, 128))


class UnlabeledStream:
    """Fresh random unlabeled batches, one per optimizer step, prepared like training batches.

    The pool is walked in a random order and reshuffled when it runs out, so a batch never repeats
    a sample (unless the pool is smaller than the batch, then it is drawn with replacement).
    """

    def __init__(self, dataset, prepare, generator):
        self.dataset = dataset
        self.prepare = prepare
        self.generator = generator
        self.order = torch.randperm(len(dataset), generator=generator)
        self.position = 0

    def __len__(self):
        return len(self.dataset)

    def next(self, size):
        n = len(self.dataset)
        if n < size:
            index = torch.randint(n, (size,), generator=self.generator)
        else:
            if self.position + size > n:
                self.order = torch.randperm(n, generator=self.generator)
                self.position = 0
            index = self.order[self.position:self.position + size]
            self.position += size
        return self.prepare(self.dataset.X[to_device(index, self.dataset.X.device)], True, self.generator)
