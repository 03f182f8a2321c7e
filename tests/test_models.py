import pytest
import torch

from tod_plugin.models import CifarResNet18, SmallCNN


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
