"""The ImageNet-style ResNet-18 and its weights from a local torchvision state-dict file (tiny inputs only)."""
import numpy as np
import pytest
import torch
import torchvision

from tod_plugin.data import load_dataset
from tod_plugin.errors import ConfigError
from tod_plugin.experiment import RunConfig
from tod_plugin.experiment.loop import build_net
from tod_plugin.models import MODELS, CifarResNet18, ImageNetResNet18
from tod_plugin_cli.main import main


class NotATensor:
    """Pickled by reference: torch.load(weights_only=True) refuses it with a many-line message."""


def resnet18_state():
    return torchvision.models.resnet18(weights=None).state_dict()


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """A torchvision resnet18 state dict (randomly initialised: a stand-in for the ImageNet file)."""
    torch.manual_seed(0)
    reference = torchvision.models.resnet18(weights=None)
    path = tmp_path_factory.mktemp("weights") / "resnet18.pth"
    torch.save(reference.state_dict(), path)
    return path, reference


def test_architecture_is_torchvisions_resnet18():
    model = ImageNetResNet18(num_classes=1000)
    assert sum(p.numel() for p in model.parameters()) == 11_689_512
    assert list(model.state_dict()) == list(torchvision.models.resnet18(weights=None).state_dict())
    assert MODELS["resnet18-imagenet"] is ImageNetResNet18


def test_stage_and_penultimate_features_at_a_tiny_size():
    model = ImageNetResNet18(num_classes=7, aux_head=True).eval()
    x = torch.randn(2, 3, 64, 64)
    stages = model.stage_features(x)
    assert [tuple(s.shape) for s in stages] == [(2, 64, 16, 16), (2, 128, 8, 8), (2, 256, 4, 4), (2, 512, 2, 2)]
    assert model.stage_channels == (64, 128, 256, 512)
    features = model.forward_features(x)
    torch.testing.assert_close(features, stages[-1].mean(dim=(2, 3)))
    main_logits, aux_logits = model.forward_heads(x)
    torch.testing.assert_close(model(x), main_logits)
    assert aux_logits.shape == (2, 7)


def test_pretrained_backbone_matches_torchvision_and_heads_start_fresh(weights):
    path, reference = weights
    model = ImageNetResNet18(num_classes=5, pretrained=str(path)).eval()
    for name, tensor in reference.state_dict().items():
        if not name.startswith("fc."):
            torch.testing.assert_close(model.state_dict()[name], tensor)
    assert model.fc.out_features == 5
    reference.fc = torch.nn.Identity()
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model.forward_features(x), reference.eval()(x))


def test_grey_input_without_weights():
    assert ImageNetResNet18(num_classes=3, in_channels=1)(torch.randn(2, 1, 32, 32)).shape == (2, 3)


@pytest.mark.parametrize("make, message", [
    (lambda d: d / "absent.pth", "pretrained: no file .*absent.pth; give a local copy of torchvision's ResNet-18"),
    (lambda d: (d / "text.pth").write_text("hello") and d / "text.pth", "text.pth is not a PyTorch state dict"),
    (lambda d: torch.save([1, 2], d / "list.pth") or d / "list.pth", "holds a list, not a state dict"),
    (lambda d: torch.save({"conv1.weight": NotATensor()}, d / "obj.pth") or d / "obj.pth",
     r"obj.pth is not a PyTorch state dict \(UnpicklingError: Weights only load failed"),
    (lambda d: torch.save(CifarResNet18(10).state_dict(), d / "cifar.pth") or d / "cifar.pth",
     r"cifar.pth is not a ResNet-18 state dict \(.*wrong shape conv1.weight"),
    (lambda d: torch.save({**resnet18_state(), "layer1.2.conv1.weight": torch.zeros(64, 64, 3, 3)}, d / "r34.pth")
     or d / "r34.pth", r"r34.pth is not a ResNet-18 state dict \(unexpected layer1.2.conv1.weight\)"),
    (lambda d: torch.save({k: v for k, v in resnet18_state().items() if k != "bn1.bias"}, d / "cut.pth")
     or d / "cut.pth", r"cut.pth is not a ResNet-18 state dict \(missing bn1.bias\)"),
])
def test_wrong_or_missing_weights_are_config_errors(tmp_path, make, message):
    with pytest.raises(ConfigError, match=message) as info:
        ImageNetResNet18(num_classes=5, pretrained=make(tmp_path))
    assert "\n" not in str(info.value)


def test_weights_need_rgb(weights):
    with pytest.raises(ConfigError, match="3-channel images, the data have 1"):
        ImageNetResNet18(num_classes=5, in_channels=1, pretrained=weights[0])


def test_build_net_passes_the_weights_file(weights, digits):
    path, reference = weights
    config = RunConfig(model="resnet18-imagenet", pretrained=str(path), epochs=1).validate()
    dataset = load_dataset("digits")
    dataset.X_train = np.repeat(dataset.X_train, 3, axis=1)  # RGB, as the weights need
    net = build_net(config, dataset, seed=0).initialize()
    torch.testing.assert_close(net.module_.layer4[1].conv2.weight, reference.layer4[1].conv2.weight)


@pytest.mark.parametrize("args, message", [
    (["--model", "resnet18-imagenet", "--pretrained", "/nonexistent.pth"], "error: pretrained: no file"),
    (["--model", "smallcnn", "--pretrained", __file__], "ImageNet weights fit only --model resnet18-imagenet"),
])
def test_cli_weight_errors_are_one_line(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--out", str(tmp_path / "run"), *args])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and message in err and err.count("\n") == 1
    assert not (tmp_path / "run").exists()
