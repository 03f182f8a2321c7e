import json

import numpy as np
import pytest
import torch

from tod_plugin import ALNetClassifier
from tod_plugin.data import load_dataset
from tod_plugin.errors import ConfigError
from tod_plugin.experiment import RunConfig
from tod_plugin.experiment.loop import build_net
from tod_plugin.hooks import EMATeacher
from tod_plugin.models import MODELS, CifarResNet18, LayoutCNN, SmallCNN
from tod_plugin.strategies import coreset_sampling, ll4al_sampling
from tod_plugin_cli.main import main

from dataset_files import write_cifar10
from weights_files import write_resnet18_weights


def test_cifar_resnet18_shape_and_size():
    net = CifarResNet18(num_classes=10)
    assert sum(p.numel() for p in net.parameters()) == pytest.approx(11.17e6, rel=0.01)
    x = torch.randn(2, 3, 32, 32)
    assert net(x).shape == (2, 10)
    stages = net.stage_features(x)
    assert [tuple(s.shape[1:]) for s in stages] == [(64, 32, 32), (128, 16, 16), (256, 8, 8), (512, 4, 4)]
    assert net.forward_features(x).shape == (2, 512)
    assert CifarResNet18(5, in_channels=1)(torch.randn(1, 1, 32, 32)).shape == (1, 5)


@pytest.mark.parametrize("size", [8, 28, 32])
def test_small_cnn_any_size(size):
    net = SmallCNN(in_channels=3, num_classes=4)
    assert net(torch.randn(2, 3, size, size)).shape == (2, 4)


@pytest.mark.parametrize("size, sides", [(8, [4, 4, 4]), (28, [14, 7, 7]), (32, [16, 8, 4]), (64, [32, 16, 8])])
def test_layout_cnn_pools_down_to_its_grid_and_keeps_it(size, sides):
    net = LayoutCNN(in_channels=3, num_classes=4, aux_head=True).eval()
    x = torch.randn(2, 3, size, size)
    stages = net.stage_features(x)
    assert [s.shape[-1] for s in stages] == sides
    assert [s.shape[1] for s in stages] == list(net.stage_channels) == [32, 64, 64]
    assert net.forward_features(x).shape == (2, 128)
    main, aux = net.forward_heads(x)
    logits, _ = net.forward_with_stages(x)
    assert main.shape == aux.shape == (2, 4)
    torch.testing.assert_close(net(x), main)
    torch.testing.assert_close(logits, main)


@pytest.mark.parametrize("size, skipped", [(8, True), (16, True), (28, False), (32, False)])
def test_layout_cnn_runs_its_last_stage_only_above_the_grid(size, skipped):
    """On 8x8 digits the second stage's map is already the 4x4 grid: the third passes it on unchanged."""
    net = LayoutCNN(in_channels=1, num_classes=4).eval()
    with torch.no_grad():
        second, third = net.stage_features(torch.randn(2, 1, size, size))[1:]
    assert torch.equal(second, third) is skipped


def test_layout_cnn_features_depend_on_where_a_pattern_is():
    """A global average pool (SmallCNN) cannot tell a blob top-left from the same blob bottom-right."""
    torch.manual_seed(0)
    top_left, bottom_right = torch.zeros(1, 1, 32, 32), torch.zeros(1, 1, 32, 32)
    top_left[..., 4:10, 4:10], bottom_right[..., 22:28, 22:28] = 1.0, 1.0
    for model, differ in ((LayoutCNN(1, 4), True), (SmallCNN(1, 4), False)):
        with torch.no_grad():
            a, b = model.eval().forward_features(top_left), model.forward_features(bottom_right)
        assert (not torch.allclose(a, b, atol=1e-5)) is differ


def test_layout_cnn_dropout_before_the_heads():
    x = torch.randn(4, 1, 8, 8)
    plain, dropped = LayoutCNN(1, 3), LayoutCNN(1, 3, dropout=0.5)
    assert plain.dropout is None
    assert dropped.dropout.p == 0.5
    dropped.load_state_dict(plain.state_dict())  # dropout adds no parameters
    with torch.no_grad():
        torch.testing.assert_close(dropped.eval()(x), plain.eval()(x))
        assert not torch.equal(dropped.train()(x), dropped.train()(x))


def test_layout_cnn_is_the_registered_default():
    assert MODELS["layoutcnn"] is LayoutCNN and MODELS["smallcnn"] is SmallCNN
    assert RunConfig().model == "layoutcnn"


@pytest.mark.parametrize("auxiliary", ["tod", "ll4al"])
def test_layout_cnn_trains_with_each_auxiliary_loss_and_is_queried(digits, auxiliary):
    X, y = digits.X_train[:48], digits.y_train[:48]
    hooks = [EMATeacher()] if auxiliary == "tod" else []
    net = ALNetClassifier(LayoutCNN, classes=np.arange(10), max_epochs=1, random_state=0, device="cpu",
                          auxiliary=auxiliary, callbacks=hooks)
    net.fit(X, y, **({"X_unlabeled": digits.X_train[48:96]} if auxiliary == "tod" else {}))
    assert (net.module_.fc_aux is not None) == (auxiliary == "tod")
    strategy = ll4al_sampling if auxiliary == "ll4al" else coreset_sampling
    picked = strategy(net, digits.X_train[48:96], n_instances=3, random_state=0)
    picked = picked[0] if isinstance(picked, tuple) else picked
    assert len(set(np.asarray(picked).tolist())) == 3


def test_layout_cnn_learns_digits(digits):
    net = ALNetClassifier(LayoutCNN, classes=np.arange(10), max_epochs=10, random_state=0, device="cpu")
    net.fit(digits.X_train[:400], digits.y_train[:400])
    assert net.score(digits.X_test, digits.y_test) > 0.9


def rgb_digits():
    dataset = load_dataset("digits")
    dataset.X_train = np.repeat(dataset.X_train, 3, axis=1)  # RGB, as ImageNet weights need
    return dataset


def test_frozen_backbone_trains_only_the_heads(tmp_path):
    weights = write_resnet18_weights(tmp_path / "resnet18.pth")
    config = RunConfig(model="resnet18-imagenet", pretrained=str(weights), freeze_backbone=True, epochs=2).validate()
    dataset = rgb_digits()
    net = build_net(config, dataset, seed=0).fit(dataset.X_train[:32], dataset.y_train[:32])
    pretrained = torch.load(weights, weights_only=True)
    trained = net.module_.state_dict()
    for name, tensor in pretrained.items():  # weights and batch-norm statistics alike
        if not name.startswith("fc."):
            torch.testing.assert_close(trained[name], tensor)
    assert not torch.equal(trained["fc.weight"], net.reference_state_["fc.weight"])
    assert net.module_.train().layer1.training is False and net.module_.fc.training is True


def test_freeze_backbone_needs_imagenet_weights(tmp_path, capsys):
    with pytest.raises(ConfigError, match="freeze_backbone needs ImageNet weights"):
        RunConfig(model="resnet18-imagenet", freeze_backbone=True).validate()
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--out", str(tmp_path / "run"), "--freeze-backbone"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.startswith("error: freeze_backbone needs") and err.count("\n") == 1
    assert not (tmp_path / "run").exists()


def test_cli_runs_a_frozen_pretrained_backbone(tmp_path, capsys):
    write_cifar10(tmp_path / "data", np.arange(30) % 10, np.arange(20) % 10)
    weights = write_resnet18_weights(tmp_path / "resnet18.pth")
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--dataset", "cifar10", "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "run"),
              "--model", "resnet18-imagenet", "--pretrained", str(weights), "--freeze-backbone", "--strategy", "cod",
              "--trials", "1", "--cycles", "1", "--epochs", "1", "--initial", "10", "--query-size", "5", "--quiet"])
    assert exit_info.value.code in (0, None), capsys.readouterr().err
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["freeze_backbone"] is True and config["model"] == "resnet18-imagenet"
    assert len((tmp_path / "run" / "results.jsonl").read_text().splitlines()) == 2
