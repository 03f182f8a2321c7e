"""Peak memory of pool scoring for two pool sizes 4x apart, each in a fresh subprocess.

A child process fits a SmallCNN briefly, builds a CIFAR-shaped uint8 pool of N images, warms up
on a small pool, resets the kernel's peak-RSS mark (``/proc/self/clear_refs``), runs one query and
reads the peak (``VmHWM``) back. The increase over the resident size before the query is what
scoring needs beyond the pool: one batch of activations per model, the score vector and, for COD,
the outputs and row keys it keeps for the next query. It should grow with N only by those
per-row vectors (tens of bytes per row), not by a copy of the pool (3,072 bytes per row).

    python benchmarks/scoring_memory.py --sizes 5000,20000 --strategies cod,predict
"""
import argparse
import json
import subprocess
import sys

import numpy as np


def _status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def child(n_rows, strategy, device):
    from synthetic import cifar_like
    from tod_plugin import ALNetClassifier
    from tod_plugin.models import SmallCNN
    from tod_plugin.strategies import cod_sampling, tod_sampling
    from tod_plugin.hooks import StepSnapshot

    data = cifar_like(256, n_test=0)
    pool = cifar_like(n_rows, n_test=0, seed=1).X_train
    net = ALNetClassifier(SmallCNN, module__in_channels=3, module__num_classes=10, classes=np.arange(10),
                          max_epochs=1, random_state=0, device=device, normalize=(data.mean, data.std),
                          callbacks=[StepSnapshot()]).fit(data.X_train, data.y_train)
    query = {"cod": lambda X: cod_sampling(net, X, 100), "tod": lambda X: tod_sampling(net, X, 100),
             "predict": lambda X: net.predict_proba(X)}[strategy]
    query(pool[:2048])  # warm-up: allocator pools, kernel caches
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak-RSS mark to the current RSS
    before = _status_kb("VmRSS")
    query(pool)
    peak = _status_kb("VmHWM")
    print(json.dumps({"rows": n_rows, "pool_mb": pool.nbytes / 2**20, "extra_mb": (peak - before) / 1024}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5000,20000", help="two pool sizes (rows)")
    parser.add_argument("--strategies", default="cod,tod,predict", help="comma list of cod, tod, predict")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--child", nargs=2, metavar=("ROWS", "STRATEGY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(int(args.child[0]), args.child[1], args.device)
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"device {args.device}; extra = peak RSS during the query - RSS before it (MiB)")
    print(f"{'query':8s} " + " ".join(f"{f'pool {n}':>22s}" for n in sizes) + f" {'extra bytes per added row':>26s}")
    for strategy in args.strategies.split(","):
        runs = [json.loads(subprocess.run([sys.executable, __file__, "--device", args.device, "--child", str(n), strategy],
                                          check=True, capture_output=True, text=True).stdout.splitlines()[-1])
                for n in sizes]
        cells = " ".join(f"{r['pool_mb']:7.1f} pool {r['extra_mb']:6.1f} extra" for r in runs)
        per_row = (runs[-1]["extra_mb"] - runs[0]["extra_mb"]) * 2**20 / (runs[-1]["rows"] - runs[0]["rows"])
        print(f"{strategy:8s} {cells} {per_row:26.0f}")


if __name__ == "__main__":
    main()
