"""GPU figures: ResNet-18 training and scoring img/s (fp32 vs bf16), host syncs per epoch, one
``tod-cifar10`` cycle (and the whole protocol extrapolated from it), bf16-vs-fp32 accuracy over 3 seeds.

Needs a CUDA GPU; without one it says so and measures nothing. ``--cpu`` runs the parts on the CPU
instead, with a SmallCNN, bf16 opted in and small default sizes (flags still override them): it
checks the script and gives CPU figures, not the GPU ones.
CIFAR-10 is read from ``--data-dir`` (see ``tod-al datasets``); where it is missing, a CIFAR-shaped
synthetic set (benchmarks/synthetic.py) stands in and the output says so.

    python benchmarks/gpu_protocol.py --data-dir data                  # all parts, ~15 min on an H100
    python benchmarks/gpu_protocol.py --parts train,score --compile    # with torch.compile
"""
import argparse
import statistics
import sys
import tempfile
import time
import warnings

import numpy as np
import torch

from synthetic import cifar_like
from tod_plugin import ALNetClassifier
from tod_plugin.errors import ConfigError
from tod_plugin.models import MODELS


def cifar10(args, n_train=50000, n_test=10000):
    """``(dataset, label)``: CIFAR-10 from ``--data-dir``, else the synthetic stand-in."""
    from tod_plugin.data import load_dataset

    try:
        return load_dataset("cifar10", args.data_dir), "CIFAR-10"
    except ConfigError as exc:
        print(f"  (CIFAR-10 not available: {exc}; using the synthetic CIFAR-shaped set)")
        return cifar_like(n_train, n_test), "synthetic CIFAR-shaped"


def resnet(data, args, precision, **params):
    return ALNetClassifier(
        MODELS[args.model], module__num_classes=10, classes=np.arange(10), lr=0.1, batch_size=128, device=args.device,
        random_state=params.pop("random_state", 0), normalize=(data.mean, data.std), crop_padding=4, hflip=True,
        precision=precision, compile=args.compile, **params)


def sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def timed(fn):
    sync()
    start = time.perf_counter()
    result = fn()
    sync()
    return time.perf_counter() - start, result


def median_time(fn, repeats, before=lambda: None):
    """Median seconds of ``fn()`` over ``repeats`` runs, ``before()`` (untimed) ahead of each."""
    times = []
    for _ in range(repeats):
        before()
        times.append(timed(fn)[0])
    return statistics.median(times)


def part_train(data, label, args):
    """Training img/s from skorch's epoch durations (epoch 1 is warm-up / compilation)."""
    X, y = data.X_train[:args.n_train], data.y_train[:args.n_train]
    for precision in ("fp32", "bf16"):
        net = resnet(data, args, precision, max_epochs=args.train_epochs).fit(X, y)
        durations = net.history[1:, "dur"]
        print(f"  train {precision}: {len(X) / statistics.median(durations):8.0f} img/s "
              f"(median of {len(durations)} epochs of {len(X)} images; first epoch {net.history[0, 'dur']:.1f} s)")


def part_sync(data, label, args):
    """Host-device synchronisations per training epoch (``torch.cuda.set_sync_debug_mode``)."""
    from tod_plugin.hooks import EMATeacher, StepSnapshot

    if not torch.cuda.is_available():
        print("  sync: needs CUDA (torch.cuda.set_sync_debug_mode)")
        return
    X, y = data.X_train[:args.n_train], data.y_train[:args.n_train]
    for label, params in (("plain", {}), ("TOD step snapshot", {"callbacks": [StepSnapshot()]}),
                          ("TOD aux loss + EMA teacher", {"auxiliary": "tod", "callbacks": [EMATeacher()]})):
        net = resnet(data, args, "auto", max_epochs=1, warm_start=True, **params)
        unlabeled = {"X_unlabeled": data.X_train[args.n_train:2 * args.n_train]} if "auxiliary" in params else {}
        net.fit(X, y, **unlabeled)  # warm-up
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")
            try:
                net.fit(X, y, **unlabeled)
            finally:
                torch.cuda.set_sync_debug_mode("default")
        syncs = [w for w in caught if "synchroniz" in str(w.message)]
        steps = net.steps_per_epoch(len(X))
        print(f"  sync {label}: {len(syncs)} host syncs in one epoch of {steps} steps")
        for origin in sorted({f"{w.filename}:{w.lineno}" for w in syncs})[:8]:
            print(f"      at {origin}")


def part_score(data, label, args):
    """Query time / (forward passes it needs x one predict_proba pass over the same pool), fp32 vs bf16."""
    from tod_plugin.hooks import StepSnapshot
    from tod_plugin.strategies import CODSampler, coreset_sampling, tod_sampling

    pool, repeats = data.X_train[-args.n_pool:], args.repeats
    for precision in ("fp32", "bf16"):
        net = resnet(data, args, precision, max_epochs=1, warm_start=True, callbacks=[StepSnapshot()])
        net.fit(data.X_train[:512], data.y_train[:512])
        cod = CODSampler()
        net.predict_proba(pool[:2048]), cod(net, pool[:2048], 100)  # warm-up
        t_predict = median_time(lambda: net.predict_proba(pool), repeats)
        t_cod = median_time(lambda: cod(net, pool, 100), repeats)  # reference: initial weights, nothing known
        t_tod = median_time(lambda: tod_sampling(net, pool, 100), repeats)
        labeled = data.X_train[:512]
        t_coreset = median_time(lambda: coreset_sampling(net, pool, 1000, X_labeled=labeled), repeats)
        coreset_passes = 1 + len(labeled) / len(pool)  # the labeled rows' features too
        net.fit(data.X_train[:512], data.y_train[:512])
        known = cod.state_dict()  # the outputs of the state that is now the reference
        t_reuse = median_time(lambda: cod(net, pool, 100), repeats,
                              before=lambda: cod.load_state_dict(known))
        print(f"  score {precision}: predict_proba {len(pool) / t_predict:8.0f} img/s; query / (passes x predict): "
              f"cod {t_cod / (2 * t_predict):.2f} (2 passes), tod {t_tod / (2 * t_predict):.2f} (2), "
              f"cod next cycle {t_reuse / t_predict:.2f} (1: reference outputs reused), "
              f"coreset {t_coreset / (coreset_passes * t_predict):.2f} ({coreset_passes:.2f}: + labeled rows; 1000 picks)")


def part_cycle(data, label, args):
    """One cycle of tod-cifar10 (fit 5000, query 25000 of the pool, fit 7500), then the whole protocol
    extrapolated: fit time grows with the labeled set (every step also draws an unlabeled batch)."""
    from tod_plugin.experiment import RunConfig, RunStore, run_experiment
    from tod_plugin.experiment.presets import PRESETS
    from tod_plugin.experiment.progress import Progress

    settings = dict(PRESETS["tod-cifar10"].settings, model=args.model, strategies=("cod+tod",), trials=1, cycles=1,
                    epochs=args.epochs, milestones=(max(1, round(0.8 * args.epochs)),), device=args.device,
                    precision="auto", compile=args.compile)
    if args.cpu:
        settings.update(initial=64, query_size=32, subset=256)
    config = RunConfig(**settings).validate()
    store = RunStore(tempfile.mkdtemp(prefix="tod-gpu-cycle-"))
    store.create(config.to_dict())
    started = time.perf_counter()
    run_experiment(config, data, store, Progress(0, 1, 1, enabled=False))
    first, second = store.results
    per_label = (first["train_time"] + second["train_time"]) / (first["n_labeled"] + second["n_labeled"])
    initial, step = first["n_labeled"], second["n_labeled"] - first["n_labeled"]
    full = sum(per_label * (initial + k * step) for k in range(7)) + 6 * second["query_time"]
    print(f"  cycle ({label}, {args.epochs} epochs, precision auto): fit {initial} labels {first['train_time']:.0f} s, "
          f"COD query {second['query_time']:.2f} s, fit {second['n_labeled']} labels {second['train_time']:.0f} s "
          f"(accuracy {100 * second['accuracy']:.1f}%); {time.perf_counter() - started:.0f} s in all")
    print(f"  whole tod-cifar10 trial (7 fits of {initial}..{initial + 6 * step} labels + 6 queries), extrapolated: "
          f"{full / 60:.1f} min (target < 15)")


def part_parity(data, label, args):
    """Test accuracy, fp32 vs bf16, same seeds: 3 x 2 fits of ResNet-18 on ``--parity-labels`` images."""
    from skorch.callbacks import LRScheduler
    from torch.optim.lr_scheduler import MultiStepLR

    X, y = data.X_train[:args.parity_labels], data.y_train[:args.parity_labels]
    accuracy = {"fp32": [], "bf16": []}
    for seed in range(3):
        for precision in accuracy:
            schedule = LRScheduler(MultiStepLR, milestones=[max(1, round(0.8 * args.parity_epochs))], gamma=0.1)
            net = resnet(data, args, precision, max_epochs=args.parity_epochs, random_state=seed,
                         callbacks=[schedule]).fit(X, y)
            accuracy[precision].append(100 * net.score(data.X_test, data.y_test))
        print(f"  parity seed {seed}: fp32 {accuracy['fp32'][-1]:.2f}%  bf16 {accuracy['bf16'][-1]:.2f}%")
    diff = np.subtract(accuracy["bf16"], accuracy["fp32"])
    print(f"  parity ({label}, {len(X)} labels, {args.parity_epochs} epochs): fp32 {np.mean(accuracy['fp32']):.2f} "
          f"+- {np.std(accuracy['fp32']):.2f}, bf16 {np.mean(accuracy['bf16']):.2f} +- {np.std(accuracy['bf16']):.2f}, "
          f"bf16 - fp32 = {diff.mean():+.2f} +- {diff.std():.2f} points")


PARTS = {"train": part_train, "sync": part_sync, "score": part_score, "cycle": part_cycle, "parity": part_parity}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma list of {', '.join(PARTS)}")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--model", default="resnet18", choices=["resnet18", "smallcnn"])
    parser.add_argument("--compile", action="store_true", help="torch.compile the network")
    parser.add_argument("--n-train", type=int, default=10000, help="images per training epoch (train, sync)")
    parser.add_argument("--train-epochs", type=int, default=3)
    parser.add_argument("--n-pool", type=int, default=25000, help="pool rows scored (score)")
    parser.add_argument("--repeats", type=int, default=3, help="timings per figure, median (score)")
    parser.add_argument("--epochs", type=int, default=200, help="epochs per fit of the tod-cifar10 cycle")
    parser.add_argument("--parity-labels", type=int, default=5000)
    parser.add_argument("--parity-epochs", type=int, default=30)
    parser.add_argument("--cpu", action="store_true", help="run on the CPU with small sizes (see above)")
    if "--cpu" in sys.argv:
        parser.set_defaults(device="cpu", model="smallcnn", n_train=256, train_epochs=2, n_pool=512, epochs=2,
                            parity_labels=256, parity_epochs=1)
    args = parser.parse_args()
    if not args.cpu and not torch.cuda.is_available():
        sys.exit("gpu_protocol.py needs a CUDA GPU and none is visible (torch.cuda.is_available() is False): "
                 "nothing was measured. Run it on a GPU machine, or with --cpu for CPU figures.")
    if args.cpu:
        data, label = cifar_like(max(2048, args.n_pool + 512), 256), "synthetic CIFAR-shaped"
        bf16 = "bf16 as a CPU opt-in"
    else:
        data, label = cifar10(args)
        bf16 = f"bf16 on {torch.cuda.get_device_name()}"
    print(f"{args.model} on {args.device} ({bf16}), torch {torch.__version__}, compile={args.compile}, data: {label}")
    parts = args.parts.split(",")
    for part in parts:
        if part not in PARTS:
            parser.error(f"unknown part {part!r}; choose from {', '.join(PARTS)}")
    for part in parts:
        print(f"[{part}] {PARTS[part].__doc__.splitlines()[0]}")
        PARTS[part](data, label, args)


if __name__ == "__main__":
    main()
