"""Checkpoints of one (trial, strategy) after each finished cycle, checksummed, the last two kept.

A checkpoint file is the SHA-256 digest of the payload followed by the payload (a pickle of the
modAL learner — network, optimizer, hooks with their EMA / snapshot state, the net's RNG — plus the
labeled mask, the strategy's state and the records written so far). It is written atomically;
a file whose digest does not match (truncated, corrupted) is skipped with a warning and the
previous good checkpoint is used.
"""
import hashlib
import pickle
import re
import warnings

from .store import atomic_write_bytes

DIGEST_SIZE = 32
KEEP = 2


def _name(strategy, trial, cycle):
    return f"{strategy}_trial{trial}_cycle{cycle:04d}.ckpt"


def _pattern(strategy, trial):
    return re.compile(re.escape(f"{strategy}_trial{trial}_cycle") + r"(\d{4})\.ckpt$")


def _cycles(folder, strategy, trial):
    pattern = _pattern(strategy, trial)
    found = [(int(m.group(1)), p) for p in folder.glob("*.ckpt") if (m := pattern.match(p.name))]
    return sorted(found)


def save_checkpoint(folder, strategy, trial, cycle, payload):
    """Write the checkpoint of ``cycle`` and drop all but the newest ``KEEP`` of this trial/strategy."""
    folder.mkdir(parents=True, exist_ok=True)
    data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
    atomic_write_bytes(folder / _name(strategy, trial, cycle), hashlib.sha256(data).digest() + data)
    for _, old in _cycles(folder, strategy, trial)[:-KEEP]:
        old.unlink(missing_ok=True)


def load_checkpoint(folder, strategy, trial):
    """The newest intact checkpoint's payload for this trial/strategy, or None."""
    for cycle, path in reversed(_cycles(folder, strategy, trial)):
        blob = path.read_bytes()
        digest, data = blob[:DIGEST_SIZE], blob[DIGEST_SIZE:]
        if len(blob) > DIGEST_SIZE and hashlib.sha256(data).digest() == digest:
            try:
                return pickle.loads(data)
            except Exception as exc:  # an intact file that still fails to load is as bad as a corrupt one
                reason = f"it does not load ({type(exc).__name__})"
        else:
            reason = "its checksum does not match (truncated or corrupted)"
        warnings.warn(f"checkpoint {path.name} is unusable: {reason}; falling back to an earlier one", stacklevel=2)
    return None
