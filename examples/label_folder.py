"""Label a folder of images round by round from Python (what ``tod-al init / query / teach`` do).

A folder of PNGs is made from scikit-learn's 8x8 digits; the "annotator" answers each round's
sheet from the digits' true labels. Returns the validation accuracy of the last round's model.
"""
import csv
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits

from tod_plugin import labeling


def write_pngs(folder, images, rows):
    folder.mkdir(parents=True)
    for row in rows:
        Image.fromarray(images[row]).save(folder / f"{row:04d}.png")


def main(epochs=30, rounds=4, n=40, strategy="cod", pool=500, workdir=None, say=print):
    """Play ``rounds`` rounds of ``n`` labels on ``pool`` digits in ``workdir`` (default: a temporary folder)."""
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="tod-al-label-") as folder:
            return main(epochs, rounds, n, strategy, pool, folder, say)
    digits = load_digits()
    images = np.rint(digits.images * (255.0 / 16.0)).astype(np.uint8)
    truth = {f"{row:04d}.png": str(label) for row, label in enumerate(digits.target)}
    work = Path(workdir)
    write_pngs(work / "photos", images, range(pool))
    write_pngs(work / "held_out", images, range(1500, 1797))
    with open(work / "held_out" / "val.csv", "w", newline="") as f:
        csv.writer(f).writerows([("path", "label")] + [(f"{r:04d}.png", truth[f"{r:04d}.png"]) for r in range(1500, 1797)])

    project = work / "project"
    labeling.init(project, work / "photos", classes=[str(c) for c in range(10)], validation=work / "held_out" / "val.csv",
                  image_size=8, epochs=epochs, hflip=False, strategy=strategy, quiet=True, say=say)
    for _ in range(rounds):
        record = labeling.query(project, n, wait=10, quiet=True, say=say)
        sheet = project / "rounds" / f"{record['round']:03d}" / "to_label.csv"
        with open(sheet, newline="") as f:
            answers = [(row["path"], truth[row["path"]]) for row in csv.DictReader(f)]  # the annotator
        with open(work / "answers.csv", "w", newline="") as f:
            csv.writer(f).writerows([("path", "label"), *answers])
        labeling.teach(project, work / "answers.csv", wait=10)
    labeling.query(project, n, wait=10, quiet=True, say=say)  # trains on every label so far
    summary, per_round, _ = labeling.status(project, wait=10)
    say(labeling.format_status(summary, per_round))
    return per_round[-1]["accuracy"]


if __name__ == "__main__":
    main()
