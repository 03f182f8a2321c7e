"""Template tests run for every strategy, plus the mathematics of each."""
import copy
import warnings

import numpy as np
import pytest
from modAL.models import ActiveLearner
from modAL import uncertainty as modal_uncertainty
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from tod_plugin import modal_compat
from tod_plugin.errors import ConfigError, MissingHookError
from tod_plugin.hooks import EpochSnapshots, StepSnapshot
import tod_plugin.strategies as strategies_package
from tod_plugin.strategies import (BALSampler, BudgetAwareSampler, CODSampler, PT4ALSampler, ProbCoverSampler, TypiClustSampler,
                                   VAALSampler, badge_sampling, bald_sampling, cod_sampling, coreset_sampling,
                                   entropy_sampling, least_confidence_sampling, ll4al_sampling, margin_sampling,
                                   random_sampling, stconal_sampling, tod_sampling)

from nets import indices, make_net


def fresh(sampler_class, ascending=False, **params):
    """A stateful sampler as a plain strategy: a new sampler (seeded with the call's random_state) per call."""

    def query(classifier, X_pool, n_instances=1, *, random_state=None, **kwargs):
        sampler = sampler_class(**params, random_state=random_state)
        return sampler(classifier, X_pool, n_instances, random_state=random_state, **kwargs)

    query.__name__ = sampler_class.__name__
    query.scores_ascending = ascending  # BAL's cycle 0 returns CDD, smallest first
    return query


def ascending(strategy):
    """``strategy`` marked as returning its scores smallest first (margins)."""

    def query(*args, **kwargs):
        return strategy(*args, **kwargs)

    query.__name__ = strategy.__name__
    query.scores_ascending = True
    return query


bal = fresh(BALSampler, ascending=True, pretext_epochs=1)
pt4al = fresh(PT4ALSampler, pretext_epochs=1)
typiclust = fresh(TypiClustSampler, pretext_epochs=1)
probcover = fresh(ProbCoverSampler, pretext_epochs=1)
vaal = fresh(VAALSampler, epochs=1)


def auto(classifier, X_pool, n_instances=1, *, random_state=None, **kwargs):
    """The budget-aware sampler below its switch (60 labels < 10 per class x 10): a 1-epoch TypiClust."""
    sampler = BudgetAwareSampler(TypiClustSampler(pretext_epochs=1, random_state=random_state))
    return sampler(classifier, X_pool, n_instances, random_state=random_state, **kwargs)


auto.__name__ = "BudgetAwareSampler"
COD_SAMPLER = CODSampler()


def cod_sampler(classifier, X_pool, n_instances=1, **kwargs):
    """One CODSampler for every template call: its cache carries over between queries as in a learner's loop."""
    return COD_SAMPLER(classifier, X_pool, n_instances, **kwargs)


cod_sampler.__name__ = "CODSampler"
STRATEGIES = [random_sampling, cod_sampling, cod_sampler, tod_sampling, ll4al_sampling, stconal_sampling,
              coreset_sampling, bal, pt4al, entropy_sampling, ascending(margin_sampling), least_confidence_sampling,
              bald_sampling, badge_sampling, typiclust, probcover, vaal, auto]
NEEDS_LABELED_ROWS = {coreset_sampling, typiclust, probcover, vaal, auto}


def test_every_exported_strategy_has_the_template_tests():
    covered = {getattr(s, "__name__", None) for s in STRATEGIES}
    exported = set(strategies_package.__all__)
    assert exported <= covered, f"no template tests for {sorted(exported - covered)}"


def template_net(**overrides):
    """A net trained with what every strategy needs: the hooks and LL4AL's loss-prediction module."""
    return make_net(auxiliary="ll4al", callbacks=[StepSnapshot(), EpochSnapshots(start=1, every=1)],
                    module__dropout=0.3, **overrides)


def labeled_kwargs(strategy, learner):
    """What a bare net or a Pipeline needs to answer as the learner does (Core-Set's labeled set)."""
    return {"X_labeled": learner.X_training} if strategy in NEEDS_LABELED_ROWS else {}


@pytest.fixture(scope="module")
def fitted(digits):
    X, y = digits.X_train, digits.y_train
    net = template_net(warm_start=True)
    learner = ActiveLearner(estimator=net, query_strategy=cod_sampling, X_training=X[:60], y_training=y[:60])
    return learner, X[60:160]


def with_scores(strategy, *args, monkeypatch, **kwargs):
    monkeypatch.setattr(modal_compat, "QUERY_RETURNS_SCORES", True)
    return strategy(*args, **kwargs)


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("n", [1, 2, 37])
def test_unique_in_range_indices(fitted, strategy, n):
    learner, pool = fitted
    idx = indices(strategy(learner, pool, n, random_state=0))
    assert len(idx) == n and len(set(idx.tolist())) == n
    assert idx.min() >= 0 and idx.max() < len(pool)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_more_than_the_pool_returns_the_pool_with_a_warning(fitted, strategy):
    learner, pool = fitted
    with pytest.warns(UserWarning, match="whole pool"):
        idx = indices(strategy(learner, pool[:10], 25, random_state=0))
    assert sorted(idx.tolist()) == list(range(10))


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "3", None])
def test_bad_n_instances(fitted, strategy, bad):
    learner, pool = fitted
    with pytest.raises(ValueError, match="n_instances must be a positive int"):
        strategy(learner, pool, bad)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_empty_pool(fitted, strategy):
    learner, pool = fitted
    with pytest.raises(ConfigError, match="empty"):
        strategy(learner, pool[:0], 1)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_reproducible_under_random_state(fitted, strategy):
    learner, pool = fitted
    a = indices(strategy(learner, pool, 5, subset=30, random_state=7))
    b = indices(strategy(learner, pool, 5, subset=30, random_state=7))
    c = indices(strategy(learner, pool, 5, subset=30, random_state=8))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(np.sort(a), np.sort(c))


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_scores_are_in_decreasing_order(fitted, strategy, monkeypatch):
    learner, pool = fitted
    idx, scores = with_scores(strategy, learner, pool, 10, random_state=0, monkeypatch=monkeypatch)
    steps = -np.diff(scores) if getattr(strategy, "scores_ascending", False) else np.diff(scores)
    assert np.all(steps <= 0) and len(idx) == len(scores)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_both_query_contracts(fitted, strategy, monkeypatch):
    learner, pool = fitted
    monkeypatch.setattr(modal_compat, "QUERY_RETURNS_SCORES", False)
    assert isinstance(strategy(learner, pool, 3, random_state=0), np.ndarray)
    monkeypatch.setattr(modal_compat, "QUERY_RETURNS_SCORES", True)
    idx, scores = strategy(learner, pool, 3, random_state=0)
    assert idx.shape == scores.shape == (3,)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_modal_learner_calls_the_strategy_once(digits, strategy):
    calls = []

    def counted(*args, **kwargs):
        calls.append(1)
        return strategy(*args, **kwargs)

    X, y = digits.X_train, digits.y_train
    learner = ActiveLearner(estimator=template_net(max_epochs=1), query_strategy=counted,
                            X_training=X[:40], y_training=y[:40])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        idx, rows = learner.query(X[40:100], n_instances=4, random_state=0)
    assert len(calls) == 1
    assert len(idx) == 4 and len(rows) == 4


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_modal_0_4_2_style_query_calls_once(fitted, strategy, monkeypatch):
    """modAL 0.4.2 tries ``result, metrics = strategy(...)`` and calls again if that fails."""
    learner, pool = fitted
    monkeypatch.setattr(modal_compat, "QUERY_RETURNS_SCORES", True)
    calls = []

    def counted(*args, **kwargs):
        calls.append(1)
        return strategy(*args, **kwargs)

    try:
        idx, _ = counted(learner, pool, 2, random_state=0)
    except Exception:  # emulating modAL's fallback
        idx = counted(learner, pool, 2, random_state=0)
    assert len(calls) == 1 and len(idx) == 2


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_accepts_net_learner_and_pipeline(fitted, strategy):
    learner, pool = fitted
    net = learner.estimator
    pipe = make_pipeline(FunctionTransformer(lambda a: a), net)
    by_learner = indices(strategy(learner, pool, 4, random_state=3))
    extra = labeled_kwargs(strategy, learner)
    np.testing.assert_array_equal(indices(strategy(net, pool, 4, random_state=3, **extra)), by_learner)
    np.testing.assert_array_equal(indices(strategy(pipe, pool, 4, random_state=3, **extra)), by_learner)


@pytest.mark.parametrize("strategy", [cod_sampling, tod_sampling, ll4al_sampling, stconal_sampling, coreset_sampling,
                                      entropy_sampling, margin_sampling, least_confidence_sampling, bald_sampling,
                                      badge_sampling, vaal])
def test_unfitted_classifier(strategy, digits):
    with pytest.raises(ConfigError, match="not fitted"):
        strategy(make_net(), digits.X_train[:10], 1)


def test_wrong_classifier_type(digits):
    with pytest.raises(TypeError, match="classifier must be"):
        cod_sampling(object(), digits.X_train[:10], 1)


def reference_probabilities(net, state, X):
    twin = copy.deepcopy(net)
    twin.module_.load_state_dict(state)
    return twin.predict_proba(X)


def test_cod_scores_equal_the_formula(fitted, monkeypatch):
    learner, pool = fitted
    net = learner.estimator
    p = net.predict_proba(pool)
    q = reference_probabilities(net, net.reference_state_, pool)
    expected = 0.5 * ((p - q) ** 2).sum(axis=1)
    idx, scores = with_scores(cod_sampling, learner, pool, 10, monkeypatch=monkeypatch)
    np.testing.assert_array_equal(idx, np.argsort(-expected, kind="stable")[:10])
    np.testing.assert_allclose(scores, expected[idx], rtol=1e-4, atol=1e-7)


def test_tod_scores_equal_the_formula(fitted, monkeypatch):
    learner, pool = fitted
    net = learner.estimator
    p = net.predict_proba(pool)
    q = reference_probabilities(net, net.hook(StepSnapshot).snapshot_, pool)
    expected = 0.5 * ((p - q) ** 2).sum(axis=1)
    idx, scores = with_scores(tod_sampling, learner, pool, 10, monkeypatch=monkeypatch)
    np.testing.assert_array_equal(idx, np.argsort(-expected, kind="stable")[:10])


def test_cod_subset_scores_only_the_subset(fitted, monkeypatch):
    learner, pool = fitted
    rows = np.sort(np.random.RandomState(5).choice(len(pool), 30, replace=False))
    idx, _ = with_scores(cod_sampling, learner, pool, 30, subset=30, random_state=5, monkeypatch=monkeypatch)
    assert sorted(idx.tolist()) == rows.tolist()


def test_cod_first_cycle_lowest(digits, monkeypatch):
    X, y = digits.X_train, digits.y_train
    net = make_net(warm_start=True).fit(X[:60], y[:60])
    pool = X[60:160]
    _, high = with_scores(cod_sampling, net, pool, 5, monkeypatch=monkeypatch)
    _, low = with_scores(cod_sampling, net, pool, 5, first_cycle="lowest", monkeypatch=monkeypatch)
    assert np.all(np.diff(low) >= 0) and low.max() <= high.min()
    net.fit(X[:80], y[:80])
    _, later = with_scores(cod_sampling, net, pool, 5, first_cycle="lowest", monkeypatch=monkeypatch)
    assert np.all(np.diff(later) <= 0)
    with pytest.raises(ValueError, match="first_cycle"):
        cod_sampling(net, pool, 5, first_cycle="middle")


def test_tod_without_the_hook_says_which_hook(digits):
    net = make_net().fit(digits.X_train[:40], digits.y_train[:40])
    with pytest.raises(MissingHookError, match="StepSnapshot"):
        tod_sampling(net, digits.X_train[40:80], 2)


def test_random_sampling_is_uniform(digits):
    counts = np.zeros(20)
    for seed in range(2000):
        counts[indices(random_sampling(None, np.zeros((20, 1)), 3, random_state=seed))] += 1
    np.testing.assert_allclose(counts / 2000, 3 / 20, atol=0.03)


@pytest.mark.parametrize("modal_strategy", [modal_uncertainty.uncertainty_sampling, modal_uncertainty.margin_sampling,
                                            modal_uncertainty.entropy_sampling])
def test_modal_own_strategies_work_with_the_net(digits, modal_strategy):
    X, y = digits.X_train, digits.y_train
    learner = ActiveLearner(estimator=make_net(max_epochs=1), query_strategy=modal_strategy,
                            X_training=X[:40], y_training=y[:40])
    idx, _ = learner.query(X[40:100], n_instances=3)
    learner.teach(X[40:100][idx], y[40:100][idx])
    assert len(idx) == 3
