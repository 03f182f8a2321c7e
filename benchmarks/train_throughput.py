"""Training epoch time: ALNetClassifier vs the reference pipeline, side by side in one run.

The reference implementations train with a plain DataLoader over a torchvision-style dataset that
turns each uint8 image into a PIL image and applies RandomCrop(32, padding=4),
RandomHorizontalFlip(), ToTensor() and Normalize() sample by sample. Here that pipeline feeds a
plain ``skorch.NeuralNetClassifier``; ``ALNetClassifier`` keeps the uint8 data as one tensor on the
device and augments whole batches there. Same model class, data, batch size (128), optimizer
(SGD 0.9 / 5e-4), lr and epochs; each pipeline's epochs are timed by skorch's history (``dur``),
the first epoch of every fit is left out (warm-up), and the fits alternate, ``--repeats`` times.

    python benchmarks/train_throughput.py                      # SmallCNN, 5000 images, CPU
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
from tod_plugin.models import MODELS

VARIANTS = {  # ALNetClassifier settings; the default is NHWC, and bf16 on CUDA only
    "default": {},
    "NCHW": {"channels_last": False},
    "bf16": {"precision": "bf16"},
    "NCHW bf16": {"channels_last": False, "precision": "bf16"},
    "compile": {"compile": True},
}


class PILImages(torch.utils.data.Dataset):
    """torchvision's CIFAR ``__getitem__``: HWC uint8 -> PIL image -> per-sample transform."""

    def __init__(self, X, y, transform):
        self.images = np.ascontiguousarray(X.transpose(0, 2, 3, 1))
        self.targets = y
        self.transform = transform

    def __len__(self):
        return len(self.images)

    def __getitem__(self, index):
        from PIL import Image

        return self.transform(Image.fromarray(self.images[index])), int(self.targets[index])


def reference_net(model, data, args):
    import torchvision.transforms as T

    transform = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor(),
                           T.Normalize(data.mean, data.std)])
    net = NeuralNetClassifier(
        MODELS[model], module__in_channels=3, module__num_classes=10, criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.SGD, optimizer__momentum=0.9, optimizer__weight_decay=5e-4, lr=0.1,
        batch_size=128, max_epochs=args.epochs, train_split=None, classes=list(range(10)), device=args.device,
        iterator_train__shuffle=True, iterator_train__num_workers=args.loader_workers,
        iterator_train__pin_memory=str(args.device).startswith("cuda"), verbose=0)
    return net, (PILImages(data.X_train, data.y_train, transform), None)


def plugin_net(model, data, args, **variant):
    net = ALNetClassifier(
        MODELS[model], module__in_channels=3, module__num_classes=10, classes=np.arange(10), lr=0.1,
        batch_size=128, max_epochs=args.epochs, device=args.device, random_state=0,
        normalize=(data.mean, data.std), crop_padding=data.crop_padding, hflip=data.hflip, **variant)
    return net, (data.X_train, data.y_train)


def epoch_times(make):
    """Durations of one fit's epochs after the first."""
    net, (X, y) = make()
    net.fit(X, y)
    return net.history[1:, "dur"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smallcnn", choices=["smallcnn", "resnet18"])
    parser.add_argument("--n", type=int, default=5000, help="training images")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per fit (the first is warm-up)")
    parser.add_argument("--repeats", type=int, default=2, help="fits per pipeline, alternating")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--loader-workers", type=int, default=0,
                        help="DataLoader workers of the reference pipeline (the reference code uses 0)")
    parser.add_argument("--variants", default="default,NCHW", help=f"ALNetClassifier settings, comma list of {list(VARIANTS)}")
    args = parser.parse_args()
    if args.epochs < 2:
        parser.error("--epochs must be >= 2 (the first epoch of each fit is warm-up)")

    data = cifar_like(args.n)
    pipelines = {"reference: skorch + DataLoader + per-sample PIL transforms": lambda: reference_net(args.model, data, args)}
    for name in args.variants.split(","):
        pipelines[f"ALNetClassifier {name}"] = lambda variant=VARIANTS[name]: plugin_net(args.model, data, args, **variant)
    times = {name: [] for name in pipelines}
    started = time.perf_counter()
    for _ in range(args.repeats):  # alternate, so drifts of the machine hit every pipeline alike
        for name, make in pipelines.items():
            times[name] += epoch_times(make)
    reference = statistics.median(times[next(iter(pipelines))])
    print(f"{args.model}, {args.n} images 3x32x32, batch 128, device {args.device}, "
          f"{torch.get_num_threads()} threads, {args.repeats} x {args.epochs - 1} timed epochs per pipeline "
          f"({time.perf_counter() - started:.0f} s)")
    print(f"{'pipeline':60s} {'s/epoch':>8s} {'img/s':>8s} {'speed-up':>8s}")
    for name, values in times.items():
        epoch = statistics.median(values)
        print(f"{name:60s} {epoch:8.2f} {args.n / epoch:8.0f} {reference / epoch:7.2f}x")


if __name__ == "__main__":
    main()
