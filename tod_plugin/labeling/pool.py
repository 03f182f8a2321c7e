"""What a command sees of the images: the committed or rescanned index, the decoded cache, and the
pool / labeled / validation rows of it."""
import hashlib
import json
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from .index import ImageCache, index_name, scan
from .project import read_json, write_json


@dataclass
class Images:
    """The index (``{path: [size, mtime_ns, sha256]}``) with the decoded cache behind it."""

    index: dict
    cache: ImageCache

    def readable(self, paths):
        """The paths (in order) whose image decoded."""
        return [p for p in paths if self.index[p][2] in self.cache.rows]

    def pixels(self, paths):
        return self.cache.load([self.index[p][2] for p in paths])


def read_index(project):
    """The committed index of ``project``."""
    data = read_json(project.root / "index" / project.state["index"], "the project is damaged")
    if not isinstance(data, dict) or not all(isinstance(v, list) and len(v) == 3 for v in data.values()):
        raise ConfigError(f"{project.root / 'index' / project.state['index']} is not an image index; the project "
                          "is damaged")
    return data


def write_index(root, index):
    """Write an index version under ``root/index/`` (content-named); returns its file name."""
    name = index_name(index)
    (root / "index").mkdir(parents=True, exist_ok=True)
    write_json(root / "index" / name, index)
    return name


def rescanned(project, quiet, say):
    """``(Images, index file name)`` of the images folder as it is now, new images decoded; says how
    many joined or left since the committed index."""
    folder = project.settings.images_folder
    old = read_index(project)
    index = scan(folder, old)
    joined, left = len(set(index) - set(old)), len(set(old) - set(index))
    if joined or left:
        say(f"{joined} new image{'s' * (joined != 1)} join the pool, {left} removed one{'s' * (left != 1)} leave it")
    return cached(project, index, quiet, say), write_index(project.root, index)


def cached(project, index, quiet=True, say=None):
    """``Images`` over ``index``, decoding what the cache lacks (saying how many could not be read)."""
    cache = ImageCache(project.cache_dir, project.settings.image_size)
    files = {}
    for path, entry in sorted(index.items()):
        files.setdefault(entry[2], project.settings.images_folder / path)
    before = set(cache.unreadable)
    cache.add(files, quiet)
    bad = sorted(p for p, e in index.items() if e[2] in cache.unreadable and e[2] not in before)
    if bad and say is not None:
        say(f"{len(bad)} file{'s' * (len(bad) != 1)} could not be read as images and stay out of the pool: "
            + ", ".join(bad[:10]) + (" ..." if len(bad) > 10 else ""))
    return Images(index, cache)


def labels_digest(used, classes):
    """What a model was trained on: the classes and each labeled image's path, content and label."""
    return hashlib.sha256(json.dumps([classes, used], sort_keys=True).encode()).hexdigest()


def class_counts(labels, paths, classes):
    """Labels per class among ``paths``."""
    counts = dict.fromkeys(classes, 0)
    for path in paths:
        counts[labels[path][0]] += 1
    return counts


def as_indices(labels, paths, classes):
    position = {c: i for i, c in enumerate(classes)}
    return np.array([position[labels[p][0]] for p in paths], dtype=np.int64)
