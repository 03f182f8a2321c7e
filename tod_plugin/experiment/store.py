"""The run folder: config.json, results.jsonl, queries.jsonl, curve.png; every write is atomic.

A write goes to a temporary file in the same folder, is flushed and fsynced, then renamed over the
target (``os.replace`` is atomic on POSIX and Windows), so a reader or a crash never sees half a file.
"""
import json
import os
import tempfile
from pathlib import Path

from ..errors import ConfigError

SCHEMA_VERSION = 1


def atomic_write_bytes(path, data):
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path, text):
    atomic_write_bytes(path, text.encode("utf-8"))


class RunStore:
    """Appends records by rewriting the whole (small) file atomically."""

    def __init__(self, root):
        self.root = Path(root)
        self.results = []
        self.queries = []

    def create(self, config):
        if self.root.exists() and (not self.root.is_dir() or any(self.root.iterdir())):
            raise ConfigError(f"output folder {self.root} exists and is not empty; choose another --out")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self.write_json("config.json", {"schema_version": SCHEMA_VERSION, **config})
        except OSError as exc:
            raise ConfigError(f"cannot write the output folder {self.root}: {exc.strerror or exc}") from exc

    def write_json(self, name, obj):
        atomic_write_text(self.root / name, json.dumps(obj, indent=2) + "\n")

    def add_result(self, record):
        self.results.append(record)
        self._write_lines("results.jsonl", self.results)

    def add_query(self, record):
        self.queries.append(record)
        self._write_lines("queries.jsonl", self.queries)

    def _write_lines(self, name, records):
        atomic_write_text(self.root / name, "".join(json.dumps(r) + "\n" for r in records))
