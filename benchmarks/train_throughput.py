"""Training epoch time: ALNetClassifier vs the reference pipeline, side by side in one run.

The reference implementations train with a plain DataLoader over a torchvision-style dataset that
turns each uint8 image into a PIL image and applies RandomCrop(32, padding=4),
RandomHorizontalFlip(), ToTensor() and Normalize() sample by sample. Here that pipeline feeds a
plain ``skorch.NeuralNetClassifier``; ``ALNetClassifier`` keeps the uint8 data as one tensor on the
device and augments whole batches there. Same model class, data, batch size (128), optimizer
(SGD 0.9 / 5e-4), lr and epochs; each pipeline's epochs are timed by skorch's history (``dur``),
the first epoch of every fit is left out (warm-up), and the fits alternate, ``--repeats`` times.
Two more rows time the bare network steps (same module, SGD, batches prepared beforehand, no
augmentation), NCHW and NHWC: no data pipeline can beat them, so reference / floor is the largest
speed-up a faster pipeline alone could give.

    python benchmarks/train_throughput.py                      # SmallCNN, 5000 images, CPU
    python benchmarks/train_throughput.py --data digits        # the embedded 8x8 digits (tiled to --n rows)
    python benchmarks/train_throughput.py --model resnet18 --n 640 --epochs 2 --repeats 1
"""
import argparse
import statistics
import time

import numpy as np
import torch
from skorch import NeuralNetClassifier

from synthetic import cifar_like
from tod_plugin import ALNetClassifier
from tod_plugin.batching import BatchPreparer
from tod_plugin.models import MODELS

VARIANTS = {  # ALNetClassifier settings; the default is NHWC, and bf16 on CUDA only
    "default": {},
    "NCHW": {"channels_last": False},
    "bf16": {"precision": "bf16"},
    "NCHW bf16": {"channels_last": False, "precision": "bf16"},
    "compile": {"compile": True},
}


class PILImages(torch.utils.data.Dataset):
    """torchvision's CIFAR / MNIST ``__getitem__``: uint8 image -> PIL image -> per-sample transform."""

    def __init__(self, X, y, transform):
        self.images = np.ascontiguousarray(X.transpose(0, 2, 3, 1) if X.shape[1] == 3 else X[:, 0])
        self.targets = y
        self.transform = transform

    def __len__(self):
        return len(self.images)

    def __getitem__(self, index):
        from PIL import Image

        return self.transform(Image.fromarray(self.images[index])), int(self.targets[index])


def reference_net(model, data, args):
    import torchvision.transforms as T

    size = data.X_train.shape[-1]
    transform = T.Compose([T.RandomCrop(size, padding=data.crop_padding)] * bool(data.crop_padding)
                          + [T.RandomHorizontalFlip()] * data.hflip + [T.ToTensor(), T.Normalize(data.mean, data.std)])
    net = NeuralNetClassifier(
        MODELS[model], module__in_channels=data.X_train.shape[1], module__num_classes=10, criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.SGD, optimizer__momentum=0.9, optimizer__weight_decay=5e-4, lr=0.1,
        batch_size=128, max_epochs=args.epochs, train_split=None, classes=list(range(10)), device=args.device,
        iterator_train__shuffle=True, iterator_train__num_workers=args.loader_workers,
        iterator_train__pin_memory=str(args.device).startswith("cuda"), verbose=0)
    return net, (PILImages(data.X_train, data.y_train, transform), None)


def plugin_net(model, data, args, **variant):
    net = ALNetClassifier(
        MODELS[model], module__in_channels=data.X_train.shape[1], module__num_classes=10, classes=np.arange(10), lr=0.1,
        batch_size=128, max_epochs=args.epochs, device=args.device, random_state=0,
        normalize=(data.mean, data.std), crop_padding=data.crop_padding, hflip=data.hflip, **variant)
    return net, (data.X_train, data.y_train)


def tiled_digits(n):
    """The embedded digits' train split repeated to ``n`` rows (throughput only: no accuracy here)."""
    from dataclasses import replace

    from tod_plugin.data import load_dataset

    digits = load_dataset("digits")
    rows = np.arange(n) % len(digits.X_train)
    return replace(digits, X_train=digits.X_train[rows], y_train=digits.y_train[rows])


def epoch_times(make):
    """Durations of one fit's epochs after the first."""
    net, (X, y) = make()
    net.fit(X, y)
    return net.history[1:, "dur"]


def network_only_times(model, data, args, channels_last):
    """The floor of any data pipeline: the bare training steps (forward, loss, backward, SGD) over
    batches prepared beforehand on the device (no augmentation, no skorch), epochs after the first."""
    torch.manual_seed(0)
    module = MODELS[model](in_channels=data.X_train.shape[1], num_classes=10).to(args.device)
    prepare = BatchPreparer(args.device, data.mean, data.std, channels_last=channels_last)  # the plugin's, no augmentation
    X, y = prepare(torch.as_tensor(data.X_train), training=False), torch.as_tensor(data.y_train, device=args.device)
    if channels_last:
        module = module.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(module.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    module.train()
    times = []
    for _ in range(args.epochs):
        started = time.perf_counter()
        for start in range(0, len(X), 128):
            loss = torch.nn.functional.cross_entropy(module(X[start:start + 128]), y[start:start + 128])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - started)
    return times[1:]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smallcnn", choices=["smallcnn", "resnet18"])
    parser.add_argument("--data", default="cifar-like", choices=["cifar-like", "digits"],
                        help="CIFAR-shaped synthetic 3x32x32 (crop 4 + flip), or the embedded 1x8x8 digits (crop 1)")
    parser.add_argument("--n", type=int, default=5000, help="training images (digits: its train split tiled)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per fit (the first is warm-up)")
    parser.add_argument("--repeats", type=int, default=2, help="fits per pipeline, alternating")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--loader-workers", type=int, default=0,
                        help="DataLoader workers of the reference pipeline (the reference code uses 0)")
    parser.add_argument("--variants", default="default,NCHW", help=f"ALNetClassifier settings, comma list of {list(VARIANTS)}")
    args = parser.parse_args()
    if args.epochs < 2:
        parser.error("--epochs must be >= 2 (the first epoch of each fit is warm-up)")

    data = cifar_like(args.n) if args.data == "cifar-like" else tiled_digits(args.n)
    pipelines = {"reference: skorch + DataLoader + per-sample PIL transforms": lambda: reference_net(args.model, data, args)}
    for name in args.variants.split(","):
        pipelines[f"ALNetClassifier {name}"] = lambda variant=VARIANTS[name]: plugin_net(args.model, data, args, **variant)
    floors = {f"network only, {layout} (floor of any pipeline)": layout == "NHWC" for layout in ("NCHW", "NHWC")}
    times = {name: [] for name in [*pipelines, *floors]}
    started = time.perf_counter()
    for _ in range(args.repeats):  # alternate, so drifts of the machine hit every pipeline alike
        for name, make in pipelines.items():
            times[name] += epoch_times(make)
        for name, channels_last in floors.items():
            times[name] += network_only_times(args.model, data, args, channels_last)
    reference = statistics.median(times[next(iter(pipelines))])
    print(f"{args.model}, {args.n} images {'x'.join(map(str, data.X_train.shape[1:]))}, batch 128, device {args.device}, "
          f"{torch.get_num_threads()} threads, {args.repeats} x {args.epochs - 1} timed epochs per pipeline "
          f"({time.perf_counter() - started:.0f} s)")
    print(f"{'pipeline':60s} {'s/epoch':>8s} {'img/s':>8s} {'speed-up':>8s}")
    for name, values in times.items():
        epoch = statistics.median(values)
        print(f"{name:60s} {epoch:8.2f} {args.n / epoch:8.0f} {reference / epoch:7.2f}x")


if __name__ == "__main__":
    main()
