"""Core-Set: greedy k-center against brute force, in blocks; the strategy on the current model's features."""
import numpy as np
import pytest
import torch

from tod_plugin import modal_compat
from tod_plugin.errors import ConfigError
from tod_plugin.inference import penultimate_features
from tod_plugin.strategies import coreset_sampling
from tod_plugin.strategies.coreset import k_center_greedy


def brute_force_greedy(pool, labeled, n):
    """Greedy k-center by loops over every pair: the definition."""
    centers = [np.asarray(p) for p in labeled]
    picks, distances = [], []
    for _ in range(n):
        best, best_d = None, -1.0
        for i, x in enumerate(pool):
            if i in picks:
                continue
            d = min((np.linalg.norm(x - c) for c in centers), default=np.inf)
            if d > best_d:
                best, best_d = i, d
        picks.append(best)
        distances.append(best_d)
        centers.append(pool[best])
    return picks, distances


def test_k_center_on_a_line_by_hand():
    pool = torch.tensor([[0.5], [1.0], [2.0], [10.0]], dtype=torch.float64)
    picks, distances = k_center_greedy(pool, [torch.tensor([[0.0]], dtype=torch.float64)], 3)
    # 10 is farthest from 0 (10); then 2 (2 from 0, 8 from 10); then 1 (1 from 2 and from 0; 0.5 is 0.5 away)
    assert picks.tolist() == [3, 2, 1]
    np.testing.assert_allclose(distances, [10.0, 2.0, 1.0])


@pytest.mark.parametrize("block_size", [1, 3, 4096])
@pytest.mark.parametrize("n_labeled", [0, 7])
def test_k_center_equals_brute_force(block_size, n_labeled):
    rng = np.random.RandomState(0)
    pool, labeled = rng.randn(40, 3), rng.randn(n_labeled, 3)
    blocks = [torch.as_tensor(labeled[:4]), torch.as_tensor(labeled[4:])] if n_labeled else []
    picks, distances = k_center_greedy(torch.as_tensor(pool), blocks, 6, block_size=block_size, first=5)
    expected_picks, expected_distances = brute_force_greedy(pool, labeled, 6)
    if not n_labeled:
        # without a labeled set the first pick is the given one; brute force from the same start
        expected_picks, expected_distances = brute_force_greedy(pool, [pool[5]], 5)
        expected_picks, expected_distances = [5] + expected_picks, [np.inf] + expected_distances
    assert picks.tolist() == expected_picks
    np.testing.assert_allclose(distances, expected_distances, rtol=1e-9)
    assert np.all(np.diff(distances[1:]) <= 0)


def test_coreset_sampling_is_k_center_on_the_models_features(learner, digits, monkeypatch):
    pool = digits.X_train[60:200]
    net = learner.estimator
    pool_features = penultimate_features(net, pool).double().numpy()
    labeled_features = penultimate_features(net, learner.X_training).double().numpy()
    expected, expected_distances = brute_force_greedy(pool_features, labeled_features, 5)
    monkeypatch.setattr(modal_compat, "QUERY_RETURNS_SCORES", True)
    idx, distances = coreset_sampling(learner, pool, 5, block_size=16)
    assert idx.tolist() == expected
    np.testing.assert_allclose(distances, expected_distances, rtol=1e-3)


def test_bare_net_uses_X_labeled_or_starts_at_random(learner, digits, monkeypatch):
    pool, net = digits.X_train[60:200], learner.estimator
    monkeypatch.setattr(modal_compat, "QUERY_RETURNS_SCORES", True)
    with_labeled, _ = coreset_sampling(net, pool, 4, X_labeled=learner.X_training)
    np.testing.assert_array_equal(with_labeled, coreset_sampling(learner, pool, 4)[0])
    alone, distances = coreset_sampling(net, pool, 4, random_state=0)
    assert alone[0] == np.random.RandomState(0).randint(len(pool)) and np.isinf(distances[0])
    assert np.all(np.isfinite(distances[1:]))


def test_subset_restricts_the_candidates(learner, digits):
    pool = digits.X_train[60:200]
    rows = np.sort(np.random.RandomState(4).choice(len(pool), 20, replace=False))
    idx = coreset_sampling(learner, pool, 5, subset=20, random_state=4)
    assert set(np.asarray(idx).tolist()) <= set(rows.tolist())


@pytest.mark.parametrize("bad", [0, 2.5, True])
def test_bad_block_size(learner, digits, bad):
    with pytest.raises(ConfigError, match="block_size must be a positive int"):
        coreset_sampling(learner, digits.X_train[60:80], 2, block_size=bad)
