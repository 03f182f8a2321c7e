"""Load time and peak memory of the dataset loaders, at the real datasets' sizes, with generated files.

No download: the files are generated locally in the official on-disk formats and sizes —
CIFAR-10 (5 x 10,000 + 10,000 images, Python 2 protocol-2 pickles as the official tarball holds),
CIFAR-100 (50,000 + 10,000), SVHN (73,257 + 26,032 in MATLAB files), and with ``--all``
Caltech-101 (8,677 JPEGs of 200-300 px in 101 class folders) and Tiny-ImageNet (100,000 + 10,000
JPEGs of 64 x 64). The generated files' md5 sums are registered as the "official" ones, so the
timing includes the checksum verification that real full-size files get.

Each dataset is loaded in a fresh subprocess, twice: once timed (and its peak RSS growth over the
RSS before loading: Linux's peak counter is reset there), once under ``tracemalloc`` (peak of the memory
Python and numpy allocate during the load). Both peaks are reported against the size of the uint8
image arrays loaded (train + test).

    python benchmarks/load_datasets.py                # cifar10, cifar10im, cifar100, svhn
    python benchmarks/load_datasets.py --all          # + caltech101, tinyimagenet (minutes, ~2 GB of files)
"""
import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[1] / "tests"))
from dataset_files import write_pickle  # noqa: E402  (Python 2 protocol-2 pickles, as the tests write)


def md5(path):
    from tod_plugin.data.files import md5sum

    return md5sum(path)


def make_cifar(root, rng, checksums):
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    write_pickle(folder / "batches.meta", {"label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog",
                                                       "horse", "ship", "truck"], "num_cases_per_batch": 10000,
                                       "num_vis": 3072})
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        write_pickle(folder / name, {"batch_label": name, "labels": rng.randint(0, 10, 10000).tolist(),
                                 "data": rng.randint(0, 256, (10000, 3072), dtype=np.uint8),
                                 "filenames": [f"image_{i:06d}.png" for i in range(10000)]})
        checksums.setdefault("cifar", {})[name] = (10000, md5(folder / name))
    folder = root / "cifar-100-python"
    folder.mkdir()
    write_pickle(folder / "meta", {"fine_label_names": [f"class{i}" for i in range(100)],
                               "coarse_label_names": [f"super{i}" for i in range(20)]})
    for name, n in (("train", 50000), ("test", 10000)):
        write_pickle(folder / name, {"batch_label": name, "fine_labels": rng.randint(0, 100, n).tolist(),
                                 "coarse_labels": rng.randint(0, 20, n).tolist(),
                                 "data": rng.randint(0, 256, (n, 3072), dtype=np.uint8),
                                 "filenames": [f"image_{i:06d}.png" for i in range(n)]})
        checksums.setdefault("cifar100", {})[name] = (n, md5(folder / name))


def make_svhn(root, rng, checksums):
    from scipy.io import savemat

    folder = root / "svhn"
    folder.mkdir()
    for name, n in (("train_32x32.mat", 73257), ("test_32x32.mat", 26032)):
        savemat(folder / name, {"X": rng.randint(0, 256, (32, 32, 3, n), dtype=np.uint8),
                                "y": rng.randint(1, 11, (n, 1)).astype(np.uint8)})
        checksums.setdefault("svhn", {})[name] = (n, md5(folder / name))


def photo(rng, width, height):
    """A JPEG-friendly image: smooth colour gradients plus mild noise (files of realistic size)."""
    from PIL import Image

    ys, xs = np.mgrid[0:height, 0:width]
    phase = rng.uniform(0, 6.28, 3)
    channels = [127 + 100 * np.sin(xs / rng.uniform(8, 40) + ys / rng.uniform(8, 40) + p) for p in phase]
    pixels = np.stack(channels, axis=-1) + rng.normal(0, 12, (height, width, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def make_caltech(root, rng):
    folder = root / "caltech101" / "101_ObjectCategories"
    sizes = [(300, 200), (200, 300), (300, 225), (260, 300), (300, 240)]
    per_class = np.full(101, 8677 // 101)
    per_class[: 8677 - per_class.sum()] += 1
    for c, count in enumerate(per_class):
        (folder / f"class_{c:03d}").mkdir(parents=True)
        for i in range(count):
            width, height = sizes[rng.randint(len(sizes))]
            photo(rng, width, height).save(folder / f"class_{c:03d}" / f"image_{i + 1:04d}.jpg", quality=75)
    (folder / "BACKGROUND_Google").mkdir()


def make_tinyimagenet(root, rng):
    folder = root / "tiny-imagenet-200"
    wnids = [f"n{i:08d}" for i in range(200)]
    (folder / "val" / "images").mkdir(parents=True)
    (folder / "wnids.txt").write_text("\n".join(wnids) + "\n")
    tiles = [photo(rng, 64, 64) for _ in range(64)]  # re-used content: generation speed, same decode cost
    for c, wnid in enumerate(wnids):
        (folder / "train" / wnid / "images").mkdir(parents=True)
        for i in range(500):
            tiles[(c + i) % 64].save(folder / "train" / wnid / "images" / f"{wnid}_{i}.JPEG", quality=75)
    lines = []
    for i in range(10000):
        tiles[i % 64].save(folder / "val" / "images" / f"val_{i}.JPEG", quality=75)
        lines.append(f"val_{i}.JPEG\t{wnids[i % 200]}\t0\t0\t63\t63")
    (folder / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")


def reset_peak_rss():
    """Reset the process's peak RSS to its current RSS (Linux ``clear_refs``); return that RSS in bytes."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status_kb("VmRSS") * 1024


def peak_rss():
    return _status_kb("VmHWM") * 1024


def _status_kb(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status (this benchmark reads Linux's process status)")


def measure(name, data_dir, checksums, traced):
    """Runs in the subprocess: load once, print one JSON line."""
    import tracemalloc

    from tod_plugin.data import cifar, load_dataset, svhn

    for table, key in ((cifar.CIFAR10.official, "cifar"), (cifar.CIFAR100.official, "cifar100"),
                              (svhn.OFFICIAL, "svhn")):
        table.update({k: tuple(v) for k, v in checksums.get(key, {}).items()})
    baseline = reset_peak_rss()
    if traced:
        tracemalloc.start()
    start = time.perf_counter()
    data = load_dataset(name, data_dir=data_dir)
    seconds = time.perf_counter() - start
    result = {"name": name, "seconds": seconds, "array_bytes": data.X_train.nbytes + data.X_test.nbytes,
              "n_train": len(data.X_train), "n_test": len(data.X_test), "shape": list(data.X_train.shape[1:])}
    if traced:
        result["traced_peak"] = tracemalloc.get_traced_memory()[1]
    else:
        result["rss_growth"] = peak_rss() - baseline
    print(json.dumps(result))


def run_measure(name, data_dir, checksum_file, traced):
    command = [sys.executable, str(HERE), "--measure", name, "--data-dir", str(data_dir),
               "--checksums", str(checksum_file)] + (["--traced"] if traced else [])
    output = subprocess.run(command, check=True, capture_output=True, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"}).stdout
    return json.loads(output.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--all", action="store_true", help="also Caltech-101 and Tiny-ImageNet (slow to generate)")
    parser.add_argument("--work-dir", default=None, help="where to generate the files (default: a temp folder)")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    parser.add_argument("--checksums", help=argparse.SUPPRESS)
    parser.add_argument("--traced", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.measure, args.data_dir, json.loads(Path(args.checksums).read_text()), args.traced)
        return

    root = Path(args.work_dir or tempfile.mkdtemp(prefix="tod-datasets-"))
    rng = np.random.RandomState(0)
    checksums = {}
    names = ["cifar10", "cifar10im", "cifar100", "svhn"] + (["caltech101", "tinyimagenet"] if args.all else [])
    started = time.perf_counter()
    make_cifar(root, rng, checksums)
    make_svhn(root, rng, checksums)
    if args.all:
        make_caltech(root, rng)
        make_tinyimagenet(root, rng)
    checksum_file = root / "checksums.json"
    checksum_file.write_text(json.dumps(checksums))
    print(f"generated in {time.perf_counter() - started:.0f} s under {root}")
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"numpy {np.__version__}")
    header = (f"{'dataset':<13} {'images':>15} {'shape':>12} {'array MB':>9} {'load s':>7} "
              f"{'RSS growth MB':>14} {'x array':>7} {'traced peak MB':>15} {'x array':>7}")
    print(header)
    print("-" * len(header))
    try:
        for name in names:
            timed = run_measure(name, root, checksum_file, traced=False)
            traced = run_measure(name, root, checksum_file, traced=True)
            mb = timed["array_bytes"] / 2 ** 20
            print(f"{name:<13} {timed['n_train']:>7}+{timed['n_test']:<7} {'x'.join(map(str, timed['shape'])):>12} "
                  f"{mb:>9.0f} {timed['seconds']:>7.2f} {timed['rss_growth'] / 2 ** 20:>14.0f} "
                  f"{timed['rss_growth'] / timed['array_bytes']:>7.2f} {traced['traced_peak'] / 2 ** 20:>15.0f} "
                  f"{traced['traced_peak'] / timed['array_bytes']:>7.2f}")
    finally:
        if args.work_dir is None:
            shutil.rmtree(root)


if __name__ == "__main__":
    main()
