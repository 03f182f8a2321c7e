"""Labeling projects: the annotator simulation on digits, and ``tod-al query`` time on 10,000 images.

Run by hand from the repository root:

``python benchmarks/labeling.py simulate [--seeds 3] [--rounds 6] [-n 40]``
    A folder of 1,500 digits PNGs (8x8) with a 297-image validation set; for COD and random and
    each seed a project is made and ``tod-al query`` / ``teach`` are played for ``--rounds`` rounds
    (answers from the true labels; the commands run in this process). Both strategies start from the same diverse first batch.
    Prints validation accuracy per number of labels (mean +- std over the seeds).

``python benchmarks/labeling.py query-time [--images 10000] [--scratch /work/scratch/labeling]``
    A folder of 10,000 distinct 32x32 RGB PNGs (digits upscaled 4x, tinted, with seeded noise) in
    the scratch folder; each command runs as a fresh ``tod-al`` process (wall time, what a user
    waits, Python start-up included; the start-up alone is timed as ``tod-al --help``).
"""
import argparse
import csv
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits

from tod_plugin.labeling import Project
from tod_plugin.labeling.commands import trained_model
from tod_plugin.labeling.pool import cached, read_index
from tod_plugin_cli.main import main as tod_al_main

TOD_AL = [sys.executable, "-c", "from tod_plugin_cli.main import main; main()"]


def tod_al_here(*args):
    """Run ``tod-al args`` in this process (the simulation: no start-up per command)."""
    try:
        tod_al_main([str(a) for a in args])
    except SystemExit as exit_info:
        if exit_info.code:
            raise SystemExit(f"tod-al {' '.join(map(str, args))} failed") from None


def tod_al(*args):
    """Run ``tod-al args`` in a new process; returns (seconds, stdout)."""
    start = time.perf_counter()
    done = subprocess.run([*TOD_AL, *map(str, args)], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"tod-al {' '.join(map(str, args))} failed:\n{done.stderr[-2000:]}")
    return seconds, done.stdout


def digits_uint8():
    digits = load_digits()
    return np.rint(digits.images * (255.0 / 16.0)).astype(np.uint8), digits.target


def answer_round(project, number, truth, out):
    with open(project / "rounds" / f"{number:03d}" / "to_label.csv", newline="") as f:
        rows = [(row["path"], truth[row["path"]]) for row in csv.DictReader(f)]
    with open(out, "w", newline="") as f:
        csv.writer(f).writerows([("path", "label"), *rows])
    return out


def simulate(args):
    work = Path(args.scratch) / "simulate"
    shutil.rmtree(work, ignore_errors=True)
    images, labels = digits_uint8()
    truth = {}
    for row in range(1797):
        folder = work / ("images" if row < 1500 else "validation")
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(images[row]).save(folder / f"{row:04d}.png")
        truth[f"{row:04d}.png"] = str(labels[row])
    with open(work / "validation" / "val.csv", "w", newline="") as f:
        csv.writer(f).writerows([("path", "label")] + [(f"{r:04d}.png", truth[f"{r:04d}.png"]) for r in range(1500, 1797)])
    curves = {}
    for strategy in ("cod", "random"):
        for seed in range(args.seeds):
            project = work / f"{strategy}-{seed}"
            tod_al_here("init", project, "--images", work / "images", "--classes", ",".join(map(str, range(10))),
                   "--image-size", 8, "--no-hflip", "--epochs", args.epochs, "--strategy", strategy, "--seed", seed,
                   "--validation", work / "validation" / "val.csv", "--quiet")
            for number in range(1, args.rounds + 2):
                tod_al_here("query", project, "-n", args.n, "--quiet")
                if number <= args.rounds:
                    tod_al_here("teach", project, answer_round(project, number, truth, work / "answers.csv"))
            state = json.loads((project / "state.json").read_text())
            for record in state["rounds"]:
                if record["accuracy"] is not None:
                    curves.setdefault(strategy, {}).setdefault(record["n_labeled"], []).append(record["accuracy"])
            print(f"{strategy} seed {seed}: " + ", ".join(f"{r['n_labeled']}: {r['accuracy']}" for r in state["rounds"]
                                                          if r["accuracy"] is not None), flush=True)
    print("\n| labels | " + " | ".join(f"{s} val. accuracy (%)" for s in curves) + " |")
    print("|---|" + "---|" * len(curves))
    for size in sorted(next(iter(curves.values()))):
        cells = [f"{100 * statistics.mean(c[size]):.1f} +- {100 * statistics.pstdev(c[size]):.1f}" for c in curves.values()]
        print(f"| {size} | " + " | ".join(cells) + " |")


def write_synthetic(folder, count, seed=0):
    """``count`` distinct 32x32 RGB PNGs: digits upscaled 4x, tinted per image, with noise; true labels."""
    images, labels = digits_uint8()
    rng = np.random.RandomState(seed)
    truth = {}
    for i in range(count):
        row = i % len(images)
        big = np.kron(images[row], np.ones((4, 4), dtype=np.uint8)).astype(np.float64)
        tint = rng.uniform(0.5, 1.0, size=3)
        pixels = big[:, :, None] * tint + rng.normal(0, 12, size=(32, 32, 3))
        name = f"{i // 1000:02d}/{i:05d}.png"
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(folder / name)
        truth[name] = str(labels[row])
    return truth


def query_time(args):
    work = Path(args.scratch) / "query-time"
    shutil.rmtree(work, ignore_errors=True)
    start = time.perf_counter()
    truth = write_synthetic(work / "images", args.images)
    print(f"wrote {args.images} PNGs in {time.perf_counter() - start:.0f} s", flush=True)
    project = work / "project"
    rows = [("python start-up (tod-al --help)", tod_al("--help")[0])]
    rows.append((f"init: scan, hash and decode {args.images} images", tod_al(
        "init", project, "--images", work / "images", "--classes", ",".join(map(str, range(10))), "--quiet")[0]))
    rows.append(("query 1 (no labels: k-means first batch of 100)", tod_al("query", project, "-n", 100, "--quiet")[0]))
    tod_al("teach", project, answer_round(project, 1, truth, work / "answers.csv"))
    rows.append(("query 2 (train 20 epochs on 100 labels, COD over the pool)",
                 tod_al("query", project, "-n", 100, "--quiet")[0]))
    rows.append(("query 3 (labels unchanged: load the model, COD over the pool)",
                 tod_al("query", project, "-n", 100, "--quiet")[0]))
    shutil.rmtree(project / "cache")
    rows.append((f"query 4 (cache deleted: decode {args.images} images again, then as query 3)",
                 tod_al("query", project, "-n", 100, "--quiet")[0]))
    extra = work / "images" / "new"
    extra.mkdir()
    for i, name in enumerate(sorted(truth)[:1000]):
        image = np.asarray(Image.open(work / "images" / name))
        Image.fromarray(255 - image).save(extra / f"{i:05d}.png")  # new content
    rows.append(("query 5 (1,000 new images join: hash + decode them, then as query 3)",
                 tod_al("query", project, "-n", 100, "--quiet")[0]))
    project_now = Project.open(project)
    net, _ = trained_model(project_now)
    images = cached(project_now, read_index(project_now))
    X = images.pixels(images.readable(sorted(images.index)))
    start = time.perf_counter()
    net.predict_proba(X)
    rows.append((f"for scale: one predict_proba pass over all {len(X)} images, in-process (COD needs 2)",
                 time.perf_counter() - start))
    print("\n| command (fresh process) | seconds |\n|---|---|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.1f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("simulate", "query-time"))
    parser.add_argument("--scratch", default="/work/scratch/labeling")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("-n", type=int, default=40)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--images", type=int, default=10000)
    args = parser.parse_args()
    simulate(args) if args.what == "simulate" else query_time(args)


if __name__ == "__main__":
    main()
