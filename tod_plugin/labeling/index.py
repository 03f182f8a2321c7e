"""The image index (which files the folder holds, by content hash) and the decoded-image cache.

The index maps each image's path (relative to the images folder, POSIX form) to its size, mtime
and the SHA-256 of its bytes; a file is hashed again only when its size or mtime changed. The
cache holds decoded images as uint8 (N, 3, S, S) ``.npy`` chunks, each with a JSON list of the
content hashes of its rows (``<chunk>.keys.json``, written after the chunk: a chunk without
one is incomplete and ignored). Images are decoded once, whatever their path, and the cache is
read memory-mapped with ``np.load(allow_pickle=False)``.
"""
import hashlib
import io
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..atomic import atomic_write_bytes, atomic_write_text
from ..data.files import DatasetDamaged
from ..data.images import IMAGE_EXTENSIONS, crop_transform, read_images
from ..errors import ConfigError

DECODE_BLOCK = 256
CHUNK_LIMIT = 4096
READ_BLOCK = 1 << 20


def find_images(folder):
    """Relative POSIX paths of the image files under ``folder`` (recursive, by extension, hidden
    files and folders skipped), sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"images: {folder} is not a folder")
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if not name.startswith(".") and Path(name).suffix.lower() in IMAGE_EXTENSIONS:
                found.append(Path(dirpath, name).relative_to(folder).as_posix())
    return sorted(found)


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(READ_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def scan(folder, previous=None, workers=8):
    """The index of ``folder``: ``{path: [size, mtime_ns, sha256]}``; entries of ``previous`` whose size
    and mtime are unchanged keep their hash."""
    previous = previous or {}
    entries, to_hash = {}, []
    for path in find_images(folder):
        stat = (Path(folder) / path).stat()
        old = previous.get(path)
        if old is not None and old[0] == stat.st_size and old[1] == stat.st_mtime_ns:
            entries[path] = old
        else:
            entries[path] = [stat.st_size, stat.st_mtime_ns, None]
            to_hash.append(path)
    with ThreadPoolExecutor(max_workers=workers) as pool:  # hashlib releases the GIL on large reads
        for path, digest in zip(to_hash, pool.map(lambda p: file_sha256(Path(folder) / p), to_hash)):
            entries[path][2] = digest
    return entries


def index_name(entries):
    """A content name for an index version."""
    return hashlib.sha256(json.dumps(entries, sort_keys=True).encode()).hexdigest()[:20] + ".json"


def fit_to(size):
    """PIL transform: an image already ``size`` x ``size`` is kept, others are resized and centre-cropped
    as ``imagefolder:`` datasets are (``data.images.crop_transform``)."""
    crop = crop_transform(size)
    return lambda image: image if image.size == (size, size) else crop(image)


class ImageCache:
    """Decoded images of side ``size`` under ``folder``, found by content hash."""

    def __init__(self, folder, size):
        self.folder = Path(folder)
        self.size = size
        self.rows = {}         # hash -> (chunk name, row)
        self.unreadable = {}   # hash -> reason
        self._arrays = {}
        for keys_file in sorted(self.folder.glob("*.keys.json")) if self.folder.is_dir() else ():
            self._register(keys_file)

    def _register(self, keys_file):
        chunk = keys_file.name[:-len(".keys.json")]
        try:
            meta = json.loads(keys_file.read_text())
            array = np.load(self.folder / f"{chunk}.npy", mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError):
            return  # an incomplete or foreign chunk: its images are decoded again
        keys = meta.get("keys") if isinstance(meta, dict) else None
        if (not isinstance(keys, list) or array.dtype != np.uint8 or array.shape != (len(keys), 3, self.size, self.size)
                or not isinstance(meta.get("unreadable", {}), dict)):
            return
        self._arrays[chunk] = array
        self.rows.update({key: (chunk, row) for row, key in enumerate(keys)})
        self.unreadable.update(meta.get("unreadable", {}))

    def missing(self, hashes):
        return sorted({h for h in hashes if h not in self.rows and h not in self.unreadable})

    def add(self, files, quiet=False):
        """Decode ``files`` (``{hash: path}``) not cached yet, with a progress bar; returns the number decoded.
        Unreadable files are remembered as such (and left out of the pool)."""
        todo = self.missing(files)
        if not todo:
            return 0
        self.folder.mkdir(parents=True, exist_ok=True)
        for start in range(0, len(todo), CHUNK_LIMIT):
            self._write_chunk(todo[start:start + CHUNK_LIMIT], files, quiet)
        return len(todo)

    def _write_chunk(self, keys, files, quiet):
        out, unreadable = decode_files([files[k] for k in keys], self.size, quiet)
        good = np.array([i not in unreadable for i in range(len(keys))], dtype=bool)
        unreadable = {keys[i]: reason for i, reason in unreadable.items()}
        kept = [k for k, ok in zip(keys, good) if ok]
        chunk = hashlib.sha256(" ".join(keys).encode()).hexdigest()[:20]
        buffer = io.BytesIO()
        np.save(buffer, np.ascontiguousarray(out[good]), allow_pickle=False)
        atomic_write_bytes(self.folder / f"{chunk}.npy", buffer.getvalue())
        atomic_write_text(self.folder / f"{chunk}.keys.json", json.dumps({"keys": kept, "unreadable": unreadable}))
        self._register(self.folder / f"{chunk}.keys.json")

    def load(self, hashes):
        """The decoded images of ``hashes`` (all cached) as one (N, 3, S, S) uint8 array, in that order."""
        out = np.empty((len(hashes), 3, self.size, self.size), dtype=np.uint8)
        by_chunk = {}
        for i, key in enumerate(hashes):
            chunk, row = self.rows[key]
            by_chunk.setdefault(chunk, ([], []))
            by_chunk[chunk][0].append(i)
            by_chunk[chunk][1].append(row)
        for chunk, (positions, rows) in by_chunk.items():
            order = np.argsort(rows)  # read each chunk front to back
            out[np.asarray(positions)[order]] = self._arrays[chunk][np.asarray(rows)[order]]
        return out


def decode_files(paths, size, quiet=False):
    """Decode ``paths`` to one (N, 3, size, size) uint8 array (``data.images.read_images``, in blocks, with a
    progress bar); returns it with ``{position: reason}`` of the files that could not be read."""
    out = np.zeros((len(paths), 3, size, size), dtype=np.uint8)
    unreadable = {}
    with tqdm(total=len(paths), unit="image", desc="decoding", disable=quiet, dynamic_ncols=True) as bar:
        for start in range(0, len(paths), DECODE_BLOCK):
            block = paths[start:start + DECODE_BLOCK]
            try:
                out[start:start + len(block)] = read_images(block, size, size, fit_to(size))
            except DatasetDamaged:  # find which ones, decode the others
                for i, path in enumerate(block, start):
                    try:
                        out[i] = read_images([path], size, size, fit_to(size))[0]
                    except DatasetDamaged as exc:
                        unreadable[i] = str(exc)
            bar.update(len(block))
    return out, unreadable
