"""CPU networks side by side: test accuracy at a few label counts and seconds per training epoch.

Every model is trained the same way, with ``ALNetClassifier``'s defaults (SGD 0.05, momentum 0.9,
weight decay 5e-4, batch n/16 in [8, 128], no augmentation or normalisation) for ``--epochs``
epochs on a random labeled set, then scored on held-out images. The models of a seed and label
count are trained one after another in one process, so the time ratios come from the same
machine state. Models: ``smallcnn`` (the former default), ``layoutcnn`` (the default),
``layoutcnn_all`` (LayoutCNN as first merged: its last stage runs on 8x8 inputs too) and
``lenet``, the LeNet-style reference below (two conv-BN-ReLU-maxpool stages, flatten, a 128-unit
dense layer with dropout 0.5). With ``--weights`` (torchvision's ResNet-18 ImageNet file) a fourth
row, ``pretrained``: ``PretrainedFeatures`` + an MLP head (128 hidden units) in a Pipeline; the
features of every training and test image are computed once before the fits (timed apart, in
images per second), so its s/epoch is the head's.

    python benchmarks/cpu_models.py --data digits
    python benchmarks/cpu_models.py --data /work/scratch/mnist/t10k-images-idx3-ubyte.gz   # + its labels file
    python benchmarks/cpu_models.py --data images.npz --labels 400,1600 --seeds 0,1,2      # X (N,C,H,W) uint8, y
    python benchmarks/cpu_models.py --data images.npz --weights resnet18-f37072fd.pth --image-size 64

An MNIST-format images file (``*-images-idx3-ubyte[.gz]``) is read with the labels file beside it
(``*-labels-idx1-ubyte[.gz]``); a ``.npz`` holds ``X`` and ``y`` (read with ``allow_pickle=False``).
The last ``--test`` images (after a seeded shuffle) are the test set; digits keeps its own split.
"""
import argparse
import gzip
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from sklearn.pipeline import Pipeline

from tod_plugin import ALNetClassifier
from tod_plugin.data import load_dataset
from tod_plugin.features import PretrainedFeatures
from tod_plugin.models import MLP, MODELS, LayoutCNN


class LeNetReference(nn.Module):
    """conv(32)-BN-ReLU-maxpool, conv(64)-BN-ReLU-maxpool, flatten, dense 128 + ReLU + dropout 0.5, linear."""

    def __init__(self, in_channels, num_classes, side):
        super().__init__()
        def stage(i, o):
            return [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True), nn.MaxPool2d(2)]
        self.layers = nn.Sequential(*stage(in_channels, 32), *stage(32, 64), nn.Flatten(),
                                    nn.Linear(64 * (side // 4) ** 2, 128), nn.ReLU(inplace=True), nn.Dropout(0.5),
                                    nn.Linear(128, num_classes))

    def forward(self, x):
        return self.layers(x)


class LayoutCNNAllStages(LayoutCNN):
    """LayoutCNN as first merged: the last stage also runs on a map already at the grid (8x8 inputs)."""

    def stage_features(self, x):
        features = []
        for stage in self.stages:
            x = stage(x)
            if min(x.shape[-2:]) >= 2 * self.grid:
                x = F.max_pool2d(x, 2)
            features.append(x)
        return features


def read_idx(path):
    """An MNIST-format file (idx, optionally gzipped) as a uint8 array."""
    raw = (gzip.open if str(path).endswith(".gz") else open)(path, "rb").read()
    ndim = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load(data, n_test):
    """``(X_train, y_train, X_test, y_test, name)`` of ``--data``."""
    if data == "digits":
        d = load_dataset("digits")
        return d.X_train, d.y_train, d.X_test, d.y_test, "digits 8x8"
    path = Path(data)
    if "idx3" in path.name:
        X = read_idx(path)[:, None]
        y = read_idx(path.with_name(path.name.replace("images-idx3", "labels-idx1"))).astype(np.int64)
    else:
        with np.load(path, allow_pickle=False) as arrays:
            X, y = arrays["X"], arrays["y"].astype(np.int64)
        X = X[:, None] if X.ndim == 3 else X
    order = np.random.RandomState(0).permutation(len(X))
    X, y = X[order], y[order]
    name = f"{path.name} {X.shape[1]}x{X.shape[2]}x{X.shape[3]}"
    return X[:-n_test], y[:-n_test], X[-n_test:], y[-n_test:], name


def make_net(model, X, n_classes, epochs, seed, features=None):
    if model == "pretrained":
        head = ALNetClassifier(MLP, module__hidden=128, classes=np.arange(n_classes), max_epochs=epochs, lr=0.05,
                               random_state=seed)
        return Pipeline([("features", features), ("net", head)])
    extra = {"module__side": X.shape[-1]} if model == "lenet" else {}
    module = {"lenet": LeNetReference, "layoutcnn_all": LayoutCNNAllStages}.get(model) or MODELS[model]
    return ALNetClassifier(module, classes=np.arange(n_classes), max_epochs=epochs, lr=0.05, random_state=seed,
                           **extra)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="digits")
    parser.add_argument("--models", default="smallcnn,layoutcnn,lenet")
    parser.add_argument("--labels", default="400,1600", help="labeled-set sizes (capped at the training split)")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--test", type=int, default=2000, help="held-out images (not for digits)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--weights", default=None, help="ResNet-18 ImageNet state dict: adds the 'pretrained' row")
    parser.add_argument("--image-size", type=int, default=None, help="side the pretrained row resizes images to")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    X_train, y_train, X_test, y_test, name = load(args.data, args.test)
    n_classes = int(max(y_train.max(), y_test.max())) + 1
    models = args.models.split(",")
    features = None
    if args.weights:
        models.append("pretrained")
        features = PretrainedFeatures(weights=args.weights, image_size=args.image_size, batch_size=128).fit(X_train)
        start = time.perf_counter()
        features.transform(np.concatenate([X_train, X_test]))
        rate = (len(X_train) + len(X_test)) / (time.perf_counter() - start)
        print(f"pretrained features: {rate:.0f} images/s (side {args.image_size or X_train.shape[-1]})")
    print(f"{name}: {len(X_train)} training / {len(X_test)} test images, {args.epochs} epochs, "
          f"{args.threads} thread(s), seeds {args.seeds}")
    print("| labels | model | test accuracy (%) | s/epoch | time / lenet (median of the seeds' ratios) |")
    print("|---|---|---|---|---|")
    for model in models:  # warm-up: first-call costs (allocator, kernels) out of the timed fits
        make_net(model, X_train, n_classes, 1, 0, features).fit(X_train[:64], y_train[:64])
    for n_labels in (min(int(n), len(X_train)) for n in args.labels.split(",")):
        accuracy, seconds = {m: [] for m in models}, {m: [] for m in models}
        for seed in map(int, args.seeds.split(",")):
            rows = np.random.RandomState(seed).choice(len(X_train), n_labels, replace=False)
            for model in models[seed % len(models):] + models[:seed % len(models)]:  # rotate the order
                net = make_net(model, X_train, n_classes, args.epochs, seed, features)
                start = time.perf_counter()
                net.fit(X_train[rows], y_train[rows])
                seconds[model].append((time.perf_counter() - start) / args.epochs)
                accuracy[model].append(100 * net.score(X_test, y_test))
        for model in models:
            acc, sec = accuracy[model], statistics.median(seconds[model])
            pairs = zip(seconds[model], seconds.get("lenet", ()))  # same seed, trained back to back
            ratio = f"{statistics.median(a / b for a, b in pairs):.2f}x" if "lenet" in models else "-"
            print(f"| {n_labels} | {model} | {statistics.mean(acc):.1f} +- {statistics.pstdev(acc):.1f} "
                  f"| {sec:.3f} | {ratio} |", flush=True)


if __name__ == "__main__":
    main()
