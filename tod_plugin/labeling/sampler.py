"""The project's query strategy, kept from one ``query`` to the next as data.

A stateful strategy (BAL, PT4AL, TypiClust, ProbCover, VAAL, auto: those ``tod-al run`` makes per
trial) learns from the pool: BAL / PT4AL their pool order and the cycle their window has reached,
the others their features or networks. The project keeps what it learned in
``proj/models/sampler-<content hash>.pt``, written with the model checkpoint before the commit and
named by state.json (``"sampler": {"file", "strategy"}``), so a killed query leaves the previous
sampler. The file is the run engine's encoding (``experiment.learner_state.sampler_state``: a JSON
tree and its tensors, ``torch.save``) loaded with ``torch.load(weights_only=True)``: no code runs.

A sampler state that does not load or does not fit (damaged file, another strategy, a pool holding
images the sampler never saw) is not used: the query says so and starts a new sampler, which
orders the pool again (from its order cache when the pool is unchanged) and starts over at cycle 0.
"""
import hashlib
import io
import json

import torch
from sklearn.base import BaseEstimator

from ..atomic import atomic_write_bytes
from ..errors import ConfigError
from ..experiment.learner_state import restore_sampler, sampler_state
from ..experiment.state_codec import StateFormatError
from . import model as models

FORMAT = "tod-al labeling sampler 1"


def new_sampler(project, n_pool):
    """The settings' query strategy as ``tod-al run`` makes it for trial 0 (unfitted)."""
    settings = project.settings
    return models.strategy_spec(settings).make_query(settings.run_config(), models.round_seed(settings.seed, 0),
                                                     project.cache_dir / f"{settings.strategy}-sampler.npz", n_pool)


def saved_sampler(project, n_pool, say):
    """``(query strategy, restored)``: the project's sampler with its committed state, or a new one
    (saying why the saved one is not used)."""
    query = new_sampler(project, n_pool)
    record = project.state.get("sampler")
    if record is None or not isinstance(query, BaseEstimator):
        return query, False
    path = project.models_dir / record["file"]
    try:
        if record["strategy"] != project.settings.strategy:
            raise StateFormatError(f"it belongs to the strategy {record['strategy']!r}")
        document, tensors = read_sampler(path)
        return restore_sampler(query, document, tensors), True
    except StateFormatError as exc:
        say(f"the saved sampler state {path} is not used ({exc}): starting a new {project.settings.strategy} "
            "sampler")
        return new_sampler(project, n_pool), False


def read_sampler(path):
    """``(state tree, tensors)`` of a file written by :func:`save_sampler`; :class:`StateFormatError` otherwise."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        document = json.loads(payload["json"])
        tensors = payload["tensors"]
        valid = (payload["format"] == FORMAT and isinstance(document, dict) and isinstance(tensors, dict)
                 and all(isinstance(t, torch.Tensor) for t in tensors.values()))
    except Exception as exc:  # missing, truncated, a pickle of objects weights_only refuses, not this format
        raise StateFormatError(f"it does not load: {type(exc).__name__}") from None
    if not valid:
        raise StateFormatError(f"it is not a {FORMAT!r} file")
    return document, tensors


def save_sampler(query, folder, strategy):
    """Write ``query``'s fitted state to ``folder/sampler-<content hash>.pt`` (atomically); returns the
    state's record ``{"file", "strategy"}``, or None for a strategy without state."""
    tensors = {}
    try:
        document = sampler_state(query, tensors)
    except TypeError as exc:  # a fitted attribute that is not data: a bug of the strategy, not of the project
        raise ConfigError(f"the {strategy} sampler's state cannot be saved as data: {exc}") from None
    if document["sampler"] is None:
        return None
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, "json": json.dumps(document, sort_keys=True), "tensors": tensors}, buffer)
    data = buffer.getvalue()
    name = "sampler-" + hashlib.sha256(data).hexdigest()[:20] + ".pt"
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(folder / name, data)
    return {"file": name, "strategy": strategy}
