"""Odd but valid input works (issue 17): a last training batch of one sample, 16-bit images, numpy
integers anywhere a count goes, a numpy Generator as random_state, a stale run-folder lock."""
import socket

import numpy as np
import pytest
from PIL import Image

from tod_plugin import ALNetClassifier
from tod_plugin.batching import batch_bounds
from tod_plugin.data.images import read_images
from tod_plugin.experiment import RunConfig
from tod_plugin.hooks import EpochSnapshots
from tod_plugin.models import MODELS
from tod_plugin.strategies import cod_sampling, random_sampling
from tod_plugin_cli.main import main

from nets import indices, make_net


@pytest.mark.parametrize("model", sorted(MODELS))
def test_a_last_training_batch_of_one_sample_is_merged_for_every_model(digits, model):
    """17 samples in batches of 8: BatchNorm on one sample with 1x1 maps (ResNet-18 on 8x8) used to raise."""
    X = digits.X_train[:17]
    if model == "mlp":
        X = X.reshape(17, -1).astype(np.float32)
    elif model == "resnet18-imagenet":
        X = np.repeat(X, 3, axis=1)
    net = ALNetClassifier(MODELS[model], classes=np.arange(10), max_epochs=1, batch_size=8, device="cpu",
                          random_state=0).fit(X, digits.y_train[:17])
    assert net.history[-1]["train_batch_count"] == net.steps_per_epoch(17) == 2
    assert [b["train_batch_size"] for b in net.history[-1]["batches"]] == [8, 9]


def test_batch_bounds_merge_only_a_last_training_batch_of_one():
    assert batch_bounds(17, 8, training=True) == [(0, 8), (8, 17)]
    assert batch_bounds(17, 8, training=False) == [(0, 8), (8, 16), (16, 17)]
    assert batch_bounds(1, 8, training=True) == [(0, 1)]
    assert batch_bounds(18, 8, training=True) == [(0, 8), (8, 16), (16, 18)]


def test_16_bit_grey_images_are_scaled_not_clipped(tmp_path):
    values = (np.arange(64).reshape(8, 8) * 1000).astype(np.uint16)
    Image.fromarray(values).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode.startswith("I;16")
    pixels = read_images([tmp_path / "deep.png"], 8, 8)[0]
    np.testing.assert_array_equal(pixels[0], np.rint(values / 257.0).astype(np.uint8))
    assert (pixels[0] == pixels[1]).all() and (pixels[1] == pixels[2]).all()


def test_numpy_integers_are_accepted_wherever_a_count_goes(digits):
    X, y = digits.X_train, digits.y_train
    net = make_net(batch_size=np.int64(8), max_epochs=np.int32(1), eval_batch_size=np.uint16(64),
                   crop_padding=np.int8(0)).fit(X[:20], y[:20])
    assert len(indices(cod_sampling(net, X[20:80], np.int64(3), subset=np.int32(10)))) == 3
    config = RunConfig(trials=np.int64(1), cycles=np.int32(1), epochs=np.int64(1), seed=np.uint32(5)).validate()
    assert config.budget(100) == (10, 5)


def test_a_numpy_generator_is_a_random_state(digits):
    X, y = digits.X_train[:30], digits.y_train[:30]
    first, second = (make_net(random_state=np.random.default_rng(7)).fit(X, y) for _ in range(2))
    np.testing.assert_array_equal(first.predict_proba(X), second.predict_proba(X))
    picks = [indices(random_sampling(first, X, 5, random_state=np.random.default_rng(3))) for _ in range(2)]
    np.testing.assert_array_equal(*picks)


def test_a_stale_lock_is_taken_over_and_released(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["run", "--trials", "1", "--cycles", "1", "--epochs", "1", "--initial", "10", "--query-size", "5",
            "--strategy", "random", "--device", "cpu", "--quiet"]
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--out", str(out)])
    assert exit_info.value.code == 0 and not (out / "run.lock").exists()
    (out / "run.lock").write_text(f"999999999 {socket.gethostname()}\n")  # a process that is gone (SIGKILL)
    sorted((out / "checkpoints").glob("*.ckpt"))[-1].unlink()
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--resume", str(out), "--quiet"])
    assert exit_info.value.code == 0, capsys.readouterr().err
    assert not (out / "run.lock").exists()


def test_the_st_conal_batchnorm_recalibration_merges_a_last_batch_of_one_too(digits):
    """The teacher's BatchNorm statistics are recomputed in train mode over evaluation batches (17 = 8 + 8 + 1)."""
    net = ALNetClassifier(MODELS["resnet18"], classes=np.arange(10), max_epochs=2, batch_size=8, eval_batch_size=8,
                          device="cpu", random_state=0, callbacks=[EpochSnapshots(start=1, every=1)])
    net.fit(digits.X_train[:17], digits.y_train[:17])
    assert net.hook(EpochSnapshots).teacher_ is not None
