"""What ``channels_last="auto"`` costs a module it no longer imposes NHWC on: epoch time of NCHW vs
NHWC on CPU, for modAL's PyTorch example network and for the plugin's small CNN.

    python benchmarks/layout_default.py [--samples 1024] [--repeats 5] [--threads 1]

``"auto"`` gives NHWC only to modules declaring ``supports_channels_last`` (the plugin's networks),
so their speed is unchanged; a user's module keeps NCHW unless it opts in with ``channels_last=True``.
modAL's network calls ``.view()`` after its convolutions (it fails on NHWC), so it is measured with
``.reshape()`` here. The two layouts' epochs are interleaved; medians are printed.
"""
import argparse
import platform
import statistics
import time

import numpy as np
import torch
from torch import nn

from tod_plugin import ALNetClassifier
from tod_plugin.models import SmallCNN


class ModalExampleNet(nn.Module):
    """modAL's ``examples/pytorch_integration.py`` network for 28x28 images, with ``.reshape()``."""

    def __init__(self):
        super().__init__()
        self.convs = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(),
                                   nn.MaxPool2d(2), nn.Dropout(0.25))
        self.fcs = nn.Sequential(nn.Linear(12 * 12 * 64, 128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, 10))

    def forward(self, x):
        return self.fcs(self.convs(x).reshape(len(x), -1))


MODULES = {
    "modAL example net": (ModalExampleNet, {}),
    "SmallCNN": (SmallCNN, {"module__in_channels": 1, "module__num_classes": 10}),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.RandomState(0)
    X = rng.randint(0, 256, size=(args.samples, 1, 28, 28)).astype(np.uint8)
    y = rng.randint(0, 10, args.samples)
    print(f"{platform.processor() or platform.machine()}, {args.threads} thread(s), {args.samples} 28x28 images")
    for name, (module, params) in MODULES.items():
        nets = {layout: ALNetClassifier(module, classes=np.arange(10), batch_size=64, max_epochs=1, device="cpu",
                                        channels_last=layout, random_state=0, **params).fit(X[:128], y[:128])
                for layout in (False, True)}
        times = {layout: [] for layout in nets}
        for _ in range(args.repeats):
            for layout, net in nets.items():
                start = time.perf_counter()
                net.partial_fit(X, y)
                times[layout].append(time.perf_counter() - start)
        nchw, nhwc = statistics.median(times[False]), statistics.median(times[True])
        default = "NHWC" if nets[False].set_params(channels_last="auto").uses_channels_last else "NCHW"
        print(f"{name}: NCHW {nchw:.3f} s/epoch, NHWC {nhwc:.3f} s/epoch, NHWC/NCHW speed-up {nchw / nhwc:.2f}x; "
              f"channels_last='auto' gives it {default}")


if __name__ == "__main__":
    main()
