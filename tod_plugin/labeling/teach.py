"""``teach``: check a whole label CSV against the project, then record it in one commit.

Problems, in this order, each reported as one line listing the offending rows (the first 10 and a
count): no labeled rows at all, paths outside the images folder, paths that are no image of the
folder, labels not in the classes (unless ``add_class``), a path given twice with different
labels, a path already labeled differently (unless ``relabel``). Rows with an empty label are
skipped (a sheet need not be filled completely). Nothing is written unless the file passes.
"""
import time
from pathlib import Path

from ..data.images import IMAGE_EXTENSIONS
from ..errors import ConfigError
from .sheets import read_csv_rows, relative_key

SHOWN = 10


class LabelsRejected(ConfigError):
    """A label CSV failed the checks; the project is unchanged."""


def listing(what, items):
    """``"2 rows what: row 2 'a.png', row 5 'b.png'"`` (the first 10, then how many were shown)."""
    shown = ", ".join(f"row {line} {value!r}" for line, value in items[:SHOWN])
    more = f" ({SHOWN} of {len(items)} shown)" if len(items) > SHOWN else ""
    return f"{len(items)} row{'s' * (len(items) != 1)} {what}: {shown}{more}"


def check_rows(csv_path, rows, images_folder, index, classes, labels, add_class, relabel):
    """``{key: (label, line)}`` of a label file's labeled rows, or :class:`LabelsRejected`."""
    labeled = [(line, path, label) for line, path, label in rows if label]
    if not labeled:
        raise LabelsRejected(f"{csv_path}: nothing to teach, no row has both a path and a label")
    outside, unknown, foreign, conflicting, relabeled = [], [], [], [], []
    chosen = {}
    for line, path, label in labeled:
        key = relative_key(path, images_folder) if path else None
        if key is None:
            outside.append((line, path))
            continue
        if key not in index and not is_image_file(Path(images_folder) / key):
            unknown.append((line, path))
            continue
        if label not in classes and not add_class:
            foreign.append((line, label))
        if key in chosen and chosen[key][0] != label:
            conflicting.append((line, f"{path} -> {label}, row {chosen[key][1]} says {chosen[key][0]}"))
        chosen.setdefault(key, (label, line))
        if key in labels and labels[key][0] != label and not relabel:
            relabeled.append((line, f"{path} -> {label}, labeled {labels[key][0]}"))
    problems = [
        listing(f"with a path outside the images folder {images_folder}", outside) if outside else None,
        listing(f"naming no image file of {images_folder} (jpg, png, ...)", unknown) if unknown else None,
        listing(f"with a label that is no class ({', '.join(classes)}; --add-class adds it)", foreign)
        if foreign else None,
        listing("giving a path a second, different label", conflicting) if conflicting else None,
        listing("changing an earlier label (--relabel allows it)", relabeled) if relabeled else None,
    ]
    problems = [p for p in problems if p]
    if problems:
        others = f"; also {'; '.join(p.split(':')[0] for p in problems[1:])}" if len(problems) > 1 else ""
        raise LabelsRejected(f"{csv_path}: {problems[0]}{others}; nothing was recorded")
    return chosen


def is_image_file(path):
    return path.suffix.lower() in IMAGE_EXTENSIONS and path.is_file()


def taught_state(state, chosen, csv_path):
    """The state after teaching ``chosen``: each label belongs to the latest round that proposed its
    path, else to the current round (0 before the first query); new classes are appended."""
    proposed_in = {path: r["round"] for r in state["rounds"] for path in r["proposed"]}
    current = len(state["rounds"])
    labels = dict(state["labels"])
    classes = list(state["classes"])
    added, changed = 0, 0
    for key, (label, _) in sorted(chosen.items()):
        if label not in classes:
            classes.append(label)
        old = labels.get(key)
        if old is not None and old[0] == label:
            continue
        added, changed = added + (old is None), changed + (old is not None)
        labels[key] = [label, proposed_in.get(key, current)]
    teaches = [*state.get("teaches", []), {"file": str(csv_path), "round": current, "new": added,
                                            "changed": changed, "time": time.strftime("%Y-%m-%d %H:%M:%S")}]
    return {**state, "classes": classes, "labels": labels, "teaches": teaches}, added, changed


def read_and_check(csv_path, project, index, path_column, label_column, add_class, relabel):
    """The checked labels of ``csv_path`` for ``project`` (``{key: (label, line)}``)."""
    rows = read_csv_rows(csv_path, path_column, label_column)
    return check_rows(csv_path, rows, project.settings.images_folder, index, project.state["classes"],
                      project.state["labels"], add_class, relabel)
