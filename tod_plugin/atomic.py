"""Atomic file writes, for every layer: run folders, labeling projects and the strategies' caches.

A write goes to a temporary file in the same folder, is flushed and fsynced, then renamed over the
target (``os.replace`` is atomic on POSIX and Windows), so a reader or a crash never sees half a
file, and a failed write (full disk, permissions) leaves the previous version in place.
"""
import os
import tempfile
from pathlib import Path

from .errors import StorageError

_UMASK = os.umask(0o022)
os.umask(_UMASK)


def atomic_write_bytes(path, data):
    """Write ``data`` to ``path`` atomically; :class:`StorageError` (nothing half-written) on failure."""
    path = Path(path)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; results get the usual permissions
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        _remove(tmp)
        raise StorageError(
            f"cannot write {path}: {exc.strerror or exc}; the previous version is intact — free space or fix "
            "permissions, then run the command again (a run continues with: tod-al run --resume RUN_DIR)"
        ) from exc
    except BaseException:
        _remove(tmp)
        raise


def _remove(tmp):
    if tmp is not None and os.path.exists(tmp):
        os.unlink(tmp)


def atomic_write_text(path, text):
    atomic_write_bytes(path, text.encode("utf-8"))
