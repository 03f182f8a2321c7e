"""Epoch time of training with an auxiliary loss relative to plain training, measured side by side.

    python benchmarks/aux_loss_overhead.py [--labeled 300] [--epochs 5] [--repeats 3] [--device cpu]

On the embedded digits with the small CNN: plain cross-entropy, the TOD loss (EMA teacher, one
fresh unlabeled batch per step: 2 student + 2 teacher forwards per step instead of 1) and LL4AL
(loss-prediction module). The fits are interleaved, so a busy machine slows all of them alike;
the median epoch time of each is printed with its ratio to plain training.
"""
import argparse
import platform
import statistics
import time

import numpy as np
import torch

from tod_plugin import ALNetClassifier
from tod_plugin.data import load_dataset
from tod_plugin.hooks import EMATeacher
from tod_plugin.models import SmallCNN

SETTINGS = {
    "plain": {},
    "tod": {"auxiliary": "tod", "callbacks": [EMATeacher(0.999)]},
    "ll4al": {"auxiliary": "ll4al"},
}


def epoch_time(name, data, args, seed):
    X, y = data.X_train[:args.labeled], data.y_train[:args.labeled]
    net = ALNetClassifier(SmallCNN, classes=np.arange(10), max_epochs=args.epochs, random_state=seed,
                          device=args.device, **SETTINGS[name])
    extra = {"X_unlabeled": data.X_train[args.labeled:]} if name == "tod" else {}
    start = time.perf_counter()
    net.fit(X, y, **extra)
    return (time.perf_counter() - start) / args.epochs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labeled", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    data = load_dataset("digits")
    times = {name: [] for name in SETTINGS}
    for name in SETTINGS:  # warm-up
        epoch_time(name, data, argparse.Namespace(**{**vars(args), "epochs": 1}), 0)
    for repeat in range(args.repeats):
        for name in SETTINGS:
            times[name].append(epoch_time(name, data, args, repeat))
    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
          f"device {args.device}; {args.labeled} labeled digits, batch 'auto', {args.epochs} epochs x {args.repeats}")
    plain = statistics.median(times["plain"])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:>6}: {1000 * median:8.1f} ms/epoch   ratio to plain {median / plain:5.2f}")


if __name__ == "__main__":
    main()
