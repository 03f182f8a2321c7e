"""What modAL users bring: the network of modAL's PyTorch example, and modAL 0.4.2.1 on the side."""
import subprocess
import sys

import torch
from torch import nn

MODAL_042 = "modAL-python==0.4.2.1"


class ModalExampleNet(nn.Module):
    """modAL's ``examples/pytorch_integration.py`` network, sized for 8x8 digits instead of 28x28
    MNIST: two 3x3 convolutions, a 2x2 max pool, then ``.view()`` to flat features."""

    def __init__(self):
        super().__init__()
        self.convs = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(),
                                   nn.MaxPool2d(2), nn.Dropout(0.25))
        self.fcs = nn.Sequential(nn.Linear(2 * 2 * 64, 128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, 10))

    def forward(self, x):
        out = self.convs(x)
        out = out.view(-1, 2 * 2 * 64)
        return self.fcs(out)


def install_modal_042(target):
    """modAL 0.4.2.1 (DeepActiveLearner) into ``target`` with pip from the package index, without
    its dependencies (it pins skorch 0.9.0); put ``target`` first on PYTHONPATH to use it."""
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--disable-pip-version-check",
                    "--target", str(target), MODAL_042], check=True)
    return target


def states_equal(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
