"""Pools larger than memory: memory-mapped and lazily read pools, and PoolView."""
import numpy as np
import pytest
from modAL.models import ActiveLearner

from tod_plugin import PoolView
from tod_plugin.errors import ConfigError
from tod_plugin.hooks import EpochSnapshots, StepSnapshot
from tod_plugin.strategies import (BALSampler, PT4ALSampler, cod_sampling, coreset_sampling, ll4al_sampling,
                                   random_sampling, stconal_sampling, tod_sampling)

from nets import indices, make_net
from counting_pool import CountingPool
from gloo_ranks import run_two_ranks

ROW_STRATEGIES = [random_sampling, cod_sampling, tod_sampling, ll4al_sampling, stconal_sampling, coreset_sampling]


@pytest.fixture(scope="module")
def fitted(digits):
    X, y = digits.X_train, digits.y_train
    net = make_net(auxiliary="ll4al", eval_batch_size=32,
                   callbacks=[StepSnapshot(), EpochSnapshots(start=1, every=1)])
    learner = ActiveLearner(estimator=net, X_training=X[:60], y_training=y[:60])
    return learner, np.ascontiguousarray(X[60:160])


@pytest.fixture
def mapped(fitted, tmp_path):
    """The fitted pool written to disk and opened memory-mapped."""
    np.save(tmp_path / "pool.npy", fitted[1])
    return np.load(tmp_path / "pool.npy", mmap_mode="r", allow_pickle=False)


@pytest.mark.parametrize("strategy", ROW_STRATEGIES)
@pytest.mark.parametrize("subset", [None, 40])
def test_a_memory_mapped_pool_gives_the_indices_of_the_array(fitted, mapped, strategy, subset):
    learner, pool = fitted
    expected = indices(strategy(learner, pool, 5, subset=subset, random_state=0))
    got = indices(strategy(learner, mapped, 5, subset=subset, random_state=0))
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("sampler_class", [PT4ALSampler, BALSampler])
def test_pretext_samplers_on_a_memory_mapped_pool_give_the_indices_of_the_array(fitted, mapped, sampler_class):
    learner, pool = fitted
    runs = []
    for X in (pool, mapped):
        sampler = sampler_class(pretext_epochs=1, random_state=0)
        runs.append([indices(sampler(learner, X, 4)) for _ in range(2)])
    np.testing.assert_array_equal(runs[0], runs[1])


@pytest.mark.parametrize("strategy", ROW_STRATEGIES)
def test_a_pool_view_gives_positions_in_the_view(fitted, strategy):
    learner, pool = fitted
    rows = np.arange(0, 100, 2)[::-1]
    expected = indices(strategy(learner, pool[rows], 4, random_state=0))
    got = indices(strategy(learner, PoolView(pool, rows), 4, random_state=0))
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("strategy", [stconal_sampling, coreset_sampling, ll4al_sampling, tod_sampling])
def test_the_pool_is_read_once_per_model_pass_in_slices(fitted, strategy):
    learner, pool = fitted
    counting = CountingPool(pool)
    strategy(learner, counting, 3, random_state=0)
    assert all(isinstance(key, slice) and key.stop - key.start <= 32 for key in counting.reads)
    np.testing.assert_array_equal(counting.rows_read(), np.ones(len(pool), dtype=int))


def test_cod_reads_each_row_once_for_the_models_and_its_output_cache(fitted):
    """The rows keyed for COD's output cache are the rows read for the model batch (no second read)."""
    learner, pool = fitted
    counting = CountingPool(pool)
    cod_sampling(learner, counting, 3, random_state=0)
    assert all(isinstance(key, slice) for key in counting.reads)
    np.testing.assert_array_equal(counting.rows_read(), np.ones(len(pool), dtype=int))


def test_a_subset_is_read_in_ascending_contiguous_runs(fitted):
    learner, pool = fitted
    counting = CountingPool(pool)
    stconal_sampling(learner, counting, 3, subset=30, random_state=0)
    starts = [key.start for key in counting.reads]
    assert all(isinstance(key, slice) for key in counting.reads) and counting.rows_read().sum() == 30
    assert all(a < b for a, b in zip(starts, starts[1:]) if a is not None)


def test_predict_proba_on_a_memory_mapped_array(fitted, mapped):
    learner, pool = fitted
    np.testing.assert_array_equal(learner.estimator.predict_proba(mapped), learner.estimator.predict_proba(pool))
    view = PoolView(mapped, [5, 1, 3])
    np.testing.assert_array_equal(learner.estimator.predict(view), learner.estimator.predict(pool[[5, 1, 3]]))


def test_fit_on_a_memory_mapped_array_equals_fit_in_memory(digits, tmp_path):
    X, y = np.ascontiguousarray(digits.X_train[:80]), digits.y_train[:80]
    np.save(tmp_path / "train.npy", X)
    mapped = np.load(tmp_path / "train.npy", mmap_mode="r")
    a, b = make_net(max_epochs=1).fit(X, y), make_net(max_epochs=1).fit(mapped, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def test_pool_view_behaves_as_the_rows_it_names():
    X = np.arange(60).reshape(20, 3)
    view = PoolView(X, [7, 2, 9, 2])
    assert view.shape == (4, 3) and view.dtype == X.dtype and len(view) == 4 and view.ndim == 2
    np.testing.assert_array_equal(view[1:3], X[[2, 9]])
    np.testing.assert_array_equal(view[np.array([3, 0])], X[[2, 7]])
    np.testing.assert_array_equal(view[-1], X[2])
    np.testing.assert_array_equal(np.asarray(PoolView(view, slice(1, None))), X[[2, 9, 2]])
    assert PoolView(view, [0]).base is X


@pytest.mark.parametrize("rows, match", [([20], "positions in"), ([[1]], "1-D"), ([0.5], "integer")])
def test_pool_view_refuses_bad_rows(rows, match):
    with pytest.raises(ConfigError, match=match):
        PoolView(np.zeros((20, 3)), rows)


def test_pool_view_refuses_what_is_not_an_array():
    with pytest.raises(TypeError, match="array-like"):
        PoolView([1, 2, 3], [0])


def test_a_lazily_read_pool_with_nan_is_refused_when_read(fitted):
    learner, pool = fitted
    bad = pool.astype(np.float32)
    bad[50] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        learner.estimator.predict_proba(CountingPool(bad))


def engine_results(dataset, out):
    from tod_plugin.experiment import RunConfig, RunStore, run_experiment
    from tod_plugin.experiment.progress import Progress

    config = RunConfig(strategies=("cod+tod", "coreset"), trials=1, cycles=1, epochs=2, initial=30, query_size=10,
                       subset=100, device="cpu").validate()
    store = RunStore(out)
    store.create(config.to_dict())
    run_experiment(config, dataset, store, Progress(2, 1, 1, enabled=False))
    results = [(r["strategy"], r["cycle"], r["n_labeled"], r["accuracy"]) for r in store.results]
    return results, [q["indices"] for q in store.queries]


def test_the_engine_on_a_memory_mapped_dataset_gives_the_results_in_memory(digits, tmp_path):
    import dataclasses

    small = dataclasses.replace(digits, X_train=np.ascontiguousarray(digits.X_train[:300]),
                                y_train=digits.y_train[:300])
    np.save(tmp_path / "train.npy", small.X_train)
    mapped = dataclasses.replace(small, X_train=np.load(tmp_path / "train.npy", mmap_mode="r"))
    assert engine_results(small, tmp_path / "in_memory") == engine_results(mapped, tmp_path / "mapped")


def test_a_modal_learner_queries_a_pool_view_and_returns_its_rows(fitted):
    learner, pool = fitted
    rows = np.arange(10, 90)
    learner.query_strategy = stconal_sampling
    idx, instances = learner.query(PoolView(pool, rows), n_instances=3, random_state=0)
    np.testing.assert_array_equal(instances, pool[rows[idx]])


def test_bal_clusters_large_pools_with_minibatch_kmeans():
    import torch

    from tod_plugin.strategies.bal import cluster_centres

    rng = np.random.RandomState(0)
    means = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    features = torch.as_tensor(np.concatenate([m + rng.randn(200, 2) for m in means]), dtype=torch.float32)
    minibatch = cluster_centres(features, 3, seed=0, minibatch_above=100).numpy()
    full = cluster_centres(features, 3, seed=0).numpy()
    np.testing.assert_array_equal(minibatch, cluster_centres(features, 3, seed=0, minibatch_above=100).numpy())
    for centres in (minibatch, full):
        nearest = np.linalg.norm(centres[:, None] - means[None], axis=2).min(axis=0)
        assert nearest.max() < 0.5


def test_coreset_in_float16_picks_as_in_float32(fitted):
    learner, pool = fitted
    a = indices(coreset_sampling(learner, pool, 8, random_state=0, feature_dtype="float32"))
    b = indices(coreset_sampling(learner, pool, 8, random_state=0, feature_dtype="float16"))
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="feature_dtype must be"):
        coreset_sampling(learner, pool, 8, feature_dtype="float64")


def _shard_rank(rank, init_file, net_blob, path, out_file):
    import pickle

    import torch
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    try:
        torch.set_num_threads(1)
        counting = CountingPool(np.load(path, mmap_mode="r"))
        picked = np.asarray(cod_sampling(pickle.loads(net_blob), counting, n_instances=5, random_state=0))
        with open(f"{out_file}.{rank}", "wb") as f:
            pickle.dump((picked, counting.rows_read()), f)
    finally:
        dist.destroy_process_group()


def test_each_gloo_rank_reads_only_its_shard_of_a_memory_mapped_pool(small_split, tmp_path):
    import pickle

    from tod_plugin.distributed import shard_bounds

    X_l, y_l, X_pool, _, _, _ = small_split
    net = make_net(eval_batch_size=16).fit(X_l, y_l)
    np.save(tmp_path / "pool.npy", X_pool[:83])
    run_two_ranks(_shard_rank, (str(tmp_path / "init"), pickle.dumps(net), str(tmp_path / "pool.npy"),
                                str(tmp_path / "out")))
    single = np.asarray(cod_sampling(net, X_pool[:83], n_instances=5, random_state=0))
    for rank in range(2):
        with open(tmp_path / f"out.{rank}", "rb") as f:
            picked, rows_read = pickle.load(f)
        np.testing.assert_array_equal(picked, single)
        start, stop = shard_bounds(83, 16, rank, 2)
        expected = np.zeros(83, dtype=int)
        expected[start:stop] = 1  # one read for the models' pass and COD's row keys, nothing outside the shard
        np.testing.assert_array_equal(rows_read, expected)


def test_the_rotations_of_a_lazy_pool_are_read_as_rows():
    from tod_plugin.pretext import rotations
    from tod_plugin.pretext.rotation import rotated

    X = np.arange(5 * 2 * 3 * 3, dtype=np.uint8).reshape(5, 2, 3, 3)
    lazy, labels = rotated(CountingPool(X))
    expected, expected_labels = rotations(X)
    assert lazy.shape == expected.shape and len(lazy) == 20
    np.testing.assert_array_equal(labels, expected_labels)
    np.testing.assert_array_equal(lazy[3:11], expected[3:11])
    np.testing.assert_array_equal(lazy[np.array([19, 0, 6])], expected[[19, 0, 6]])
