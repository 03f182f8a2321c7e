"""One batched pass over a pool that feeds several models per batch.

Each batch is prepared once (to the device, float, normalised) and given to every model under
``inference_mode`` and the net's autocast (``precision``); a scoring function reduces the models'
outputs to one score per sample straight away, so memory beyond the pool itself is one batch of
activations plus the score vector (and the outputs a caller asks to keep). Under
``torch.distributed`` the pool is sharded over the ranks (see :mod:`tod_plugin.distributed`).
Outputs known from an earlier pass (COD's reference, :func:`cached_outputs`) are not recomputed;
the rows are keyed by content (:class:`RowKeys`) from the same read that feeds the models.
:func:`penultimate_features` is the same kind of pass for one model's features (Core-Set, BAL).
Strategies reach these through the net's interface (:mod:`tod_plugin.net_interface`).
"""
import dataclasses
import hashlib

import numpy as np
import torch

from . import distributed
from .batching import to_device
from .device import resolve_device
from .outputs import main_output
from .pool import PoolView, dtype_of, is_lazy
from .precision import resolve_precision


def score_pool(net, X, models, score_fn, *, known=None, keep=None):
    """Scores of ``score_fn(*[model(x) for model in models])`` over ``X``, as a float64 array.

    ``models`` are modules on the net's device (``net.module_`` and copies made with
    ``net.copy_module_with``), run in eval mode; inputs are prepared exactly as for
    ``net.predict_proba``.

    known : dict or None
        ``{i: lookup}``: ``lookup(start, stop, rows)`` tells what is known of the outputs of
        ``models[i]`` on rows ``start:stop`` of ``X`` (``rows``: those rows as read for the batch,
        a numpy array): None, or ``(mask, outputs)`` with a boolean array ``mask`` and a CPU tensor
        ``outputs`` of one row per row (rows outside ``mask`` are ignored). ``models[i]`` is fed the
        other rows only. It is called once per batch, in pool order, before the batch's forward
        passes: per-row work there (hashing) overlaps with the device still computing earlier batches.
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
    known = {i: (lambda a, b, rows, lookup=lookup: lookup(start + a, start + b, rows)) for i, lookup in known.items()}
    shard = PoolView(X, slice(start, stop)) if is_lazy(X) else X[start:stop]  # a lazy pool: read this shard only
    scores, kept = _score_rows(net, shard, models, score_fn, known, keep) if stop > start else (None, None)
    counts = [b - a for a, b in bounds]
    return distributed.gather_rows(scores, counts), (None if keep is None else distributed.gather_rows(kept, counts))


def _score_rows(net, X, models, score_fn, known, keep):
    """Scores (and ``models[keep]``'s outputs) of every row, written into tensors of the pool's length
    made at the first batch: no per-batch pieces to concatenate, whose small long-lived blocks
    between each batch's large transient ones would make the process's heap grow with the pool."""
    was_training = [m.training for m in models]
    for m in models:
        m.eval()
    scores, kept, offset = None, None, 0
    try:
        with torch.inference_mode(), net.autocast():
            for read, x in _read_batches(net, X, bool(known)):
                start, offset = offset, offset + len(x)
                rows = _host_rows(read, X, start, offset) if known else None
                outputs = [_outputs(m, x, known[i](start, offset, rows) if i in known else None)
                           for i, m in enumerate(models)]
                batch_scores = score_fn(*outputs).float()  # stays on the device: no per-batch sync
                if scores is None:
                    scores = batch_scores.new_empty((len(X), *batch_scores.shape[1:]))
                    if keep is not None:
                        kept = outputs[keep].new_empty((len(X), *outputs[keep].shape[1:]))
                scores[start:offset] = batch_scores
                if keep is not None:
                    kept[start:offset] = outputs[keep]
    finally:
        for m, mode in zip(models, was_training):
            m.train(mode)
    if scores is None:  # an empty pool
        return torch.empty(0), (torch.empty(0) if keep is not None else None)
    return scores.cpu(), (kept.cpu() if keep is not None else None)


class _KeepRows:
    """A batch preparer that also keeps the rows it is given: the batch as read from the pool."""

    def __init__(self, prepare):
        self.prepare, self.rows = prepare, None

    def __call__(self, x, training, generator=None):
        self.rows = x
        return self.prepare(x, training, generator)


def _read_batches(net, X, keep_rows):
    """``(rows as read, prepared batch)`` of each evaluation batch of ``X`` (``net.iter_batches``);
    the rows only with ``keep_rows`` (None otherwise)."""
    if not keep_rows:
        for x in net.iter_batches(X):
            yield None, x
        return
    iterator = net.get_iterator(net.get_dataset(X), training=False)
    iterator.prepare = keep = _KeepRows(iterator.prepare)
    for x, _ in iterator:
        yield keep.rows, x


def _host_rows(read, X, start, stop):
    """The batch's rows as a host numpy array: the rows read for it (a lazy pool's slice, a CPU
    array's view), or for a pool resident on the device, the same rows of the in-memory ``X``."""
    if read.device.type == "cpu":
        return read.numpy()
    return np.asarray(X[start:stop])


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
    """Content keys of the rows of a pool of ``n_rows`` rows: the 128-bit BLAKE2b digest of each
    row's bytes, in one numpy array (16 bytes a row, no Python object per row), filled batch by
    batch from the rows a pass reads (:meth:`add`). Rows never added (under ``torch.distributed``,
    the other ranks' shards) stay unkeyed (``hashed`` is False). Two different rows get the same
    key with probability about N^2 / 2^129 (1e-27 for a million rows)."""

    def __init__(self, n_rows):
        self.keys = np.zeros(n_rows, dtype="S16")
        self.hashed = np.zeros(n_rows, dtype=bool)

    def add(self, start, rows):
        """Key ``rows`` (an array of rows ``start:start + len(rows)``); returns their keys."""
        rows = np.ascontiguousarray(rows)
        stop = start + len(rows)
        for i, row in enumerate(rows):
            self.keys[start + i] = hashlib.blake2b(row, digest_size=16).digest()
        self.hashed[start:stop] = True
        return self.keys[start:stop]


#: Fields of the batch preparer that act on training batches only (augmentation): not part of a setting.
TRAINING_ONLY = ("crop_padding", "hflip")


def input_setting(net, X, module_class=True):
    """What besides the weights and the row bytes decides a model's output on a row of ``X``: the
    module class, the rows' dtype and shape, the net's batch preparer (every field of
    ``net.batch_preparer`` but the :data:`TRAINING_ONLY` ones: device, normalisation, layout) and
    precision; as a 16-byte digest. ``module_class=False`` leaves the module class out (members of
    a Committee)."""
    preparer = net.batch_preparer
    fields = tuple((f.name, _plain(getattr(preparer, f.name))) for f in dataclasses.fields(preparer)
                   if f.name not in TRAINING_ONLY)
    setting = (type(preparer).__qualname__, fields, dtype_of(X).str, tuple(X.shape[1:]),
               resolve_precision(net.precision, resolve_device(net.device)))
    if module_class:
        module = type(net.module_)
        setting = (f"{module.__module__}.{module.__qualname__}",) + setting
    return hashlib.blake2b(repr(setting).encode(), digest_size=16).digest()


def _plain(value):
    """A preparer field in a canonical form: sequences and arrays of numbers as tuples of floats."""
    if isinstance(value, (tuple, list, np.ndarray)):
        return tuple(float(v) for v in np.ravel(np.asarray(value, dtype=np.float64)))
    return value


def same_state(a, b):
    """Exact equality of two state dicts (keys, dtypes, shapes and values)."""
    return a.keys() == b.keys() and all(a[k].dtype == b[k].dtype and torch.equal(a[k], b[k]) for k in a)


class OutputCache:
    """The outputs of one model ``state`` on pool rows, for reuse when that state comes back (see
    :func:`cached_outputs`): ``sorted_keys`` (the rows' content keys, ascending, 16 bytes a row) and
    ``rows`` (the row of ``outputs`` each key names, 8 bytes), searched by bisection. Build one
    with :meth:`of_rows`."""

    def __init__(self, state, setting, sorted_keys, rows, outputs):
        self.state = state
        self.setting = setting
        self.sorted_keys = sorted_keys
        self.rows = rows
        self.outputs = outputs

    @classmethod
    def of_rows(cls, state, setting, keys, outputs):
        """The cache of ``outputs`` (one per row) of the rows ``keys`` (a :class:`RowKeys`) has keyed."""
        if keys.hashed.all():
            rows = np.argsort(keys.keys, kind="stable")
            sorted_keys = keys.keys[rows]
        else:
            hashed = np.flatnonzero(keys.hashed)
            order = np.argsort(keys.keys[hashed], kind="stable")
            rows, sorted_keys = hashed[order], keys.keys[hashed[order]]
        return cls(state, setting, sorted_keys, rows, outputs)

    def find(self, keys):
        """Rows of ``outputs`` of ``keys`` (an ``S16`` array), -1 for keys not in the cache."""
        if not len(self.sorted_keys):
            return np.full(len(keys), -1, dtype=np.intp)
        at = np.minimum(np.searchsorted(self.sorted_keys, keys), len(self.sorted_keys) - 1)
        return np.where(self.sorted_keys[at] == keys, self.rows[at], -1)


def cached_outputs(cache, state, setting, keys):
    """A ``score_pool`` lookup of the outputs ``cache`` holds for the rows of each batch, keying the
    batch's rows in ``keys`` (a :class:`RowKeys`) as the batch comes.

    Outputs are reused only for what is provably the same computation: the cached state equal,
    tensor by tensor, to ``state``; the same :func:`input_setting` (module class, input dtype and
    shape, batch preparer, precision); rows with the same bytes. Evaluation-mode outputs of a row
    do not depend on the other rows of its batch, so a reused output equals a recomputed one (bit
    for bit on CPU; on GPU up to the kernels the library picks for another batch size). Without a
    usable cache (None, another state or setting) nothing is known, and the rows are still keyed
    for the next cache.
    """
    usable = cache is not None and setting == cache.setting and same_state(state, cache.state)

    def known(start, stop, rows):
        batch_keys = keys.add(start, rows)
        if not usable:
            return None
        index = cache.find(batch_keys)
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
