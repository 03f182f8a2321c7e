"""The run folder: config.json, results.jsonl, queries.jsonl, curve.png, checkpoints/; every write
is atomic (``tod_plugin.atomic``)."""
import hashlib
import json
import os
from pathlib import Path

import numpy as np

from ..atomic import atomic_write_text
from ..errors import ConfigError, StorageError
from .lock import RunLock

SCHEMA_VERSION = 1


class RunStore:
    """The run folder. Records are kept per (trial, strategy) and written in canonical order
    (trial, then strategy as configured, then cycle), so a resumed run writes the same files."""

    def __init__(self, root):
        self.root = Path(root)
        self.dataset_sha256 = None
        self.checkpoints = self.root / "checkpoints"
        self.order = []
        self.results_by_key = {}
        self.queries_by_key = {}
        self.run_lock = RunLock(self.root)

    def lock(self):
        """Take the folder's exclusive lock (:class:`~.lock.RunLock`) for the writes that follow (a folder
        that does not exist has nothing to lock: ``open`` refuses it)."""
        if self.root.is_dir():
            self.run_lock.acquire()

    def unlock(self):
        self.run_lock.release()

    def create(self, config, dataset_sha256=None):
        """Start a new run folder: it must not exist or be empty. ``dataset_sha256``
        (:func:`dataset_fingerprint`) lets ``--resume`` find the same data in another folder."""
        if self.root.exists() and (not self.root.is_dir() or any(self.root.iterdir())):
            raise ConfigError(
                f"output folder {self.root} exists and is not empty; choose another --out, or continue that run "
                f"with: tod-al run --resume {self.root}"
            )
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create the output folder {self.root}: {exc.strerror or exc}") from exc
        self.dataset_sha256 = dataset_sha256
        self.write_config(config)

    def write_config(self, config):
        """(Re)write config.json: the schema version, the dataset's fingerprint and ``config``."""
        self.write_json("config.json", {"schema_version": SCHEMA_VERSION, "dataset_sha256": self.dataset_sha256,
                                        **config})

    def open(self):
        """An existing run folder's settings (without the schema version and the dataset's
        fingerprint, which becomes ``dataset_sha256``), for ``--resume``."""
        path = self.root / "config.json"
        if not path.is_file():
            raise ConfigError(f"--resume {self.root}: no config.json there, so it is not a tod-al run folder")
        try:
            config = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"--resume {self.root}: config.json is unreadable ({exc}); start a new run") from None
        if not isinstance(config, dict):
            raise ConfigError(f"--resume {self.root}: config.json holds a JSON {type(config).__name__}, not the run's "
                              "settings (an object); restore it or start a new run")
        version = config.pop("schema_version", None)
        if version != SCHEMA_VERSION:
            raise ConfigError(
                f"--resume {self.root}: the folder was written with run-folder schema {version!r}, this tod-plugin "
                f"reads schema {SCHEMA_VERSION}; rerun the experiment into a new --out folder"
            )
        self.dataset_sha256 = config.pop("dataset_sha256", None)
        return config

    def write_json(self, name, obj):
        atomic_write_text(self.root / name, json.dumps(obj, indent=2) + "\n")

    def set_records(self, key, results, queries):
        """Replace the records of one (trial, strategy) key and rewrite both files."""
        if key not in self.order:
            self.order.append(key)
            self.order.sort()
        self.results_by_key[key] = list(results)
        self.queries_by_key[key] = list(queries)
        self._write_lines("results.jsonl", self.results)
        self._write_lines("queries.jsonl", self.queries)

    @property
    def results(self):
        return [r for key in self.order for r in self.results_by_key[key]]

    @property
    def queries(self):
        return [q for key in self.order for q in self.queries_by_key[key]]

    def _write_lines(self, name, records):
        atomic_write_text(self.root / name, "".join(json.dumps(r) + "\n" for r in records))


def check_folder_name(folder, flag="--out"):
    """A usable run folder name: not empty, each part within the filesystem's limit (255 bytes on most)."""
    if not str(folder).strip():
        raise ConfigError(f"{flag} must name a folder, got {str(folder)!r}")
    longest = max(len(part.encode()) for part in Path(folder).parts)
    limit = os.pathconf("/", "PC_NAME_MAX") if hasattr(os, "pathconf") else 255
    if longest > limit:
        raise ConfigError(f"{flag}: a folder name in {str(folder)[:60]}... is {longest} bytes long; the filesystem "
                          f"allows {limit}")


def dataset_fingerprint(dataset):
    """SHA-256 of a dataset's train and test arrays (shapes, dtypes and bytes): the identity of the data
    a run used, whatever folder it was read from."""
    digest = hashlib.sha256()
    for array in (dataset.X_train, dataset.y_train, dataset.X_test, dataset.y_test):
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.reshape(-1).view(np.uint8))  # the bytes, without a copy
    return digest.hexdigest()
