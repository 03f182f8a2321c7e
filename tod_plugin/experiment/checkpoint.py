"""Checkpoints of one (trial, strategy) after each finished cycle: data only, checksummed, the last two kept.

A checkpoint file is the SHA-256 digest of the payload followed by the payload, a ``torch.save``
archive of ``{"format": FORMAT, "json": <text>, "tensors": {name: tensor}}`` read back with
``torch.load(weights_only=True)``: nothing in it can run code. The JSON holds the (trial,
strategy, cycle), the SHA-256 of the run's settings (:func:`settings_digest`), the records written
so far and the learner's fitted state encoded by :mod:`.state_codec` (network, LL4AL module, the
hooks' snapshots and EMA teacher, the net's RNG, a BAL / PT4AL sampler's pool order, COD's output
cache); the learner itself is rebuilt from config.json (``loop.run_trial``). It is written
atomically. A file whose digest does not match (truncated, corrupted) is skipped with a warning
and the previous good checkpoint is used; an intact file that is not this format, or that belongs
to other settings or another (trial, strategy), is refused with :class:`CheckpointError`.
"""
import hashlib
import io
import json
import re
import warnings

import torch

from ..errors import ConfigError
from ..atomic import atomic_write_bytes

FORMAT = "tod-al-checkpoint-2"
DIGEST_SIZE = 32
KEEP = 2
PLACES = ("data_dir", "download")  # where the data is, not what it is (``data_place``)


class CheckpointError(ConfigError):
    """An intact checkpoint file that cannot be used: another format, or another run's."""


def settings_digest(settings):
    """SHA-256 of a run's settings (``RunConfig.to_dict()``) without the data's places: what a
    checkpoint must have been made with to continue this run."""
    settings = {k: v for k, v in settings.items() if k not in PLACES}
    if str(settings.get("dataset", "")).startswith("imagefolder:"):
        settings["dataset"] = "imagefolder"
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()


def _name(strategy, trial, cycle):
    return f"{strategy}_trial{trial}_cycle{cycle:04d}.ckpt"


def _pattern(strategy, trial):
    return re.compile(re.escape(f"{strategy}_trial{trial}_cycle") + r"(\d{4})\.ckpt$")


def _cycles(folder, strategy, trial):
    pattern = _pattern(strategy, trial)
    found = [(int(m.group(1)), p) for p in folder.glob("*.ckpt") if (m := pattern.match(p.name))]
    return sorted(found)


def save_checkpoint(folder, strategy, trial, cycle, settings, document, tensors):
    """Write the checkpoint of ``cycle`` (``document``: JSON-able, ``tensors``: name -> tensor, see
    :mod:`.state_codec`) and drop all but the newest ``KEEP`` of this trial/strategy."""
    folder.mkdir(parents=True, exist_ok=True)
    header = {"strategy": strategy, "trial": trial, "cycle": cycle, "settings_sha256": settings}
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, "json": json.dumps({**header, **document}), "tensors": tensors}, buffer)
    data = buffer.getvalue()
    atomic_write_bytes(folder / _name(strategy, trial, cycle), hashlib.sha256(data).digest() + data)
    for _, old in _cycles(folder, strategy, trial)[:-KEEP]:
        old.unlink(missing_ok=True)


def load_checkpoint(folder, strategy, trial, settings):
    """``(document, tensors)`` of the newest intact checkpoint of this trial/strategy, or None.

    Raises :class:`CheckpointError` for an intact file that is not a checkpoint of this format,
    of this (trial, strategy) or of these ``settings`` (:func:`settings_digest`).
    """
    for cycle, path in reversed(_cycles(folder, strategy, trial)):
        blob = path.read_bytes()
        digest, data = blob[:DIGEST_SIZE], blob[DIGEST_SIZE:]
        if len(blob) <= DIGEST_SIZE or hashlib.sha256(data).digest() != digest:
            warnings.warn(f"checkpoint {path.name} is unusable: its checksum does not match (truncated or "
                          "corrupted); falling back to an earlier one", stacklevel=2)
            continue
        document, tensors = _read(path, data)
        expected = {"strategy": strategy, "trial": trial, "cycle": cycle}
        found = {key: document.get(key) for key in expected}
        if found != expected:
            raise CheckpointError(f"checkpoint {path} holds {found}, not what its name says; remove it")
        if document.get("settings_sha256") != settings:
            raise CheckpointError(
                f"checkpoint {path} was made with other settings than this run's config.json (another seed, "
                "more cycles, ...); remove it, or resume the run it came from"
            )
        return document, tensors
    return None


def _read(path, data):
    """The JSON document and tensors of an intact file; :class:`CheckpointError` if not this format."""
    refusal = (f"checkpoint {path} is not a tod-al checkpoint of format {FORMAT} (older tod-plugin, or a "
               "file from elsewhere); it was not loaded — remove it, or rerun into a new --out folder")
    try:
        with warnings.catch_warnings():  # torch's notes on a foreign pickle's protocol: the refusal says it all
            warnings.simplefilter("ignore")
            payload = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        document = json.loads(payload["json"])
        tensors = payload["tensors"]
        valid = (payload["format"] == FORMAT and isinstance(document, dict) and isinstance(tensors, dict)
                 and all(isinstance(t, torch.Tensor) for t in tensors.values()))
    except Exception:  # whatever fails to read (weights_only refusing a pickle included) is not this format
        valid = False
    if not valid:
        raise CheckpointError(refusal)
    return document, tensors
