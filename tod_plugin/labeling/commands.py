"""The labeling commands: init, teach, status, predict, export (query is in query.py).

Each command but init holds the project's lock while it runs (see project.py); the ones that
change the project end in one commit. ``say`` receives the lines a command reports as it goes.
"""
import os
from pathlib import Path

import numpy as np

from ..data.images import channel_stats
from ..errors import ConfigError
from . import model as models
from .index import decode_files, file_sha256, find_images, scan
from .pool import cached, read_index, write_index
from .project import Project, empty_state, project_lock, write_json
from .query import query as query_round
from .settings import ProjectSettings
from .sheets import read_csv_rows, write_csv
from .status import plot_status, status_rows
from .teach import LabelsRejected, listing, read_and_check, taught_state

STATS_SAMPLE = 2000


def parse_classes(text):
    """``"cat,dog"`` -> ``["cat", "dog"]``; each name once."""
    names = [c.strip() for c in (text or "").split(",") if c.strip()]
    if len(set(names)) != len(names):
        raise ConfigError(f"--classes names a class twice: {text!r}")
    return names


def init(root, images, classes=(), labels=None, validation=None, quiet=False, say=print, **settings):
    """Make the project folder ``root`` for the images under ``images``: settings, index, decoded
    cache, the validation set and the labels of ``labels`` (a path,label CSV) as round 0."""
    folder = Path(images).expanduser().absolute()
    if settings.get("pretrained"):  # later commands may run from another folder
        settings["pretrained"] = str(Path(settings["pretrained"]).expanduser().absolute())
    settings = ProjectSettings(images=str(folder), **settings).validate()
    classes = list(classes)
    seed_rows = read_csv_rows(labels) if labels else []
    classes += sorted({label for _, _, label in seed_rows if label} - set(classes))
    if len(classes) < 2:
        raise ConfigError("give at least two classes: --classes A,B (or a --labels CSV that uses them)")
    index = scan(folder)
    if not index:
        raise ConfigError(f"no images under {folder} (jpg, jpeg, png, bmp, webp, tif, ... searched recursively)")
    with Project.creating(root) as staging:
        project = Project(staging, settings, empty_state(classes, write_index(staging, index)))
        images = cached(project, index, quiet, say)
        readable = images.readable(sorted(index))
        sample = np.random.RandomState(settings.seed).permutation(len(readable))[:STATS_SAMPLE]
        settings.mean, settings.std = channel_stats(images.pixels([readable[i] for i in sorted(sample)]))
        write_json(staging / "settings.json", settings.to_dict())
        if validation:
            write_json(staging / "validation.json", validation_entries(validation, classes, images.cache, quiet))
        state = project.state
        if seed_rows:
            chosen = read_and_check(labels, project, index, "path", "label", add_class=False, relabel=False)
            state = taught_state(state, chosen, labels)[0]
        write_json(staging / "state.json", state)
    return {"images": len(index), "readable": len(readable), "classes": classes,
            "labels": len(state["labels"]), "validation": bool(validation)}


def validation_entries(csv_path, classes, cache, quiet):
    """The validation CSV's images (paths relative to the CSV's folder, or absolute), checked and decoded."""
    rows = [(line, path, label) for line, path, label in read_csv_rows(csv_path) if path and label]
    if not rows:
        raise LabelsRejected(f"--validation {csv_path}: no row has both a path and a label")
    base = Path(csv_path).absolute().parent
    missing = [(line, path) for line, path, _ in rows if not (base / path).is_file()]
    foreign = [(line, label) for line, _, label in rows if label not in classes]
    if missing or foreign:
        problem = listing("naming a missing file", missing) if missing else listing(
            f"with a label that is no class ({', '.join(classes)})", foreign)
        raise LabelsRejected(f"--validation {csv_path}: {problem}")
    entries = [{"path": os.path.normpath(base / path), "label": label, "sha256": file_sha256(base / path)}
               for _, path, label in rows]
    cache.add({e["sha256"]: Path(e["path"]) for e in entries}, quiet)
    return entries


def query(root, n, wait, quiet=False, say=print):
    """The next round (see ``query.query``), under the project's lock."""
    with project_lock(root, wait):
        project = Project.open(root)
        project.remove_unreferenced()
        return query_round(project, n, quiet, say)


def teach(root, csv_path, wait, path_column="path", label_column="label", add_class=False, relabel=False):
    """Record the labels of ``csv_path`` (all checked first; see teach.py); ``(new, changed)`` counts."""
    with project_lock(root, wait):
        project = Project.open(root)
        chosen = read_and_check(csv_path, project, read_index(project), path_column, label_column, add_class, relabel)
        state, added, changed = taught_state(project.state, chosen, csv_path)
        new_classes = state["classes"][len(project.state["classes"]):]
        project.commit(state)
        return {"new": added, "changed": changed, "labels": len(state["labels"]), "new_classes": new_classes}


def status(root, wait):
    """``(summary, rounds table rows, plot path or None)``; writes ``status.png`` when a validation set exists."""
    with project_lock(root, wait):
        project = Project.open(root)
        index = read_index(project)
        summary, rows = status_rows(project, index)
        plot = None
        if project.validation and project.state["rounds"]:
            plot = project.root / "status.png"
            plot_status(project.state, plot)
        return summary, rows, plot


def trained_model(project):
    model = project.state["model"]
    if model is None:
        raise ConfigError(f"the project {project.root} has no trained model yet: label at least one image of "
                          "every class (tod-al teach) and run tod-al query")
    net = models.new_net(project.settings, model["classes"], model["round"])
    return models.load_checkpoint(net, project.models_dir / model["file"], model["n_fits"], project.settings), model


def predict(root, images, out, wait, quiet=False, say=print):
    """Label the images under ``images`` with the project's model into ``out`` (path,label,confidence)."""
    with project_lock(root, wait):
        project = Project.open(root)
        net, model = trained_model(project)
        folder = Path(images).expanduser().absolute()
        paths = find_images(folder)
        if not paths:
            raise ConfigError(f"no images under {folder}")
        X, unreadable = decode_files([folder / p for p in paths], project.settings.image_size, quiet)
        if unreadable:
            say(f"{len(unreadable)} file(s) could not be read and get no label: "
                + ", ".join(paths[i] for i in sorted(unreadable)[:10]))
        keep = np.array([i not in unreadable for i in range(len(paths))])
        proba = net.predict_proba(X[keep])
        kept = [p for p, k in zip(paths, keep) if k]
        classes = model["classes"]
        write_csv(out, ("path", "label", "confidence"),
                  [[p, classes[int(row.argmax())], f"{row.max():.4f}"] for p, row in zip(kept, proba)])
        return len(kept)


def export(root, out, wait):
    """Every label collected (path,label,round), by round then path; returns how many."""
    with project_lock(root, wait):
        project = Project.open(root)
        labels = project.state["labels"]
        rows = sorted(([path, label, number] for path, (label, number) in labels.items()), key=lambda r: (r[2], r[0]))
        write_csv(out, ("path", "label", "round"), rows)
        return len(rows)
