"""The project folder, its lock and its commit point.

Layout::

    proj/settings.json        what init recorded (ProjectSettings)
    proj/state.json           the commit point: classes, labels with their round, rounds, the index,
                              the model checkpoint's file name and what it was trained on
    proj/index/<sha>.json     image index versions (path -> size, mtime, content hash)
    proj/models/<sha>.pt      model checkpoints (state dicts only)
    proj/models/sampler-<sha>.pt  the query strategy's fitted state (data only; see sampler.py)
    proj/cache/               decoded images, keyed by content hash (see index.py)
    proj/rounds/NNN/          to_label.csv and to_label.html of round NNN
    proj/status.png           written by status

Every file is written atomically (``experiment.store.atomic_write_bytes``) and files other than
state.json are new, content-named files or round sheets no committed state refers to yet. A
command writes them first and then replaces state.json in one rename: a crash (SIGKILL) before the
rename leaves the previous state, after it the new one. Files the committed state does not refer
to (left by a killed command) are removed by the next command that changes the project.

One command at a time: each holds an exclusive ``flock`` on ``proj/.lock`` (released by the
kernel when the process ends, killed or not); a second command waits up to ``wait`` seconds,
then fails naming the project.
"""
import contextlib
import fcntl
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from ..atomic import atomic_write_text
from ..errors import ConfigError
from .settings import ProjectSettings

STATE_VERSION = 1
UMASK = os.umask(0o022)
os.umask(UMASK)
LOCK_POLL_S = 0.1


class ProjectBusy(ConfigError):
    """Another command holds the project's lock."""


def read_json(path, what):
    """A JSON document from a project file; a missing or unreadable one names the file."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path} is missing: {what}") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path} is unreadable ({exc}): {what}") from None


def write_json(path, obj):
    atomic_write_text(path, json.dumps(obj, indent=1, sort_keys=True) + "\n")


def check_is_project(root):
    if not (Path(root) / "settings.json").is_file():
        raise ConfigError(f"{root} is not a tod-al labeling project (no settings.json); "
                          "make one with: tod-al init PROJECT --images FOLDER --classes A,B")


@contextlib.contextmanager
def project_lock(root, wait):
    """Hold the project's lock; wait up to ``wait`` seconds for another command to release it."""
    check_is_project(root)
    path = Path(root) / ".lock"
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise ConfigError(f"cannot open the lock {path}: {exc.strerror}") from None
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise ProjectBusy(f"another tod-al command is working on the project {root} (waited {wait:g} s "
                                      "for it); run this one when it has finished, or give --wait SECONDS") from None
                time.sleep(LOCK_POLL_S)
        yield
    finally:
        os.close(fd)  # releases the lock


class Project:
    """An open project: ``settings`` and the committed ``state`` (a dict, see :func:`empty_state`)."""

    def __init__(self, root, settings, state):
        self.root = Path(root)
        self.settings = settings
        self.state = state

    # ------------------------------------------------------------------ places
    @property
    def cache_dir(self):
        return self.root / "cache"

    @property
    def models_dir(self):
        return self.root / "models"

    def round_dir(self, number):
        return self.root / "rounds" / f"{number:03d}"

    @property
    def validation(self):
        """The held-out labeled images given to init: ``[{"path", "label", "sha256"}]`` (absolute paths)."""
        path = self.root / "validation.json"
        if not path.is_file():
            return []
        entries = read_json(path, "the project is damaged")
        if not (isinstance(entries, list) and all(isinstance(e, dict) and set(e) == {"path", "label", "sha256"}
                                                  and all(isinstance(v, str) for v in e.values()) for e in entries)):
            raise ConfigError(f"{path} is not a list of validation images; the project is damaged")
        return entries

    # ------------------------------------------------------------------ life cycle
    @classmethod
    def open(cls, root):
        root = Path(root)
        check_is_project(root)
        settings = ProjectSettings.from_dict(read_json(root / "settings.json", "the project is damaged"),
                                             source=str(root / "settings.json"))
        state = check_state(read_json(root / "state.json", "the project is damaged"), root / "state.json")
        return cls(root, settings, state)

    @staticmethod
    @contextlib.contextmanager
    def creating(root):
        """A temporary folder beside ``root`` to build a new project in; renamed to ``root`` on success
        (so a killed ``init`` leaves no half project), removed on failure."""
        root = Path(root)
        if root.exists() and (not root.is_dir() or any(root.iterdir())):
            raise ConfigError(f"{root} exists and is not empty; choose a new project folder")
        root.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=root.parent, prefix=f".{root.name}.init-"))
        staging.chmod(0o777 & ~UMASK)  # mkdtemp makes 0700; a project gets the usual permissions
        try:
            (staging / ".lock").touch()
            yield staging
            if root.exists():
                root.rmdir()
            os.replace(staging, root)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def commit(self, state):
        """Make ``state`` the project's state (one atomic rename), then drop the files it no longer uses."""
        write_json(self.root / "state.json", check_state(state, "the new state"))
        self.state = state
        self.remove_unreferenced()

    def remove_unreferenced(self):
        """Delete index versions and checkpoints the committed state does not name, and temporary files
        of interrupted writes; round folders past the last committed round."""
        keep = {self.state["index"], (self.state["model"] or {}).get("file"),
                (self.state.get("sampler") or {}).get("file")}
        for folder in (self.root / "index", self.models_dir):
            for path in folder.glob("*") if folder.is_dir() else ():
                if path.name not in keep:
                    path.unlink(missing_ok=True)
        for path in self.root.rglob(".*.tmp"):
            path.unlink(missing_ok=True)
        rounds = self.root / "rounds"
        for path in rounds.iterdir() if rounds.is_dir() else ():
            if not path.name.isdigit() or int(path.name) > len(self.state["rounds"]):
                shutil.rmtree(path, ignore_errors=True)


def empty_state(classes, index_file):
    """The state of a new project: no labels, no rounds, no model."""
    return {"version": STATE_VERSION, "classes": list(classes), "labels": {}, "rounds": [], "index": index_file,
            "model": None, "sampler": None}


def check_state(state, source):
    """``state`` if it has the shape of a project state (types of every field), else :class:`ConfigError`."""
    def bad(what):
        return ConfigError(f"{source}: {what}; the project is damaged")

    if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
        raise bad(f"not a project state of version {STATE_VERSION}")
    classes, labels = state.get("classes"), state.get("labels")
    if not (isinstance(classes, list) and classes and all(isinstance(c, str) and c for c in classes)):
        raise bad("classes must be a list of names")
    if not isinstance(labels, dict) or not all(
            isinstance(v, list) and len(v) == 2 and v[0] in classes and isinstance(v[1], int) for v in labels.values()):
        raise bad("labels must map paths to [class, round]")
    if not (isinstance(state.get("rounds"), list) and all(isinstance(r, dict) for r in state["rounds"])):
        raise bad("rounds must be a list of records")
    if not (isinstance(state.get("index"), str) and safe_name(state["index"])):
        raise bad("index must name a file of the index folder")
    model = state.get("model")
    if model is not None and not (isinstance(model, dict) and isinstance(model.get("file"), str)
                                  and safe_name(model["file"])):
        raise bad("model must be null or name a file of the models folder")
    sampler = state.get("sampler")  # absent in projects made before samplers were kept
    if sampler is not None and not (isinstance(sampler, dict) and set(sampler) == {"file", "strategy"}
                                    and isinstance(sampler["file"], str) and safe_name(sampler["file"])
                                    and isinstance(sampler["strategy"], str)):
        raise bad("sampler must be null or name a file of the models folder and its strategy")
    return state


def safe_name(name):
    """Whether ``name`` is a plain file name (no folder part, not hidden), so it cannot leave its folder."""
    return bool(name) and Path(name).name == name and not name.startswith(".") and "\\" not in name
