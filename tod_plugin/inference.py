"""One batched pass over a pool that feeds several models per batch.

Each batch is prepared once (to the device, float, normalised) and given to every model under
``inference_mode`` and the net's autocast (``precision``); a scoring function reduces the models'
outputs to one score per sample straight away, so memory beyond the pool itself is one batch of
activations plus the score vector (and the outputs a caller asks to keep). Under
``torch.distributed`` the pool is sharded over the ranks (see :mod:`tod_plugin.distributed`).
Outputs known from an earlier pass (COD's reference, :func:`cached_outputs`) are not recomputed.
:func:`penultimate_features` is the same kind of pass for one model's features (Core-Set, BAL).
"""
import hashlib

import numpy as np
import torch

from . import distributed
from .batching import to_device
from .device import resolve_device
from .estimator import main_output
from .pool import PoolView, dtype_of, is_lazy
from .precision import resolve_precision


def score_pool(net, X, models, score_fn, *, known=None, keep=None):
    """Scores of ``score_fn(*[model(x) for model in models])`` over ``X``, as a float64 array.

    ``models`` are modules on the net's device (``net.module_`` and copies made with
    ``net.copy_module_with``), run in eval mode; inputs are prepared exactly as for
    ``net.predict_proba``.

    known : dict or None
        ``{i: lookup}``: ``lookup(start, stop)`` tells what is known of the outputs of
        ``models[i]`` on rows ``start:stop`` of ``X``: None, or ``(mask, outputs)`` with a boolean
        array ``mask`` and a CPU tensor ``outputs`` of one row per row (rows outside ``mask`` are
        ignored). ``models[i]`` is fed the other rows only. It is called once per batch, in pool
        order, before the batch's forward passes: per-row work there (hashing) overlaps with the
        device still computing earlier batches.
    keep : int or None
        Also return the outputs of ``models[keep]`` for every row (a CPU tensor): ``(scores, outputs)``.
    """
    known = known or {}
    run = _score_shards if distributed.is_active() else _score_rows
    scores, kept = run(net, X, models, score_fn, known, keep)
    scores = scores.numpy().astype(np.float64)
    return scores if keep is None else (scores, kept)


def _score_shards(net, X, models, score_fn, known, keep):
    """This rank's shard of whole batches, then every rank's results gathered in pool order."""
    distributed.broadcast_modules(models)
    bounds = [distributed.shard_bounds(len(X), net.eval_batch_size, r, distributed.world_size())
              for r in range(distributed.world_size())]
    start, stop = bounds[distributed.rank()]
    known = {i: (lambda a, b, lookup=lookup: lookup(start + a, start + b)) for i, lookup in known.items()}
    shard = PoolView(X, slice(start, stop)) if is_lazy(X) else X[start:stop]  # a lazy pool: read this shard only
    scores, kept = _score_rows(net, shard, models, score_fn, known, keep) if stop > start else (None, None)
    counts = [b - a for a, b in bounds]
    return distributed.gather_rows(scores, counts), (None if keep is None else distributed.gather_rows(kept, counts))


def _score_rows(net, X, models, score_fn, known, keep):
    was_training = [m.training for m in models]
    for m in models:
        m.eval()
    scores, kept, offset = [], [], 0
    try:
        with torch.inference_mode(), net.autocast():
            for x in net.iter_batches(X):
                rows = (offset, offset + len(x))
                offset += len(x)
                outputs = [_outputs(m, x, known[i](*rows) if i in known else None) for i, m in enumerate(models)]
                scores.append(score_fn(*outputs).float())  # stays on the device: no per-batch sync
                if keep is not None:
                    kept.append(outputs[keep])
    finally:
        for m, mode in zip(models, was_training):
            m.train(mode)
    return torch.cat(scores).cpu(), (torch.cat(kept).cpu() if keep is not None else None)


def _outputs(model, x, known):
    """``model(x)`` (main output); the rows ``known`` gives (``(mask, outputs)`` or None) are not recomputed."""
    mask, given = known if known is not None else (None, None)
    if mask is None or not mask.any():
        return main_output(model(x))
    if mask.all():
        return to_device(given, x.device)
    missing = to_device(torch.from_numpy(np.flatnonzero(~mask)), x.device)
    computed = main_output(model(x[missing]))
    out = to_device(given, x.device).to(computed.dtype, copy=True)
    out[missing] = computed
    return out


class RowKeys:
    """Content keys of the rows of ``X`` (the SHA-1 digest of each row's bytes, 160 bits), made on
    demand and kept: ``keys(start, stop)``, ``keys.all()`` (None for rows never asked for: under
    ``torch.distributed`` a rank hashes only its shard). Rows without a key are read as one slice."""

    def __init__(self, X):
        self.rows = X if is_lazy(X) else np.asarray(X)
        self.keys = [None] * len(self.rows)

    def __call__(self, start, stop):
        missing = [i for i in range(start, stop) if self.keys[i] is None]
        if missing:
            block = np.asarray(self.rows[missing[0]:missing[-1] + 1])
            for i in missing:
                self.keys[i] = hashlib.sha1(np.ascontiguousarray(block[i - missing[0]]), usedforsecurity=False).digest()
        return self.keys[start:stop]

    def all(self):
        return list(self.keys)


def input_setting(net, X):
    """What besides the weights and the row bytes decides a model's output on a pool row."""
    mean, std = net.normalize if net.normalize is not None else ((), ())
    device = resolve_device(net.device)
    return (type(net.module_), dtype_of(X).str, tuple(X.shape[1:]), torch.device(device).type,
            tuple(map(float, mean)), tuple(map(float, std)), net.uses_channels_last,
            resolve_precision(net.precision, device))


def same_state(a, b):
    """Exact equality of two state dicts (keys, dtypes, shapes and values)."""
    return a.keys() == b.keys() and all(a[k].dtype == b[k].dtype and torch.equal(a[k], b[k]) for k in a)


class OutputCache:
    """The outputs of one model ``state`` on pool rows (content ``keys``), for reuse when that state
    comes back; see :func:`cached_outputs`."""

    def __init__(self, state, setting, keys, outputs):
        self.state = state
        self.setting = setting
        self.index = {key: i for i, key in enumerate(keys) if key is not None}
        self.outputs = outputs


def cached_outputs(cache, state, setting, keys):
    """A ``score_pool`` lookup of the outputs ``cache`` holds for the rows keyed by ``keys`` (a
    :class:`RowKeys`), hashing each batch's rows as the batch comes.

    Outputs are reused only for what is provably the same computation: the cached state equal,
    tensor by tensor, to ``state``; the same :func:`input_setting` (module class, input dtype and
    shape, device type, normalisation, layout, precision); rows with the same bytes. Evaluation-mode
    outputs of a row do not depend on the other rows of its batch, so a reused output equals a
    recomputed one (bit for bit on CPU; on GPU up to the kernels the library picks for another
    batch size). Without a usable cache (None, another state or setting) nothing is known, and the
    rows are still hashed for the next cache.
    """
    usable = cache is not None and setting == cache.setting and same_state(state, cache.state)

    def known(start, stop):
        batch_keys = keys(start, stop)
        if not usable:
            return None
        index = np.fromiter((cache.index.get(key, -1) for key in batch_keys), dtype=np.intp, count=stop - start)
        mask = index >= 0
        return (mask, cache.outputs[torch.from_numpy(np.where(mask, index, 0))]) if mask.any() else None

    return known


def penultimate_features(net, X, module=None, dtype=torch.float32):
    """``module.forward_features`` of every row of ``X`` as one (N, F) tensor of ``dtype`` on the net's
    device, filled batch by batch (no other copy of the features is made).

    ``module`` defaults to ``net.module_``; it runs in eval mode (its mode is restored after), under
    the net's autocast (``precision``). Inputs are prepared exactly as for ``net.predict_proba``.
    """
    module = net.module_ if module is None else module
    if not hasattr(module, "forward_features"):
        raise TypeError(f"{type(module).__name__} has no forward_features(x) giving penultimate features")
    was_training = module.training
    module.eval()
    try:
        with torch.inference_mode(), net.autocast():
            out, offset = None, 0
            for x in net.iter_batches(X):
                features = module.forward_features(x).float().flatten(1)
                if out is None:
                    out = torch.empty((len(X), features.shape[1]), dtype=dtype, device=features.device)
                out[offset:offset + len(features)] = features
                offset += len(features)
            return out
    finally:
        module.train(was_training)
