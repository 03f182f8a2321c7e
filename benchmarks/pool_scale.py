"""Pools larger than memory: one query of 1,000 on memory-mapped uint8 pools of growing size.

A synthetic pool of N CIFAR-shaped images (uint8 3x32x32, 3,072 bytes a row) is written once as
``.npy`` under ``--dir`` (never in the repository). A SmallCNN is fitted on 1,000 other rows (with
the snapshots ST-CoNAL needs) and saved there. Each (N, strategy, mode) query then runs in a fresh
process: it opens the pool memory-mapped (``mmap``) or reads it into memory (``memory``), warms up
on 2,048 rows, and a sampling thread records ``RssAnon`` and ``RssFile`` (every 5 ms) while one
query of ``--query`` rows runs. Reported: the peak of anonymous resident memory minus its value
before the query (the mapped file's pages are page cache, counted in RssFile, not the query's),
per row of the pool, the growth of RssFile (the pool's pages this process touched), and images
scored per second. The anonymous peak includes one batch of activations (constant in N): what grows
with the pool is the difference between two sizes.
``--torchrun`` repeats the memory-mapped COD query with 2 gloo ranks (each reads only its shard).

    python benchmarks/pool_scale.py --sizes 100000 --dir /work/scratch/i14 --compare 100000 --torchrun
"""
import argparse
import json
import os
import pickle
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def rss_kb():
    """``(RssAnon, RssFile)`` of this process in KiB."""
    values = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("RssAnon", "RssFile"):
                values[key] = int(rest.split()[0])
    return values["RssAnon"], values["RssFile"]


class PeakSampler(threading.Thread):
    """Records the peaks of RssAnon and RssFile until stopped."""

    def __init__(self, interval=0.005):
        super().__init__(daemon=True)
        self.interval, self.peak_anon, self.peak_file = interval, 0, 0
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            anon, file = rss_kb()
            self.peak_anon, self.peak_file = max(self.peak_anon, anon), max(self.peak_file, file)
            time.sleep(self.interval)

    def stop(self):
        self.done.set()
        self.join()
        anon, file = rss_kb()
        return max(self.peak_anon, anon), max(self.peak_file, file)


def write_pool(path, n_rows, seed=1, chunk=65536):
    """A uint8 (n_rows, 3, 32, 32) .npy of uniform noise, written chunk by chunk (no copy in memory)."""
    if path.is_file():
        return
    partial = path.with_suffix(".partial.npy")
    out = np.lib.format.open_memmap(partial, mode="w+", dtype=np.uint8, shape=(n_rows, 3, 32, 32))
    rng = np.random.default_rng(seed)
    for start in range(0, n_rows, chunk):
        out[start:start + chunk] = rng.integers(0, 256, size=out[start:start + chunk].shape, dtype=np.uint8)
    out.flush()
    del out
    os.replace(partial, path)


def fit_net(folder):
    """A SmallCNN fitted on 1,000 synthetic rows, with ST-CoNAL's snapshots; pickled to ``folder``."""
    sys.path.insert(0, str(HERE))
    from synthetic import cifar_like
    from tod_plugin import ALNetClassifier
    from tod_plugin.hooks import EpochSnapshots
    from tod_plugin.models import SmallCNN

    data = cifar_like(1000, n_test=0)
    net = ALNetClassifier(SmallCNN, module__in_channels=3, module__num_classes=10, classes=np.arange(10),
                          max_epochs=3, random_state=0, device="cpu", normalize=(data.mean, data.std),
                          callbacks=[EpochSnapshots(start=2, every=1)])
    net.fit(data.X_train, data.y_train)
    np.save(folder / "labeled.npy", data.X_train)
    (folder / "net.pkl").write_bytes(pickle.dumps(net))


def child(folder, n_rows, strategy, mode, query):
    """One query in this fresh process; prints one JSON line."""
    import torch

    from tod_plugin import distributed
    from tod_plugin.strategies import cod_sampling, coreset_sampling, stconal_sampling

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    distributed.init_from_env()
    net = pickle.loads((folder / "net.pkl").read_bytes())  # written by this script, in this folder
    labeled = np.load(folder / "labeled.npy", allow_pickle=False)
    path = folder / f"pool_{n_rows}.npy"
    pool = np.load(path, mmap_mode="r", allow_pickle=False) if mode == "mmap" else np.load(path, allow_pickle=False)
    run = {"cod": lambda X, n: cod_sampling(net, X, n, random_state=0),
           "stconal": lambda X, n: stconal_sampling(net, X, n, random_state=0),
           "coreset": lambda X, n: coreset_sampling(net, X, n, random_state=0, X_labeled=labeled)}[strategy]
    run(pool[:2048], 10)  # warm-up through the same reading path (2,048 rows of the pool's pages)
    anon_before, file_before = rss_kb()
    sampler = PeakSampler()
    sampler.start()
    start = time.perf_counter()
    picked = np.asarray(run(pool, query))
    seconds = time.perf_counter() - start
    peak_anon, peak_file = sampler.stop()
    print(json.dumps({"rows": n_rows, "strategy": strategy, "mode": mode, "rank": distributed.rank(),
                      "world": distributed.world_size(), "seconds": seconds, "img_s": n_rows / seconds,
                      "extra_anon_mb": (peak_anon - anon_before) / 1024,
                      "extra_anon_b_per_row": (peak_anon - anon_before) * 1024 / n_rows,
                      "extra_file_mb": (peak_file - file_before) / 1024, "pool_mb": n_rows * 3072 / 2**20,
                      "checksum": int(picked.sum())}), flush=True)


def in_child(args, n_rows, strategy, mode, torchrun=False):
    command = [sys.executable, __file__, "--dir", str(args.dir), "--query", str(args.query),
               "--child", str(n_rows), strategy, mode]
    if torchrun:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port",
                   str(port)] + command[1:]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def report(record):
    print(f"{record['rows']:>9,d} {record['strategy']:8s} {record['mode']:7s} {record['rank']}/{record['world']} "
          f"{record['seconds']:8.1f} s {record['img_s']:8.0f} img/s  anon +{record['extra_anon_mb']:7.1f} MiB "
          f"({record['extra_anon_b_per_row']:6.1f} B/row)  file pages +{record['extra_file_mb']:7.1f} MiB "
          f"of a {record['pool_mb']:.0f} MiB pool", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,300000,1000000", help="comma list of pool sizes (rows)")
    parser.add_argument("--strategies", default="cod,stconal,coreset")
    parser.add_argument("--dir", type=Path, required=True, help="where the pools go (outside the repository)")
    parser.add_argument("--query", type=int, default=1000)
    parser.add_argument("--compare", type=int, default=None, help="also run this size from memory (img/s ratio)")
    parser.add_argument("--torchrun", action="store_true", help="also a 2-rank gloo COD query on each size")
    parser.add_argument("--child", nargs=3, metavar=("ROWS", "STRATEGY", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.dir, int(args.child[0]), args.child[1], args.child[2], args.query)
    args.dir.mkdir(parents=True, exist_ok=True)
    sizes = [int(s) for s in args.sizes.split(",")]
    for n in sizes:
        write_pool(args.dir / f"pool_{n}.npy", n)
    if not (args.dir / "net.pkl").is_file():
        fit_net(args.dir)
    print(f"threads per process: {os.environ.get('OMP_NUM_THREADS', '1')}; query of {args.query}")
    for n in sizes:
        for strategy in args.strategies.split(","):
            runs = {"mmap": in_child(args, n, strategy, "mmap")[0]}
            report(runs["mmap"])
            if args.compare == n:
                runs["memory"] = in_child(args, n, strategy, "memory")[0]
                report(runs["memory"])
                ratio = runs["mmap"]["img_s"] / runs["memory"]["img_s"]
                print(f"{'':9s} {strategy:8s} mmap / memory img/s = {ratio:.3f}; "
                      f"same picks: {runs['mmap']['checksum'] == runs['memory']['checksum']}")
        if args.torchrun:
            for record in sorted(in_child(args, n, "cod", "mmap", torchrun=True), key=lambda r: r["rank"]):
                report(record)


if __name__ == "__main__":
    main()
