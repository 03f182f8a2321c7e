"""BAL: CDD, the normalised confidence, the window rule, the initial set, pool mapping, caching, the modAL loop."""
import json
import math

import numpy as np
import pytest
import torch
from modAL.models import ActiveLearner

from tod_plugin import modal_compat
import tod_plugin.strategies.pt4al as pt4al_module
from tod_plugin.errors import ConfigError
from tod_plugin.experiment import RunConfig
from tod_plugin.experiment.strategies import STRATEGIES
from tod_plugin.inference import score_pool
from tod_plugin.scoring import cluster_distance_difference, normalized_confidence
from tod_plugin.strategies import BALSampler
from tod_plugin.strategies.bal import bal_window
from tod_plugin.strategies.pt4al import window_candidates

from nets import indices, make_net


@pytest.fixture
def pool(digits):
    return digits.X_train[60:160]


def with_order(monkeypatch, order):
    """Replace the pretext + k-means stage by a known order P (CDD = rank)."""
    def fixed(self, net, X):
        assert len(X) == len(order)
        score = np.empty(len(order))
        score[order] = np.arange(len(order))
        return np.asarray(order), score

    monkeypatch.setattr(BALSampler, "_order", fixed)


# ---------------------------------------------------------------- scores
def test_cdd_is_d2_minus_d1_on_a_toy_clustering():
    centroids = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    points = torch.tensor([[1.0, 0.0], [5.0, 0.0], [3.0, 4.0]])
    # (1,0): d = 1, 9, sqrt(101) -> 8; (5,0): 5, 5, sqrt(125) -> 0; (3,4): 5, sqrt(65), sqrt(45) -> sqrt(45) - 5
    expected = [8.0, 0.0, math.sqrt(45) - 5]
    np.testing.assert_allclose(cluster_distance_difference(points, centroids).numpy(), expected, rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="at least 2 centroids"):
        cluster_distance_difference(points, centroids[:1])


def test_normalized_confidence_by_hand():
    z = torch.tensor([[3.0, 4.0], [0.0, 0.0], [30.0, 40.0]])
    # ||z|| = 5 -> [0.6, 0.8]: max softmax = 1 / (1 + e^-0.2); zero logits: uniform; scale-free
    top = 1.0 / (1.0 + math.exp(-0.2))
    np.testing.assert_allclose(normalized_confidence(z).numpy(), [top, 0.5, top], rtol=1e-6)


# ---------------------------------------------------------------- the window rule
@pytest.mark.parametrize("n, stride, beta, table", [
    # h = (beta - 1) A / 2 rounded half up; W_0 = [0, max(A, A + 2h)), W_c = [c A - h, (c + 1) A + h) clipped
    (20, 4, 1.5, [(0, 6), (3, 9), (7, 13), (11, 17), (15, 20), (19, 20)]),  # h = 1
    (20, 4, 1.0, [(0, 4), (4, 8), (8, 12), (12, 16), (16, 20), (20, 20)]),  # pure CDD chunks
    (20, 4, 2.0, [(0, 8), (2, 10), (6, 14), (10, 18), (14, 20), (18, 20)]),  # h = 2
    (30, 5, 1.3, [(0, 7), (4, 11), (9, 16), (14, 21), (19, 26), (24, 30)]),  # h = 0.75 -> 1
    (20, 4, 0.5, [(0, 4), (5, 7), (9, 11), (13, 15), (17, 19), (20, 20)]),  # h = -1: the centre of each stride
])
def test_bal_window_table(n, stride, beta, table):
    assert [bal_window(c, stride, beta, n) for c in range(len(table))] == table


# Worked by hand: N = 100, stride A = 20, initial set n0 = 10 (a budget of its own), cycles 0..5.
# h = floor((beta - 1) * 20 / 2 + 1/2); W_0 = [0, max(n0, A + 2h)); W_c = [n0 + (c-1) A - h, n0 + c A + h) in [0, N]
@pytest.mark.parametrize("beta, table", [
    (0.5, [(0, 10), (15, 25), (35, 45), (55, 65), (75, 85), (95, 100)]),  # h = -5: beta A = 10 of every 20
    (1.0, [(0, 20), (10, 30), (30, 50), (50, 70), (70, 90), (90, 100)]),  # h = 0
    (1.2, [(0, 24), (8, 32), (28, 52), (48, 72), (68, 92), (88, 100)]),  # h = 2
    (2.0, [(0, 40), (0, 40), (20, 60), (40, 80), (60, 100), (80, 100)]),  # h = 10
])
def test_bal_window_with_a_stride_of_its_own(beta, table):
    assert [bal_window(c, 20, beta, 100, initial=10) for c in range(6)] == table


@pytest.mark.parametrize("beta", [1.0, 1.2, 1.5, 2.0, 2.5])
def test_consecutive_windows_never_skip_a_range(beta):
    windows = [bal_window(c, 2500, beta, 50000, initial=5000) for c in range(20)]
    assert windows[0][0] == 0 and windows[-1][1] == 50000
    assert all(nxt[0] <= cur[1] for cur, nxt in zip(windows, windows[1:]))
    assert bal_window(1, 2500, 1.2, 50000) == (2250, 5250)  # the paper setting: 1.2 x 2500 wide


def test_window_candidates_drop_the_labeled_and_fill_short_windows():
    available = np.ones(12, dtype=bool)
    available[[3, 4]] = False
    np.testing.assert_array_equal(window_candidates(available, 2, 7, 2), [2, 5, 6])
    # 3 wanted, window [2, 5) holds only rank 2: the nearest outside (5 at distance 1, then 1 before 6) fill in
    np.testing.assert_array_equal(window_candidates(available, 2, 5, 3), [1, 2, 5])
    np.testing.assert_array_equal(window_candidates(available, 12, 12, 2), [10, 11])  # past the end of P


# ---------------------------------------------------------------- the sampler
def run_cycles(learner, X, sampler, cycles, n):
    """The modAL np.delete pattern; returns the rank in P of every pick, per cycle."""
    picked_ranks, pool, rows = [], X, np.arange(len(X))
    for _ in range(cycles):
        idx = indices(sampler(learner, pool, n))
        original = rows[idx]
        picked_ranks.append(np.sort(rank_of(sampler, original)))
        pool, rows = np.delete(pool, idx, axis=0), np.delete(rows, idx)
    return picked_ranks


def rank_of(sampler, positions):
    rank = np.empty(len(sampler.order_), dtype=int)
    rank[sampler.order_] = np.arange(len(sampler.order_))
    return rank[positions]


def test_beta_1_takes_consecutive_chunks_of_p(learner, pool, monkeypatch):
    with_order(monkeypatch, np.random.RandomState(0).permutation(len(pool)))
    ranks = run_cycles(learner, pool, BALSampler(beta=1.0), cycles=5, n=7)
    for c, r in enumerate(ranks):
        np.testing.assert_array_equal(r, np.arange(7 * c, 7 * c + 7))


def test_cycles_follow_the_windows_and_never_relabel(learner, pool, monkeypatch):
    order = np.random.RandomState(1).permutation(len(pool))
    with_order(monkeypatch, order)
    sampler = BALSampler(beta=2.0)
    ranks = run_cycles(learner, pool, sampler, cycles=6, n=6)
    np.testing.assert_array_equal(ranks[0], np.arange(6))  # cycle 0: the first b of W_0 = P[0:9]
    for c, r in enumerate(ranks[1:], start=1):
        lo, hi = bal_window(c, 6, 2.0, len(pool))
        assert r.min() >= lo and r.max() < hi
    everything = np.concatenate(ranks)
    assert len(np.unique(everything)) == len(everything) == 36


def test_later_cycles_take_the_lowest_normalized_confidence(learner, pool, monkeypatch):
    order = np.arange(len(pool))[::-1]
    with_order(monkeypatch, order)
    monkeypatch.setattr(modal_compat, "QUERY_RETURNS_SCORES", True)
    sampler = BALSampler(beta=2.0)
    first, _ = sampler(learner, pool, 5)
    np.testing.assert_array_equal(first, order[:5])
    rest = np.delete(pool, first, axis=0)
    rows = np.delete(np.arange(len(pool)), first)
    idx, scores = sampler(learner, rest, 5)
    window = order[5:13]  # h = 3: W_1 = P[2:13] minus the 5 labeled P[0:5]
    conf = score_pool(learner.estimator, pool[window], [learner.estimator.module_], normalized_confidence)
    expected = window[np.argsort(conf, kind="stable")[:5]]
    np.testing.assert_array_equal(rows[idx], expected)
    np.testing.assert_allclose(scores, np.sort(conf)[:5], rtol=1e-6)


def test_a_fixed_pool_is_not_queried_twice(learner, pool, monkeypatch):
    with_order(monkeypatch, np.arange(len(pool)))
    sampler = BALSampler(beta=1.5)
    picks = [indices(sampler(learner, pool, 4)) for _ in range(3)]  # the user keeps the rows in the pool
    assert len(np.unique(np.concatenate(picks))) == 12


def test_duplicate_rows_stay_queryable(learner, pool, monkeypatch):
    X = np.concatenate([pool[:10], pool[:1]])  # row 10 repeats row 0
    with_order(monkeypatch, np.array([0, 10] + list(range(1, 10))))
    sampler = BALSampler(beta=1.0)
    first = indices(sampler(learner, X, 1))
    assert first.tolist() == [0]
    rest = np.delete(X, first, axis=0)  # the copy left behind is now the last row
    assert indices(sampler(learner, rest, 1)).tolist() == [len(rest) - 1]


def test_rows_it_never_saw_are_refused(learner, pool, digits):
    sampler = BALSampler(pretext_epochs=1, random_state=0)
    sampler(learner, pool, 2)
    with pytest.raises(ConfigError, match="not in the pool this BALSampler was fitted on"):
        sampler(learner, np.concatenate([pool[5:20], digits.X_train[300:301]]), 2)
    with pytest.raises(ConfigError, match="shape"):
        sampler(learner, pool[:, :, :4], 2)


def test_real_order_is_cdd_ascending(learner, pool):
    sampler = BALSampler(pretext_epochs=1, random_state=0)
    sampler(learner, pool, 3)
    assert sorted(sampler.order_.tolist()) == list(range(len(pool)))
    assert np.all(np.diff(sampler.order_score_[sampler.order_]) >= 0) and np.all(sampler.order_score_ >= 0)


def test_the_order_is_cached_and_reused(learner, pool, tmp_path, monkeypatch):
    cache = tmp_path / "cache" / "bal_trial0.npz"
    first = BALSampler(pretext_epochs=1, cache=cache, random_state=0)
    first(learner, pool, 3)
    assert cache.is_file()

    def no_training(*args, **kwargs):
        raise AssertionError("the pretext network was trained again")

    monkeypatch.setattr(pt4al_module, "fit_rotation_pretext", no_training)
    again = BALSampler(beta=2.0, pretext_epochs=1, cache=cache, random_state=0)  # beta does not change the order
    again(learner, pool, 3)
    np.testing.assert_array_equal(again.order_, first.order_)
    with pytest.raises(AssertionError, match="trained again"):  # another seed: another order
        BALSampler(pretext_epochs=1, cache=cache, random_state=1)(learner, pool, 3)
    with pytest.raises(AssertionError, match="trained again"):  # another pool
        BALSampler(pretext_epochs=1, cache=cache, random_state=0)(learner, pool[:-1], 3)


def test_the_first_query_needs_no_fitted_model(pool):
    net = make_net()
    sampler = BALSampler(pretext_epochs=1, random_state=0)
    assert len(indices(sampler(net, pool, 4))) == 4
    with pytest.raises(ConfigError, match="not fitted"):
        sampler(net, pool, 4)


# ---------------------------------------------------------------- the initial set and the stride
def fitted_learner(pool, digits, rows):
    X, y = pool[rows], digits.y_train[60:160][rows]
    return ActiveLearner(estimator=make_net(max_epochs=1), X_training=X, y_training=y)


@pytest.mark.parametrize("first, ranks", [
    ("high1st", list(range(10))),  # W_0 = P[0:12] (beta 1.2 x 10): its first 10
    ("low1st", list(range(2, 12))),  # its last 10
    ("uni", [0, 1, 2, 3, 4, 6, 7, 8, 9, 10]),  # 10 evenly spaced: floor(j * 12 / 10)
])
def test_the_initial_set_is_chosen_from_the_first_window(pool, first, ranks):
    sampler = BALSampler(beta=1.2, first=first, pretext_epochs=1, random_state=0)
    picked = sampler.initial_indices(make_net(), pool, 10)
    np.testing.assert_array_equal(np.sort(rank_of(sampler, picked)), ranks)


def test_a_random_first_set_is_seeded_and_stays_in_the_first_window(pool):
    picks = [BALSampler(beta=2.0, first="rand", pretext_epochs=1, random_state=0).initial_indices(make_net(), pool, 5)
             for _ in range(2)]
    np.testing.assert_array_equal(picks[0], picks[1])
    sampler = BALSampler(beta=2.0, first="rand", pretext_epochs=1, random_state=0)
    ranks = rank_of(sampler, sampler.initial_indices(make_net(), pool, 5))
    assert ranks.max() < 11 and not np.array_equal(np.sort(ranks), np.arange(5))  # h = 3: W_0 = P[0:11]


def test_the_first_query_after_the_initial_set_is_a_cycle_1_window_scored_by_the_model(pool, digits, monkeypatch):
    monkeypatch.setattr(modal_compat, "QUERY_RETURNS_SCORES", True)
    sampler = BALSampler(beta=2.0, stride=10, pretext_epochs=1, random_state=0)
    first = sampler.initial_indices(make_net(), pool, 10)
    np.testing.assert_array_equal(first, sampler.order_[:10])
    learner = fitted_learner(pool, digits, first)
    rest_rows = np.delete(np.arange(len(pool)), first)
    idx, scores = sampler(learner, pool[rest_rows], 5)
    window = sampler.order_[10:25]  # h = 5: W_1 = P[5:25] minus the labeled P[0:10]
    conf = score_pool(learner.estimator, pool[window], [learner.estimator.module_], normalized_confidence)
    np.testing.assert_array_equal(rest_rows[idx], window[np.argsort(conf, kind="stable")[:5]])
    np.testing.assert_allclose(scores, np.sort(conf)[:5], rtol=1e-6)


def test_beta_below_1_chooses_in_the_centre_of_each_stride(pool, digits):
    """Stride 20, budget 5, beta 0.5: W_c = P[20c - 5 : 20c + 5] after an initial set of 10 (the table above)."""
    sampler = BALSampler(beta=0.5, stride=20, pretext_epochs=1, random_state=0)
    first = sampler.initial_indices(make_net(), pool, 10)
    learner = fitted_learner(pool, digits, first)
    rows = np.delete(np.arange(len(pool)), first)
    for cycle in (1, 2, 3):
        idx = indices(sampler(learner, pool[rows], 5))
        ranks = rank_of(sampler, rows[idx])
        assert ranks.min() >= 20 * cycle - 5 and ranks.max() < 20 * cycle + 5, (cycle, sorted(ranks))
        rows = np.delete(rows, idx)


def test_n_clusters_defaults_to_the_classes(learner, pool, monkeypatch):
    seen = {}
    original = pt4al_module.PretextOrderSampler._fingerprint

    def spy(self, net):
        seen["n_clusters"] = self._resolved(net)["n_clusters"]
        return original(self, net)

    monkeypatch.setattr(pt4al_module.PretextOrderSampler, "_fingerprint", spy)
    BALSampler(pretext_epochs=1, random_state=0)(learner, pool, 2)
    assert seen["n_clusters"] == 10


@pytest.mark.parametrize("params, message", [
    ({"beta": 0}, "beta must be a positive number"),
    ({"beta": "1.2"}, "beta must be a positive number"),
    ({"n_clusters": 1}, "n_clusters must be None or an int >= 2"),
    ({"pretext_epochs": 0}, "pretext_epochs must be a positive int"),
    ({"pretext_lr": -0.1}, "pretext_lr must be a positive number"),
    ({"stride": 0}, "stride must be None or a positive int"),
    ({"stride": 2.5}, "stride must be None or a positive int"),
    ({"first": "first"}, "first must be one of high1st, uni, low1st, rand"),
    ({"pretext_augment": "yes"}, "pretext_augment must be True or False"),
])
def test_bad_parameters(learner, pool, params, message):
    with pytest.raises(ConfigError, match=message):
        BALSampler(**params)(learner, pool, 2)


def test_modal_loop_with_the_sampler(digits):
    X, y = digits.X_train[:200], digits.y_train[:200]
    sampler = BALSampler(pretext_epochs=1, random_state=0)
    learner = ActiveLearner(estimator=make_net(max_epochs=1), query_strategy=sampler, X_training=X[:40],
                            y_training=y[:40])
    pool, labels, seen = X[40:], y[40:], set()
    for _ in range(3):
        idx, rows = learner.query(pool, n_instances=5)
        learner.teach(rows, labels[idx])
        seen.update(map(bytes, rows))
        pool, labels = np.delete(pool, idx, axis=0), np.delete(labels, idx)
    assert len(seen) == 15 and learner.query_strategy.n_queries_ == 3


# ---------------------------------------------------------------- the CLI
def run_cli(args):
    from tod_plugin_cli.main import main

    with pytest.raises(SystemExit) as exit_info:
        main(args)
    return exit_info.value.code


def test_cli_caches_the_order_so_a_rerun_does_not_retrain(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    args = ["--strategy", "bal,pt4al", "--trials", "1", "--cycles", "2", "--epochs", "1", "--initial", "30",
            "--query-size", "10", "--beta", "1.5", "--pretext-epochs", "1", "--device", "cpu", "--quiet"]
    assert run_cli(["run", "--out", str(out), *args]) == 0
    assert sorted(p.name for p in (out / "cache").iterdir()) == ["bal_trial0.npz", "pt4al_trial0.npz"]
    first = (out / "queries.jsonl").read_text()
    for checkpoint in (out / "checkpoints").iterdir():  # as if killed before the first query was saved
        checkpoint.unlink()

    def no_training(*args, **kwargs):
        raise AssertionError("the pretext network was trained again")

    monkeypatch.setattr(pt4al_module, "fit_rotation_pretext", no_training)
    assert run_cli(["run", "--resume", str(out), "--quiet"]) == 0
    assert (out / "queries.jsonl").read_text() == first
    capsys.readouterr()


@pytest.mark.parametrize("option, message", [
    (["--beta", "0"], "beta must be a positive number"),
    (["--lr-schedule", "linear"], "lr_schedule must be one of constant, multistep, cosine-restarts"),
    (["--bal-stride", "0"], "bal_stride must be a positive int or a percentage"),
    (["--pretext-epochs", "0"], "pretext_epochs must be an int >= 1"),
])
def test_cli_rejects_bad_options(tmp_path, capsys, option, message):
    assert run_cli(["run", "--out", str(tmp_path / "run"), "--strategy", "bal", *option]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err


def test_cli_bal_labels_the_first_items_of_its_cdd_order_and_random_a_random_set(tmp_path, capsys):
    out = tmp_path / "run"
    assert run_cli(["run", "--out", str(out), "--strategy", "bal,random", "--trials", "1", "--cycles", "2",
                    "--epochs", "1", "--pretext-epochs", "1", "--device", "cpu", "--quiet"]) == 0
    capsys.readouterr()
    first = {q["strategy"]: q["indices"] for q in map(json.loads, (out / "queries.jsonl").read_text().splitlines())
             if q["cycle"] == 0}
    with np.load(out / "cache" / "bal_trial0.npz", allow_pickle=False) as cache:
        order = cache["order"]
    assert sorted(first["bal"]) == sorted(order[:len(first["bal"])].tolist())
    assert len(first["bal"]) == len(first["random"]) and sorted(first["bal"]) != sorted(first["random"])
    assert json.loads((out / "config.json").read_text())["initial_sets"] == {"bal": "own", "random": "shared"}
    results = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [r["query_time"] > 0 for r in results if r["cycle"] == 0] == [True, False]  # bal: the pretext


def test_the_run_keeps_the_references_pretext_epochs_unless_told(tmp_path):
    config = RunConfig(epochs=20, cycles=4).validate()
    bal = STRATEGIES["bal"].make_query(config, 0, tmp_path / "bal.npz", 1000)
    pt4al = STRATEGIES["pt4al"].make_query(config, 0, tmp_path / "pt4al.npz", 1000)
    assert (bal.pretext_epochs, pt4al.pretext_epochs) == (120, 15)  # not scaled to the task's 20 epochs
    assert bal.stride is None and pt4al.n_batches == 5  # the initial set's batch and one per query
    assert (bal.pretext_augment, pt4al.pretext_augment) == (True, False)  # as each reference's rotation.py
    config = RunConfig(epochs=20, pretext_epochs=7, bal_stride="5%").validate()
    bal = STRATEGIES["bal"].make_query(config, 0, tmp_path / "bal.npz", 1000)
    pt4al = STRATEGIES["pt4al"].make_query(config, 0, tmp_path / "pt4al.npz", 1000)
    assert (bal.pretext_epochs, pt4al.pretext_epochs, bal.stride) == (7, 7, 50)
