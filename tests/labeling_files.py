"""Image folders for the labeling tests: scikit-learn's 8x8 digits as PNG files, labels kept aside."""
import csv

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits


def digit_pixels():
    """All 1797 digits as (N, 8, 8) uint8 and their labels."""
    digits = load_digits()
    return np.rint(digits.images * (255.0 / 16.0)).astype(np.uint8), digits.target


def write_digits(folder, rows, nested=True):
    """Write the digits ``rows`` as grey PNGs under ``folder`` (in sub-folders by row block when
    ``nested``); returns ``{relative path: label}`` (the hidden labels)."""
    images, labels = digit_pixels()
    hidden = {}
    for row in rows:
        relative = f"part{row // 500}/d{row:04d}.png" if nested else f"d{row:04d}.png"
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(images[row]).save(path)
        hidden[relative] = str(labels[row])
    return hidden


def write_labels(path, pairs, header=("path", "label")):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(pairs)
    return path


def read_sheet(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def answer(sheet, hidden):
    """The sheet's rows with the label column filled from the hidden labels."""
    return [[row["path"], hidden[row["path"]]] for row in sheet]


def tree_bytes(folder):
    """``{relative path: bytes}`` of every file under ``folder``: the project's exact state."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def digits_project(tmp_path, rows=range(300), seed_per_class=0, extra=()):
    """``(project, images folder, hidden labels)``: ``tod-al init`` on the digits ``rows`` as PNGs (8 px,
    no flips, 20 epochs, CPU: the kill test forks), with ``seed_per_class`` labels of each class given as ``--labels``."""
    from tod_plugin_cli.main import main

    images = tmp_path / "images"
    hidden = write_digits(images, rows)
    args = ["init", str(tmp_path / "proj"), "--images", str(images), "--classes", ",".join(map(str, range(10))),
            "--image-size", "8", "--epochs", "20", "--no-hflip", "--device", "cpu", "--quiet", *extra]
    if seed_per_class:
        seeds = [[p, c] for c in map(str, range(10)) for p in [p for p, label in hidden.items() if label == c][:seed_per_class]]
        args += ["--labels", str(write_labels(tmp_path / "seed.csv", seeds))]
    try:
        main(args)
    except SystemExit as exit_info:
        assert exit_info.code == 0
    return tmp_path / "proj", images, hidden


def fill_sheet(path, hidden):
    """Fill the label column of a round sheet in place, as a person would in a spreadsheet."""
    rows = read_sheet(path)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({**row, "label": hidden[row["path"]]} for row in rows)
    return path
