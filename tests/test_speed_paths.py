"""The speed work (precision, layout, on-device losses, output reuse, compile, workers) keeps results."""
import json

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

from nets import make_net
from tod_plugin import ALNetClassifier
from tod_plugin.batching import BatchPreparer
from tod_plugin.errors import ConfigError
from tod_plugin.hooks import EMATeacher, EpochSnapshots, StepSnapshot
from tod_plugin.inference import OutputCache, RowKeys, cached_outputs
from tod_plugin.models import SmallCNN
from tod_plugin.precision import resolve_channels_last, resolve_precision
from tod_plugin.strategies import CODSampler, cod_sampling, coreset_sampling, stconal_sampling, tod_sampling
from tod_plugin_cli.main import main


@pytest.mark.parametrize("params, message", [
    ({"precision": "fp16"}, "precision must be one of ('auto', 'fp32', 'bf16'), got 'fp16'"),
    ({"channels_last": "yes"}, "channels_last must be 'auto', True or False, got 'yes'"),
])
def test_bad_precision_or_layout_is_refused(params, message, small_split):
    X, y = small_split[:2]
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make_net(**params).fit(X, y)


@pytest.mark.parametrize("flags, message", [
    (["--precision", "fp16"], "error: precision must be one of ('auto', 'fp32', 'bf16'), got 'fp16'"),
    (["--workers", "0"], "error: Invalid value for '--workers': 0 is not in the range x>=1."),
])
def test_cli_refuses_bad_speed_flags(flags, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--out", str(tmp_path / "run"), *flags])
    assert exit_info.value.code == 2 and capsys.readouterr().err.strip() == message
    assert not (tmp_path / "run").exists()


def test_auto_means_bf16_on_cuda_only_and_nhwc_on_cuda_and_cpu_for_the_plugins_networks():
    assert resolve_precision("auto", "cpu") == "fp32" and resolve_precision("bf16", "cpu") == "bf16"
    assert resolve_channels_last("auto", "cpu", SmallCNN) is True and resolve_channels_last("auto", "cuda:1", SmallCNN)
    assert resolve_channels_last("auto", "mps", SmallCNN) is False and resolve_channels_last(False, "cuda", SmallCNN) is False
    assert resolve_channels_last("auto", "cpu", torch.nn.Conv2d) is False  # a module that did not ask for it
    assert resolve_channels_last(True, "cpu", torch.nn.Conv2d) is True


def test_batches_get_canonical_strides():
    # (N, 1, H, W) arrays can carry channel stride 1 (channels-last strides) and still count as
    # contiguous; convolutions would follow those strides, so batches are re-strided.
    images = torch.arange(2 * 3 * 4, dtype=torch.uint8).reshape(2, 3, 4, 1).permute(0, 3, 1, 2)
    assert images.stride() == (12, 1, 4, 1) and images.is_contiguous()
    nchw = BatchPreparer("cpu")(images, training=False)
    nhwc = BatchPreparer("cpu", channels_last=True)(images, training=False)
    assert nchw.stride() == (12, 12, 4, 1) and nhwc.stride() == (12, 1, 4, 1)
    assert torch.equal(nchw, images.float() / 255) and torch.equal(nhwc, nchw)


def test_channels_last_and_fp32_leave_cpu_results_unchanged(small_split):
    X, y, X_pool, _, X_test, _ = small_split
    picked, proba = [], []
    for params in ({"channels_last": False, "precision": "auto"}, {"channels_last": True, "precision": "fp32"}):
        net = make_net(**params).fit(X, y)
        weight = net.module_.stages[1][0][0].weight  # (32, 16, 3, 3): NCHW and NHWC strides differ
        assert weight.is_contiguous(memory_format=torch.channels_last) == params["channels_last"]
        picked.append(np.asarray(cod_sampling(net, X_pool, n_instances=10)))
        proba.append(net.predict_proba(X_test))
    np.testing.assert_array_equal(picked[0], picked[1])
    np.testing.assert_allclose(proba[0], proba[1], atol=1e-5)


@pytest.mark.parametrize("strategy", [cod_sampling, tod_sampling, stconal_sampling, coreset_sampling,
                                      lambda net, X, n: net.predict_proba(X)])
def test_every_scoring_pass_runs_under_the_nets_precision(small_split, monkeypatch, strategy):
    """Each forward pass of a query (current, reference, snapshots, teacher, features) sees bf16 autocast."""
    X, y, X_pool = small_split[:3]
    snapshots = EpochSnapshots(start=1, every=1)
    net = make_net(precision="bf16", callbacks=[StepSnapshot(), snapshots]).fit(X, y)
    modes, original = [], SmallCNN.stage_features

    def recording(module, x):
        modes.append(torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16)
        return original(module, x)

    monkeypatch.setattr(SmallCNN, "stage_features", recording)
    if strategy is coreset_sampling:
        strategy(net, X_pool, 5, X_labeled=X)
    else:
        strategy(net, X_pool, 5)
    assert modes and all(modes)


def test_bf16_is_an_opt_in_on_cpu(small_split):
    X, y, X_pool, _, X_test, _ = small_split
    net = make_net(precision="bf16").fit(X, y)
    with net.autocast():
        assert net.module_(torch.zeros(2, 1, 8, 8)).dtype == torch.bfloat16
    proba = net.predict_proba(X_test)
    assert proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(axis=1), 1, atol=1e-5)
    assert len(np.asarray(cod_sampling(net, X_pool, n_instances=5))) == 5
    net.set_params(precision="fp32")  # the same weights without autocast
    np.testing.assert_allclose(proba, net.predict_proba(X_test), atol=0.03)  # bf16: ~3 significant digits


HOOKED = {  # training set-ups whose steps must not wait for the device
    "plain": {},
    "tod + EMA teacher": {"auxiliary": "tod", "callbacks": [EMATeacher(decay=0.9)]},
    "ll4al": {"auxiliary": "ll4al"},
    "st-conal EMA snapshots": {"callbacks": [EpochSnapshots(start=1, every=1, teacher="ema")], "max_epochs": 2},
    "step snapshot": {"callbacks": [StepSnapshot()]},
}


class SyncTripwire(Callback):
    """Armed for the batches of an epoch (from ``on_epoch_begin`` until the epoch's losses are turned
    into floats in one transfer): any tensor-to-host conversion meanwhile raises."""

    CONVERSIONS = ("item", "__bool__", "__float__", "__int__", "__index__", "cpu", "numpy")

    def __init__(self, monkeypatch, n_samples):
        self.monkeypatch = monkeypatch
        self.n_samples = n_samples
        self.armed_ = False

    def on_epoch_begin(self, net, **kwargs):
        self.armed_ = True

    def on_batch_end(self, net, training=False, **kwargs):
        if training and len(net.history[-1]["batches"]) == net.steps_per_epoch(self.n_samples):
            self.armed_ = False  # the last step is done: the one transfer of the epoch's losses follows

    def patch(self):
        for name in self.CONVERSIONS:
            original = getattr(torch.Tensor, name)

            def guarded(tensor, *args, _original=original, _name=name, **kwargs):
                if self.armed_:
                    raise AssertionError(f"a host sync inside the epoch: Tensor.{_name}")
                return _original(tensor, *args, **kwargs)

            self.monkeypatch.setattr(torch.Tensor, name, guarded)


@pytest.mark.parametrize("setup", HOOKED)
def test_training_steps_need_no_host_sync(small_split, monkeypatch, setup):
    """No tensor-to-host conversion while an epoch's batches are prepared and trained (each would
    wait for a GPU): the batch losses become floats in one transfer at the end of the epoch."""
    X, y, X_pool = small_split[:3]
    params = dict(HOOKED[setup])
    tripwire = SyncTripwire(monkeypatch, len(X))
    params["callbacks"] = [*params.get("callbacks", []), tripwire]  # last: disarms after the other hooks
    net = make_net(batch_size=16, **params)
    fit_params = {"X_unlabeled": X_pool} if setup.startswith("tod") else {}
    tripwire.patch()
    net.fit(X, y, **fit_params)  # 60 samples: batches of 16, 16, 16, 12
    monkeypatch.undo()
    batches = net.history[-1, "batches"]
    assert [b["train_batch_size"] for b in batches] == [16, 16, 16, 12]
    assert all(type(b["train_loss"]) is float for b in batches)
    weighted = sum(b["train_loss"] * b["train_batch_size"] for b in batches) / 60
    assert net.history[-1, "train_loss"] == pytest.approx(weighted, rel=1e-12)


def test_the_sync_tripwire_catches_a_per_step_item(small_split, monkeypatch):
    class LossPrinter(Callback):
        def on_batch_end(self, net, loss=None, **kwargs):
            loss.item()

    tripwire = SyncTripwire(monkeypatch, len(small_split[0]))
    net = make_net(batch_size=16, callbacks=[LossPrinter(), tripwire])
    tripwire.patch()
    with pytest.raises(AssertionError, match="Tensor.item"):
        net.fit(*small_split[:2])


def _count_reference_rows(monkeypatch):
    """Rows fed to reference copies (``copy_module_with``) during COD queries."""
    rows = []
    original = ALNetClassifier.copy_module_with

    def counting_copy(net, state):
        module = original(net, state)
        module.register_forward_hook(lambda m, args, out: rows.append(len(args[0])))
        return module

    monkeypatch.setattr(ALNetClassifier, "copy_module_with", counting_copy)
    return rows


def test_cod_reuses_the_reference_outputs_of_the_previous_query(small_split, monkeypatch):
    X, y, X_pool, y_pool, _, _ = small_split
    rows = _count_reference_rows(monkeypatch)
    net = make_net(warm_start=True).fit(X, y)
    cod_sampling(net, X_pool[:150], n_instances=5)
    assert sum(rows) == 150  # cycle 1: the reference is the initial network, nothing known
    net.fit(np.concatenate([X, X_pool[:20]]), np.concatenate([y, y_pool[:20]]))
    pool = X_pool[100:][::-1].copy()  # another array: 50 rows scored before (content keys), 50 new
    rows.clear()
    reused = cod_sampling(net, pool, n_instances=10)
    assert sum(rows) == 50
    rows.clear()
    recomputed = CODSampler()(net, pool, n_instances=10)  # a sampler with nothing cached
    assert sum(rows) == 100
    np.testing.assert_array_equal(reused, recomputed)


def test_cod_output_cache_is_only_used_for_the_exact_state(small_split, monkeypatch):
    X, y, X_pool, y_pool, _, _ = small_split
    rows = _count_reference_rows(monkeypatch)
    net = make_net(warm_start=True).fit(X, y)
    cod_sampling(net, X_pool, n_instances=5)
    net.fit(X, y)
    net.fit(X, y)  # two fits since the query: the reference is not the state scored then
    rows.clear()
    cod_sampling(net, X_pool, n_instances=5)
    assert sum(rows) == len(X_pool)


def test_cod_sampler_cache_survives_a_checkpoint(small_split, monkeypatch, tmp_path):
    """state_dict() holds tensors only (torch.load(weights_only=True) reads it back); a sampler
    restored from it reuses the reference outputs as the saving one would, with the same picks."""
    X, y, X_pool, y_pool, _, _ = small_split
    rows = _count_reference_rows(monkeypatch)
    net = make_net(warm_start=True).fit(X, y)
    sampler = CODSampler()
    assert sampler.state_dict() == {}  # nothing cached yet
    sampler(net, X_pool, n_instances=5)
    net.fit(np.concatenate([X, X_pool[:20]]), np.concatenate([y, y_pool[:20]]))
    saved = sampler.state_dict()
    assert all(isinstance(v, torch.Tensor) for v in saved.values())
    torch.save(saved, tmp_path / "cod.pt")
    restored = CODSampler()
    restored.load_state_dict(torch.load(tmp_path / "cod.pt", weights_only=True))
    rows.clear()
    reused = restored(net, X_pool, n_instances=10)
    assert sum(rows) == 0  # every reference output came from the checkpoint
    rows.clear()
    recomputed = CODSampler()(net, X_pool, n_instances=10)
    assert sum(rows) == len(X_pool)
    np.testing.assert_array_equal(reused, recomputed)
    restored.clear()
    assert restored.cache_ is None and restored.state_dict() == {}


def test_cod_sampling_keeps_its_cache_per_net_and_not_in_a_pickle(small_split, monkeypatch):
    import pickle

    X, y, X_pool, y_pool, _, _ = small_split
    rows = _count_reference_rows(monkeypatch)
    nets = [make_net(warm_start=True, random_state=seed).fit(X, y) for seed in (0, 1)]
    for net in nets:
        cod_sampling(net, X_pool, n_instances=5)
    for net in nets:
        net.fit(np.concatenate([X, X_pool[:20]]), np.concatenate([y, y_pool[:20]]))
    copy = pickle.loads(pickle.dumps(nets[0]))  # a per-process cache: not pickled
    rows.clear()
    for net in nets:
        cod_sampling(net, X_pool, n_instances=5)
    assert sum(rows) == 0  # each net's own outputs were reused
    cod_sampling(copy, X_pool, n_instances=5)
    assert sum(rows) == len(X_pool)


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(keys=d["keys"].flip(0)), "not in ascending order"),
    (lambda d: d.update(rows=d["rows"] + len(d["outputs"])), "positions of outputs"),
    (lambda d: d.update(setting=d["setting"].float()), "16 uint8"),
    (lambda d: d.update(note="hello"), "tensors"),
    (lambda d: d.update({3: d["keys"]}), "tensors"),
    (lambda d: d.pop("outputs"), "tensors"),
])
def test_cod_sampler_refuses_a_state_dict_it_did_not_save(small_split, change, message):
    X, y, X_pool = small_split[:3]
    net = make_net().fit(X, y)
    sampler = CODSampler()
    sampler(net, X_pool, n_instances=5)
    state = dict(sampler.state_dict())
    change(state)
    with pytest.raises(ValueError, match=message):
        CODSampler().load_state_dict(state)


def test_cached_outputs_hand_example():
    state = {"w": torch.tensor([1.0, 2.0])}
    X = np.arange(12, dtype=np.uint8).reshape(3, 4)
    outputs = torch.tensor([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]])
    def hashed(rows):  # keys are made from the rows a batch read: here every row
        keys = RowKeys(len(rows))
        keys.add(0, rows)
        return keys

    assert not RowKeys(3).hashed.any()  # nothing hashed before a batch gives its rows
    cache = OutputCache.of_rows(state, "setting", hashed(X), outputs)
    pool = np.stack([X[2], X[1] + 1, X[0]])  # rows 0 and 2 were scored before, row 1 was not
    mask, known = cached_outputs(cache, {"w": torch.tensor([1.0, 2.0])}, "setting", RowKeys(3))(0, 3, pool)
    assert mask.tolist() == [True, False, True] and torch.equal(known[[0, 2]], outputs[[2, 0]])
    assert cached_outputs(cache, state, "setting", RowKeys(3))(1, 2, pool[1:2]) is None  # nothing known there
    keys = RowKeys(3)
    for other_state, setting in (({"w": torch.tensor([1.0, 2.5])}, "setting"),  # other weights
                                 ({"w": torch.tensor([1, 2])}, "setting"),  # other dtype
                                 (state, "other setting")):
        assert cached_outputs(cache, other_state, setting, keys)(0, 3, pool) is None
    assert cached_outputs(None, state, "setting", keys)(0, 3, pool) is None
    assert keys.hashed.all()  # hashed along the way, for the next cache
    np.testing.assert_array_equal(keys.keys, hashed(pool).keys)
    # the cache's per-row state: numpy arrays of a 16-byte key and an 8-byte row each, no Python object per row
    assert cache.sorted_keys.dtype == np.dtype("S16") and cache.rows.dtype == np.intp
    assert (cache.sorted_keys.nbytes + cache.rows.nbytes) / len(X) == 24


def test_compiled_once_per_process_and_reused_by_later_nets(small_split):
    from torch._dynamo.utils import counters

    X, y, X_pool = small_split[:3]
    torch._dynamo.reset()
    counters.clear()
    graphs = []
    for seed in (0, 1):
        net = make_net(compile=True, compile__backend="eager", batch_size=20, random_state=seed).fit(X, y)
        net.predict(X_pool[:40])
        cod_sampling(net, X_pool[:40], n_instances=3)
        graphs.append(counters["stats"]["unique_graphs"])
    assert graphs[0] > 0 and graphs[1] == graphs[0]


def _records(folder):
    results = [json.loads(line) for line in (folder / "results.jsonl").read_text().splitlines()]
    for record in results:
        del record["query_time"], record["train_time"]
    return results, (folder / "queries.jsonl").read_text()


def test_workers_give_the_sequential_results(tmp_path):
    args = ["run", "--strategy", "cod,random", "--trials", "1", "--cycles", "1", "--epochs", "1",
            "--initial", "30", "--query-size", "10", "--device", "cpu", "--quiet"]
    for name, extra in (("sequential", []), ("workers", ["--workers", "2"])):
        with pytest.raises(SystemExit) as exit_info:
            main([*args, "--out", str(tmp_path / name), *extra])
        assert exit_info.value.code == 0
    assert _records(tmp_path / "workers") == _records(tmp_path / "sequential")
