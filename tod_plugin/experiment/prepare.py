"""A run from the command line's settings: prepared (settings merged with a preset or a resumed run's,
data loaded, run folder and back-end chosen, all checked before anything is written), then run.

Under ``torchrun`` every rank runs the experiment (the pool scoring is sharded over the ranks); rank 0
writes the run folder and the other ranks a scratch folder of their own.
"""
import atexit
import contextlib
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .. import data, distributed
from ..data.spec import ImageDataset
from ..errors import ConfigError
from .backends import run_experiment
from .backends.ray import ray_session, require_ray
from .config import RunConfig, check_device_here
from .data_place import absolute_places, resumed_data, split_places
from .presets import apply_preset
from .progress import Progress
from .store import RunStore, check_folder_name, dataset_fingerprint
from .summary import plot_curves


@dataclass(frozen=True)
class PreparedRun:
    """A run ready to start: its settings, data and run folder (not created yet for a new run), the
    back-end (``workers`` processes, or Ray tasks at ``ray_address``), whether it continues a run
    (``resume``), and this process's ``torchrun`` rank (0 without torchrun)."""

    config: RunConfig
    dataset: ImageDataset
    store: RunStore
    resume: bool = False
    workers: int = 1
    ray_address: object = None
    rank: int = 0


@dataclass(frozen=True)
class FinishedRun:
    """The records of a finished run (``results.jsonl``'s lines) and the seconds it took."""

    results: list
    seconds: float


def prepare_run(settings, given=(), out=None, resume=None, workers=1, ray_address=None, cache_dir=None):
    """The :class:`PreparedRun` of ``tod-al run``; :class:`ConfigError` (nothing written) for bad settings.

    Args:
        settings: :class:`RunConfig` keyword arguments (every flag's value).
        given: names of the settings the user gave: they override a ``preset``'s; with ``resume`` they
            must equal the folder's, except the data's places (``data_dir``, an image folder), which may move.
        out: folder of a new run (default ``runs/<timestamp>``); must be new or empty.
        resume: folder of a run to continue after its last finished cycles (locked here, on rank 0).
        workers: number of processes (or of Ray tasks at once).
        ray_address: ``local``, ``auto`` or ``ray://HOST:PORT`` to run the jobs as Ray tasks.
        cache_dir: folder of the decoded-image cache of image datasets.
    """
    rank = distributed.init_from_env()  # under torchrun: every rank runs the experiment, pool scoring is sharded
    for flag, asked in (("--workers", workers > 1), ("--ray-address", ray_address)):
        if asked and distributed.is_active():
            raise ConfigError(f"{flag} does not combine with torchrun: use one or the other")
    if ray_address:
        require_ray()
    for flag, folder in (("--out", out), ("--resume", resume)):
        if folder is not None:
            check_folder_name(folder, flag)
    if resume:
        if out is not None and Path(out) != Path(resume):
            raise ConfigError("give either --out (a new run) or --resume (an existing run), not both")
        config, dataset, store = _resumed_run(Path(resume), {name: settings[name] for name in given}, rank,
                                              cache_dir)
    else:
        config, dataset = _new_settings(settings, given, cache_dir)
        store = RunStore(Path(out) if out else Path("runs") / time.strftime("%Y%m%d-%H%M%S"))
    if not ray_address:
        check_device_here(config.device)
    return PreparedRun(config, dataset, store, bool(resume), workers, ray_address, rank)


def _resumed_run(folder, given, rank, cache_dir):
    store = RunStore(folder)
    if rank == 0:
        store.lock()  # before anything is read or written: a second command on the folder gets one line
    stored = store.open()
    given, places = split_places(stored, given)  # where the data is now; what it is is checked
    config = RunConfig.from_dict(stored).resumed_with(given)
    config, dataset = resumed_data(config, store, places, record=rank == 0, cache_dir=cache_dir)
    return config, dataset, store


def _new_settings(settings, given, cache_dir):
    if settings.get("preset") is not None:
        settings = apply_preset(settings["preset"], settings, set(given))
    config = RunConfig(**absolute_places(settings)).validate()
    dataset = data.load_dataset(config.dataset, config.data_dir, config.download, config.image_size, cache_dir)
    if dataset.n_classes < 2:
        raise ConfigError(f"dataset {config.dataset} has {dataset.n_classes} class: classification needs at "
                          "least 2 (an image folder needs one sub-folder per class)")
    config.budget(len(dataset.X_train))
    return config, dataset


def execute_run(prepared, quiet=False):
    """Run a :class:`PreparedRun` and write its run folder (rank 0): config.json, results.jsonl,
    queries.jsonl, checkpoints/, curve.png. Ray is connected before the folder is made, so a missing
    cluster leaves nothing behind. Returns a :class:`FinishedRun` (``None`` on other torchrun ranks);
    ``quiet``: no progress bar."""
    config, dataset, store, rank = prepared.config, prepared.dataset, prepared.store, prepared.rank
    with contextlib.ExitStack() as stack:
        if prepared.ray_address:
            stack.enter_context(ray_session(prepared.ray_address, config.device))
        if rank == 0 and not prepared.resume:
            store.create(config.to_dict(), dataset_fingerprint(dataset))
            store.lock()
        if rank:
            store, quiet = follower_store(store, prepared.resume), True
        total = config.trials * len(config.strategies) * (config.cycles + 1)
        progress = Progress(total, config.trials, config.cycles, enabled=not quiet)
        started = time.perf_counter()
        try:
            run_experiment(config, dataset, store, progress, resume=prepared.resume, workers=prepared.workers,
                           ray=bool(prepared.ray_address))
        finally:
            progress.close()
    if rank:
        return None
    plot_curves(store.results, store.root / "curve.png", title=f"{config.dataset}: accuracy vs labels")
    store.unlock()
    return FinishedRun(store.results, time.perf_counter() - started)


def follower_store(store, resume):
    """The store of a ``torchrun`` rank other than 0: a scratch folder (with a copy of the run's
    checkpoints when resuming), so that only rank 0 writes the run folder; removed at exit."""
    scratch = Path(tempfile.mkdtemp(prefix="tod-al-rank-"))
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)
    if resume and store.checkpoints.is_dir():
        shutil.copytree(store.checkpoints, scratch / "checkpoints")
    return RunStore(scratch)
