"""Base of the strategies that choose in a self-supervised feature space (TypiClust, ProbCover).

The features of every row of the trial's pool (labeled and unlabeled) are computed once, on the
first call: by the project's rotation pretext network (``tod_plugin.pretext``, as BAL and PT4AL
train it) or by a feature extractor the user gives; later calls map their rows back by content.
"""
import io
import json
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state

from ..atomic import atomic_write_bytes
from ..modal_compat import query_result
from ..pretext import PoolIndex, fit_rotation_pretext, pretext_features, pretext_net
from ._common import candidates, check_n_instances, check_sampler_param, pool_size
from .pt4al import _task_net


class FeatureSpaceSampler(BaseEstimator):
    """A stateful modAL query strategy choosing among pool rows by their self-supervised features.

    ``feature_extractor``: None (train the rotation pretext network on all rows of the first call,
    labeled and unlabeled: ``module``, ``pretext_epochs``, ``pretext_lr``, ``pretext_batch_size``,
    seeded by ``random_state``) or a function ``rows -> (N, F) array`` (e.g. an ImageNet
    ResNet-18's penultimate features), given the rows as the net sees them.
    ``cache``: a ``.npz`` path for the pretext features; loaded when made from the same rows with
    the same settings, else computed and written there atomically (never with a user extractor).
    The labeled rows are the modAL learner's ``X_training`` or ``X_labeled`` (rows as ``X_pool``).
    Fitted state: ``features_`` (float32, one row per first-call row), ``index_``.
    """

    owner = "sampler"

    def __call__(self, classifier, X_pool, n_instances=1, *, subset=None, random_state=None, X_labeled=None):
        """Choose ``n_instances`` rows of ``X_pool``; ``subset`` restricts the candidates to a random
        subset of the pool (drawn from ``random_state``), the feature space keeps every row."""
        n_pool = pool_size(X_pool)
        n_instances = check_n_instances(n_instances, n_pool)
        if X_labeled is None:
            X_labeled = getattr(classifier, "X_training", None)
        X_labeled = np.asarray(X_pool)[:0] if X_labeled is None else np.asarray(X_labeled)
        if not hasattr(self, "features_"):
            self.fit(classifier, np.concatenate([X_labeled, np.asarray(X_pool)]))
        labeled = (self.index_.positions(X_labeled, np.zeros(len(self.index_), dtype=bool), self.owner)
                   if len(X_labeled) else np.zeros(0, dtype=np.intp))
        taken = np.zeros(len(self.index_), dtype=bool)
        taken[labeled] = True
        pool = self.index_.positions(X_pool, taken, self.owner)
        rng = check_random_state(random_state)
        rows = candidates(n_pool, n_instances, subset, rng)
        chosen, scores = self._select(labeled, pool[rows], n_instances, rng)
        return query_result(rows[chosen], scores)

    def fit(self, classifier, X):
        """Compute (or load) the features of the rows ``X`` (as the caller sees them)."""
        self._check_params()
        self.index_ = PoolIndex(X)
        net, X_net = _task_net(classifier, X, need_fitted=False)
        if self.feature_extractor is not None:
            self.features_ = np.asarray(self.feature_extractor(X_net), dtype=np.float32).reshape(len(X), -1)
            return self
        fingerprint = self._fingerprint(net)
        self.features_ = self._load_cache(fingerprint)
        if self.features_ is None:
            (seed,) = check_random_state(self.random_state).randint(2**31 - 1, size=1)
            pretext = pretext_net(net, self.module, self.pretext_epochs, self.pretext_lr, self.pretext_batch_size,
                                  int(seed))
            self.features_ = pretext_features(fit_rotation_pretext(pretext, X_net), X_net).numpy()
            self._save_cache(fingerprint)
        return self

    def _select(self, labeled, candidates, n_instances, rng):
        """``(positions into candidates, scores)``, best first; positions are into ``features_``."""
        raise NotImplementedError

    def _check_params(self):
        if self.feature_extractor is not None and not callable(self.feature_extractor):
            raise TypeError(f"{self.owner}: feature_extractor must be None or a function rows -> (N, F) array, "
                            f"got {type(self.feature_extractor).__name__}")
        check_sampler_param(self.owner, "pretext_epochs", self.pretext_epochs, integral=True)
        check_sampler_param(self.owner, "pretext_batch_size", self.pretext_batch_size, integral=True)
        check_sampler_param(self.owner, "pretext_lr", self.pretext_lr)

    def _fingerprint(self, net):
        """What the pretext features depend on (shared by every sampler with the same settings)."""
        module = self.module or net.module
        params = {"pretext_epochs": self.pretext_epochs, "pretext_lr": self.pretext_lr,
                  "pretext_batch_size": self.pretext_batch_size, "random_state": self.random_state,
                  "module": getattr(module, "__name__", repr(module)),
                  "module_params": {} if self.module else net.get_params_for("module")}
        return json.dumps(params, sort_keys=True, default=repr)

    def _load_cache(self, fingerprint):
        if self.cache is None or not Path(self.cache).is_file():
            return None
        with np.load(self.cache, allow_pickle=False) as saved:
            if str(saved["fingerprint"]) != fingerprint or not np.array_equal(saved["row_keys"], self.index_.keys):
                return None
            return saved["features"]

    def _save_cache(self, fingerprint):
        if self.cache is None:
            return

        buffer = io.BytesIO()
        np.savez(buffer, fingerprint=fingerprint, row_keys=self.index_.keys, features=self.features_)
        Path(self.cache).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(self.cache, buffer.getvalue())

