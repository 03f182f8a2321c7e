"""Make modAL 0.4.x work on current scikit-learn, and detect its query contract once.

* scikit-learn 1.6 renamed ``check_X_y(force_all_finite=)`` to ``ensure_all_finite`` (a
  FutureWarning on 1.6/1.7, a TypeError from 1.8). modAL binds ``check_X_y`` into its own modules
  at import time (``modAL.models.base`` in 0.4.1, ``modAL.models.learners`` in 0.4.2.1), so the fix
  rebinds those names to a translating wrapper. scikit-learn itself is never touched, and the
  patch is idempotent and applied only where the installed scikit-learn needs it.
* modAL 0.4.1's ``query`` expects a strategy to return indices; 0.4.2 unpacks
  ``(indices, scores)`` and calls the strategy a second time when that fails.
  :data:`QUERY_RETURNS_SCORES` tells :func:`query_result`, which every strategy returns through,
  which of the two to give; :func:`indices_and_scores` reads either back.
* modAL's ``query`` returns the queried rows through ``retrieve_rows``, which knows numpy, lists,
  pandas and scipy only: it is rebound (in the same modules, idempotently) so that lazily read
  pools (memory maps, h5py, zarr, :class:`~tod_plugin.pool.PoolView`) give their rows, read in order.
"""
import functools
import importlib
import inspect
import numbers

import numpy as np
import sklearn.utils
from modAL.models.base import BaseLearner

from .pool import is_lazy, read_in_order

_MODAL_MODULES = ("modAL.models.base", "modAL.models.learners")


def _needs_translation(check_X_y):
    return "ensure_all_finite" in inspect.signature(check_X_y).parameters


def _translating(check_X_y):
    @functools.wraps(check_X_y)
    def check_X_y_compat(*args, force_all_finite=None, **kwargs):
        if force_all_finite is not None:
            kwargs.setdefault("ensure_all_finite", force_all_finite)
        return check_X_y(*args, **kwargs)

    check_X_y_compat.translates_force_all_finite = True
    return check_X_y_compat


def _rebind(attribute, marker, wrap):
    """Replace ``attribute`` in each of modAL's modules that binds it by ``wrap(bound)``, unless it
    already carries ``marker`` (idempotent); returns the names of the modules patched."""
    patched = []
    for name in _MODAL_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        bound = getattr(module, attribute, None)
        if bound is None or getattr(bound, marker, False):
            continue
        setattr(module, attribute, wrap(bound))
        patched.append(name)
    return patched


def patch_modal_check_X_y():
    """Rebind ``check_X_y`` in modAL's modules; returns the names of the modules patched."""
    if not _needs_translation(sklearn.utils.check_X_y):
        return []
    return _rebind("check_X_y", "translates_force_all_finite", _translating)


def _reading_lazily(retrieve_rows):
    @functools.wraps(retrieve_rows)
    def retrieve_rows_compat(X, I):
        if not is_lazy(X) or isinstance(X, np.ndarray):
            return retrieve_rows(X, I)
        return np.asarray(X[int(I)]) if isinstance(I, numbers.Integral) else read_in_order(X, np.asarray(I))

    retrieve_rows_compat.reads_lazy_pools = True
    return retrieve_rows_compat


def patch_modal_retrieve_rows():
    """Rebind ``retrieve_rows`` in modAL's modules to read lazy pools; returns the names of the modules patched."""
    return _rebind("retrieve_rows", "reads_lazy_pools", _reading_lazily)


def _query_returns_scores():
    return "return_metrics" in inspect.signature(BaseLearner.query).parameters


patch_modal_check_X_y()
patch_modal_retrieve_rows()
QUERY_RETURNS_SCORES = _query_returns_scores()


class ScoredIndices(np.ndarray):
    """Pool indices, best first, that carry their ``scores``: what a strategy returns where the
    installed modAL's ``query`` takes indices only (0.4.1), so that callers outside modAL (the
    labeling loop's sheet) still read the scores. To modAL and numpy it is an index array."""

    scores = None

    def __array_finalize__(self, obj):
        self.scores = getattr(obj, "scores", None)


def query_result(indices, scores):
    """What the installed modAL's ``query`` expects: indices (0.4.1, as :class:`ScoredIndices`) or
    ``(indices, scores)`` (0.4.2+)."""
    indices, scores = np.asarray(indices, dtype=np.intp), np.asarray(scores, dtype=np.float64)
    if QUERY_RETURNS_SCORES:
        return indices, scores
    scored = indices.view(ScoredIndices)
    scored.scores = scores
    return scored


def indices_and_scores(result):
    """``(indices, scores)`` of what a strategy returned under either modAL contract (scores None
    where a strategy from elsewhere returned bare indices)."""
    if isinstance(result, tuple):
        return np.asarray(result[0], dtype=np.intp), np.asarray(result[1], dtype=np.float64)
    return np.asarray(result, dtype=np.intp), getattr(result, "scores", None)
