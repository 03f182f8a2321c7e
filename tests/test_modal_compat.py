import importlib
import inspect
import warnings

import numpy as np
import sklearn.utils
from modAL.models import ActiveLearner

from tod_plugin import modal_compat
from tod_plugin.strategies import random_sampling

from nets import make_net


def test_patch_is_idempotent_and_leaves_sklearn_alone():
    original = sklearn.utils.check_X_y
    assert modal_compat.patch_modal_check_X_y() == []
    assert sklearn.utils.check_X_y is original
    needs = "ensure_all_finite" in inspect.signature(original).parameters
    for name in ("modAL.models.base", "modAL.models.learners"):
        bound = getattr(importlib.import_module(name), "check_X_y", None)
        if bound is not None:
            assert getattr(bound, "translates_force_all_finite", False) == needs


def test_force_all_finite_is_translated():
    wrapped = modal_compat._translating(sklearn.utils.check_X_y)
    X = np.ones((3, 2))
    X[0, 0] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        wrapped(X, np.arange(3), force_all_finite=False)


def test_active_learner_runs_without_warnings(digits):
    X, y = digits.X_train, digits.y_train
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        learner = ActiveLearner(estimator=make_net(max_epochs=1), query_strategy=random_sampling,
                                X_training=X[:30], y_training=y[:30])
        idx, _ = learner.query(X[30:90], n_instances=5, random_state=0)
        learner.teach(X[30:90][idx], y[30:90][idx])
    assert len(learner.y_training) == 35


def test_query_contract_matches_installed_modal():
    from modAL.models.base import BaseLearner

    assert modal_compat.QUERY_RETURNS_SCORES == ("return_metrics" in inspect.signature(BaseLearner.query).parameters)


def test_strategies_hand_back_scores_under_either_query_contract(monkeypatch):
    """modAL 0.4.1 takes an index array (which still carries the scores for other callers), 0.4.2+
    unpacks ``(indices, scores)``; ``indices_and_scores`` reads both."""
    indices, scores = [3, 0, 2], [0.9, 0.5, 0.1]
    monkeypatch.setattr(modal_compat, "QUERY_RETURNS_SCORES", False)
    bare = modal_compat.query_result(indices, scores)
    assert isinstance(bare, np.ndarray) and not isinstance(bare, tuple) and bare.tolist() == indices
    assert np.arange(5)[bare].tolist() == indices and type(np.asarray(bare)) is np.ndarray
    read = modal_compat.indices_and_scores(bare)
    monkeypatch.setattr(modal_compat, "QUERY_RETURNS_SCORES", True)
    pair = modal_compat.query_result(indices, scores)
    for got in (read, modal_compat.indices_and_scores(pair)):
        assert got[0].tolist() == indices and got[1].tolist() == scores
    assert modal_compat.indices_and_scores(np.array([1, 2]))[1] is None  # a strategy from elsewhere: no scores
