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
