"""PT4AL: the pool ordered once by a self-supervised pretext loss, one batch of that order per cycle.

Yi et al., "Using Self-Supervised Pretext Tasks for Active Learning", ECCV 2022. Also the base of
BAL's sampler (``bal.py``): both order the pool they first see, then serve a window of the order
per call, mapping each later pool back to the first by row content.
"""
import io
import json
import warnings
import zipfile
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator

from ..atomic import atomic_write_bytes
from ..errors import ConfigError
from ..modal_compat import query_result
from ..validation import check_random_state
from ..estimator import ALNetClassifier
from ..pool import PoolView
from ..pretext import PoolIndex, fit_rotation_pretext, pretext_net, rotation_losses
from ..scoring import normalized_confidence
from ._common import check_n_instances, check_sampler_param, pool_size, resolve_net, top


def window_candidates(available, lo, hi, n_instances):
    """Ranks (positions in the order P) a call chooses from: the available ranks in ``[lo, hi)``.

    ``available`` is a boolean mask over ranks (unlabeled, still in the pool). If the window holds
    fewer than ``n_instances`` of them (end of P, a short window), the nearest available ranks
    outside it are added (distance in ranks to the window; ties: lower rank) up to ``n_instances``.
    Returned ascending.
    """
    ranks = np.flatnonzero(available)
    inside = (ranks >= lo) & (ranks < hi)
    if inside.sum() >= n_instances:
        return ranks[inside]
    distance = np.maximum(np.maximum(lo - ranks, ranks - hi + 1), 0)
    nearest = np.lexsort((ranks, distance))[:n_instances]
    return np.sort(ranks[nearest])


def _task_net(classifier, X_pool, need_fitted):
    """``(net, X)`` as :func:`resolve_net`; an unfitted bare ``ALNetClassifier`` passes when ``not need_fitted``."""
    estimator = getattr(classifier, "estimator", classifier)
    if not need_fitted and isinstance(estimator, ALNetClassifier) and not estimator.initialized_:
        return estimator, X_pool
    return resolve_net(classifier, X_pool)


class PretextOrderSampler(BaseEstimator):
    """Base of :class:`PT4ALSampler` and ``BALSampler``: a stateful modAL query strategy.

    The first call orders the pool it is given (``fit``: subclasses' ``_order``); every call is one
    cycle c = 0, 1, ... and chooses among the candidates of window c of that order (subclasses'
    ``_window``; :func:`window_candidates`), minus the rows already labeled: rows of the first pool
    missing from the current one (the ``np.delete`` pattern) and rows returned before. Cycle 0 is
    the initial labeled set, chosen from the order alone (subclasses' ``_first``): call
    :meth:`initial_indices` for it before building the learner, as the references do; a sampler
    whose first call is a query plays cycle 0 there. Later cycles take the least confident
    candidates under the current model, conf(x) = max softmax(z / ||z||_2) (both references
    L2-normalise the logits). Later pools are mapped to the first by row content
    (:class:`~tod_plugin.pretext.PoolIndex`); rows it never saw raise :class:`ConfigError`.

    ``cache``: a ``.npz`` path; the order is loaded from it when it was made from the same pool
    with the same parameters, else computed and written there (atomically).
    """

    owner = "sampler"
    _order_params = ("pretext_epochs", "pretext_lr", "pretext_batch_size", "pretext_augment", "random_state")

    def __call__(self, classifier, X_pool, n_instances=1, *, subset=None, random_state=None):
        """One cycle. ``subset`` and ``random_state`` are accepted for modAL / CLI compatibility and
        ignored: the window replaces the random subset, and the sampler's own ``random_state``
        seeds the pretext training and clustering."""
        return query_result(*self._cycle(classifier, X_pool, n_instances))

    def initial_indices(self, classifier, X_pool, n_instances):
        """Cycle 0: indices into ``X_pool`` of the ``n_instances`` rows to label first, from the order alone.

        ``classifier`` is the task net (fitted or not; a modAL learner or a Pipeline ending in one
        work too): the pretext network copies its module, device and augmentation. With modAL::

            first = sampler.initial_indices(net, X_pool, n_initial)
            learner = ActiveLearner(net, query_strategy=sampler, X_training=X_pool[first], y_training=y_pool[first])

        then query ``np.delete(X_pool, first, axis=0)`` as usual.
        """
        if getattr(self, "n_queries_", 0):
            raise ConfigError(f"{self.owner}.initial_indices: the initial set is cycle 0, the first call of a "
                              f"sampler; this one has served {self.n_queries_} cycle(s) — make a new {self.owner} "
                              "for a new run")
        return self._cycle(classifier, X_pool, n_instances)[0]

    def _cycle(self, classifier, X_pool, n_instances):
        """``(rows of X_pool, scores)`` of the next cycle's picks."""
        n_pool = pool_size(X_pool)
        n_instances = check_n_instances(n_instances, n_pool)
        cycle = getattr(self, "n_queries_", 0)
        net, X = _task_net(classifier, X_pool, need_fitted=cycle > 0)
        if not hasattr(self, "order_"):
            self.fit(net, X, X_pool)
        positions = self.index_.positions(X_pool, self.queried_, self.owner)
        row_of = np.full(len(self.index_), -1, dtype=np.intp)
        row_of[positions] = np.arange(n_pool)
        available = (row_of >= 0) & ~self.queried_
        if cycle == 0:
            self.first_size_ = n_instances
        lo, hi = self._window(cycle, n_instances)
        ranks = window_candidates(available[self.order_], lo, hi, n_instances)
        if cycle == 0:
            chosen = self._first(ranks, n_instances)
            scores = self.order_score_[self.order_[chosen]]
        else:
            rows = row_of[self.order_[ranks]]
            confidence = net.score_pool(PoolView(X, rows), normalized_confidence)
            best = top(confidence, n_instances, highest=False)
            chosen, scores = ranks[best], confidence[best]
        picked = self.order_[chosen]
        self.queried_[picked] = True
        self.n_queries_ = cycle + 1
        return row_of[picked], scores

    def fit(self, net, X, X_raw=None):
        """Order the pool ``X`` (the net's input; ``X_raw``, the rows as the caller sees them, keys it)."""
        self._check_params()
        X_raw = X if X_raw is None else X_raw
        self.index_ = PoolIndex(X_raw)
        fingerprint = self._fingerprint(net)
        loaded = self._load_cache(fingerprint)
        if loaded is None:
            loaded = self._order(net, X)
            self._save_cache(fingerprint, *loaded)
        self.order_, self.order_score_ = loaded
        self.queried_ = np.zeros(len(self.index_), dtype=bool)
        self.n_queries_ = 0
        return self

    # ------------------------------------------------------------------ shared pieces
    def _pretext(self, net, X, seed):
        """The rotation pretext network trained on ``X`` (see :func:`tod_plugin.pretext.pretext_net`)."""
        pretext = pretext_net(net, self.module, self.pretext_epochs, self.pretext_lr, self.pretext_batch_size, seed,
                              augment=self.pretext_augment)
        return fit_rotation_pretext(pretext, X)

    def _seeds(self, n):
        rng = check_random_state(self.random_state)
        return [int(s) for s in rng.randint(2**31 - 1, size=n)]

    def _check_params(self):
        check_sampler_param(self.owner, "pretext_epochs", self.pretext_epochs, integral=True)
        check_sampler_param(self.owner, "pretext_batch_size", self.pretext_batch_size, integral=True)
        check_sampler_param(self.owner, "pretext_lr", self.pretext_lr)
        if not isinstance(self.pretext_augment, (bool, np.bool_)):
            raise ConfigError(f"{self.owner}: pretext_augment must be True or False, got {self.pretext_augment!r}")

    def _fingerprint(self, net):
        """What the order depends on: the ordering parameters, the module and the settings from the net."""
        params = {name: getattr(self, name) for name in self._order_params}
        module = self.module or net.module
        params.update(self._resolved(net), sampler=type(self).__name__, module=getattr(module, "__name__", repr(module)))
        return json.dumps(params, sort_keys=True, default=repr)

    def _resolved(self, net):
        """Settings derived from the task net that change the order (subclasses add theirs)."""
        return {}

    def _load_cache(self, fingerprint):
        if self.cache is None or not Path(self.cache).is_file():
            return None
        try:  # allow_pickle=False: an object array is refused like any damage, and the order rebuilt
            with np.load(self.cache, allow_pickle=False) as saved:
                if str(saved["fingerprint"]) != fingerprint or not np.array_equal(saved["row_keys"], self.index_.keys):
                    return None
                order, order_score = saved["order"], saved["order_score"]
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            warnings.warn(f"{self.owner}: the pool-order cache {self.cache} is damaged; it is rebuilt", stacklevel=3)
            return None
        n = len(self.index_)
        if order.shape != (n,) or order_score.shape != (n,) or not np.array_equal(np.sort(order), np.arange(n)):
            return None
        return order, order_score

    def _save_cache(self, fingerprint, order, order_score):
        if self.cache is None:
            return

        buffer = io.BytesIO()
        np.savez(buffer, fingerprint=fingerprint, row_keys=self.index_.keys, order=order, order_score=order_score)
        Path(self.cache).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(self.cache, buffer.getvalue())


class PT4ALSampler(PretextOrderSampler):
    """PT4AL as a modAL query strategy: ``ActiveLearner(..., query_strategy=PT4ALSampler(random_state=0))``.

    On its first call it trains the rotation pretext network on the pool (no labels; ``module``,
    ``pretext_epochs``, ``pretext_lr``, ``pretext_batch_size``, ``pretext_augment``; see
    ``tod_plugin.pretext``; the reference trains 15 epochs on unaugmented images) and orders the
    pool by per-image pretext loss, DESCENDING (hard first) -> P of length N, cut into
    ``n_batches`` equal batches, P[floor(c N / n_batches) : floor((c + 1) N / n_batches)] for
    cycle c (``n_batches=None``: the initial set, then chunks of ``n_instances``). Cycle 0, the
    initial labeled set (:meth:`initial_indices`), takes ``n_instances`` evenly spaced ranks of
    batch 0; later cycles the ``n_instances`` of batch c with the LOWEST
    conf(x) = max softmax(z / ||z||_2) under the current model. Past the last batch (or when a
    batch has too few unlabeled rows) the nearest unlabeled ranks fill in (:func:`window_candidates`).

    Returned scores: the pretext loss in cycle 0, the confidence later. Fitted state: ``order_``
    (first-pool positions in P order), ``order_score_`` (pretext loss per position),
    ``queried_``, ``n_queries_``, ``first_size_``, ``index_``.
    """

    owner = "PT4ALSampler"

    def __init__(self, n_batches=10, pretext_epochs=15, pretext_lr=0.1, pretext_batch_size=256, pretext_augment=False,
                 module=None, cache=None, random_state=None):
        self.n_batches = n_batches
        self.pretext_epochs = pretext_epochs
        self.pretext_lr = pretext_lr
        self.pretext_batch_size = pretext_batch_size
        self.pretext_augment = pretext_augment
        self.module = module
        self.cache = cache
        self.random_state = random_state

    def _check_params(self):
        super()._check_params()
        check_sampler_param(self.owner, "n_batches", self.n_batches, integral=True, none_ok=True)

    def _order(self, net, X):
        (seed,) = self._seeds(1)
        losses = rotation_losses(self._pretext(net, X, seed), X)
        return np.argsort(-losses, kind="stable"), losses

    def _window(self, cycle, n_instances):
        n = len(self.index_)
        if self.n_batches is None:  # after the initial set, chunks of the query size
            lo = 0 if cycle == 0 else self.first_size_ + (cycle - 1) * n_instances
            return lo, lo + n_instances
        return cycle * n // self.n_batches, (cycle + 1) * n // self.n_batches

    def _first(self, ranks, n_instances):
        return ranks[np.arange(n_instances) * len(ranks) // n_instances]
