"""Decoded images cached on disk as memory-mapped uint8 ``.npy`` files, decoded once.

The first load decodes the image files (with a progress bar, a chunk of images at a time) into
``<cache_dir>/<split>-<H>x<W>-<key>.npy``, written under a temporary name, flushed, fsynced and
renamed into place only when complete, so a half-written cache is never used. Later loads
memory-map it (``np.load(mmap_mode="r", allow_pickle=False)``): the pool is pages of a file, not
process memory. ``key`` fingerprints the files and the decoding: the SHA-256 of the recipe (size,
resizing) and of every file's path relative to the data folder, byte size and modification time
(ns), so adding, removing, renaming, replacing or touching an image gives another key and the
cache is rebuilt (the older caches of that split and size are then removed). A cache that does not
open as a uint8 array of the expected shape is rebuilt too.
"""
import hashlib
import json
import os
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..errors import ConfigError
from .images import read_images

CACHE_FOLDER = ".tod-cache"
CHUNK = 256  # images decoded per step: memory beyond the file is one chunk
FORMAT = 1


def fingerprint(paths, root, recipe):
    """Hex SHA-256 of ``recipe`` (JSON-able) and each file's relative path, size and modification time."""
    digest = hashlib.sha256(json.dumps({"format": FORMAT, "recipe": recipe}, sort_keys=True).encode())
    for path in paths:
        stat = os.stat(path)
        digest.update(f"{os.path.relpath(path, root)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def cached_images(paths, height, width, transform, *, cache_dir, split, root, recipe):
    """The images ``read_images(paths, height, width, transform)`` would give, as a read-only
    memory-mapped (N, 3, height, width) uint8 array, decoded into ``cache_dir`` on the first call.

    ``split`` names the file (e.g. ``"train"``), ``root`` is the folder paths are taken relative
    to, ``recipe`` describes ``transform`` (it is part of the key).
    """
    cache_dir = Path(cache_dir)
    shape = (len(paths), 3, height, width)
    key = fingerprint(paths, root, {"recipe": recipe, "shape": shape})[:32]
    prefix = f"{split}-{height}x{width}-"
    target = cache_dir / f"{prefix}{key}.npy"
    images = _open(target, shape)
    if images is None:
        _build(target, paths, height, width, transform, shape, split)
        for stale in cache_dir.glob(f"{prefix}*.npy"):
            if stale != target:
                stale.unlink(missing_ok=True)
        images = _open(target, shape)
    return images


def _open(path, shape):
    """The cache at ``path`` memory-mapped, or None when it is missing or not a uint8 array of ``shape``."""
    try:
        images = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError):
        return None
    return images if images.dtype == np.uint8 and images.shape == shape else None


def _build(target, paths, height, width, transform, shape, split):
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cache_dir: cannot create {target.parent} for the decoded images ({exc.strerror}); "
                          "give --cache-dir a writable folder") from exc
    partial = target.with_name(f".{target.stem}.{os.getpid()}.partial.npy")
    try:
        out = np.lib.format.open_memmap(partial, mode="w+", dtype=np.uint8, shape=shape)
        with tqdm(total=len(paths), unit="img", desc=f"decoding {split} images once", disable=None) as bar:
            for start in range(0, len(paths), CHUNK):
                chunk = paths[start:start + CHUNK]
                out[start:start + len(chunk)] = read_images(chunk, height, width, transform)
                bar.update(len(chunk))
        out.flush()
        del out
        with open(partial, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(partial, target)
        directory = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    finally:
        partial.unlink(missing_ok=True)
