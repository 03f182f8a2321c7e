"""Where a run's data is: absolute places in config.json, and ``--resume`` with the data elsewhere.

A run records its data's SHA-256 (``store.dataset_fingerprint``) when it starts, so the place is not
part of the run's identity: ``--resume`` may name a new ``--data-dir`` (or a new
``imagefolder:PATH`` dataset) as long as the data found there is the same.
"""
import dataclasses
import os
from pathlib import Path

from ..data import DatasetNotFound, data_root, load_dataset
from ..data.imagefolder import PREFIX, folder_of
from ..errors import ConfigError
from .store import dataset_fingerprint


def absolute_places(settings):
    """``settings`` with ``data_dir``, an ``imagefolder:PATH`` dataset and a ``pretrained`` weights file
    made absolute (Ray tasks on other nodes and later ``--resume`` runs may start in other folders)."""
    settings = dict(settings)
    if "data_dir" in settings:
        settings["data_dir"] = str(data_root(settings["data_dir"]))
    if settings.get("pretrained"):
        settings["pretrained"] = str(Path(settings["pretrained"]).expanduser().absolute())
    if str(settings.get("dataset", "")).startswith(PREFIX):
        settings["dataset"] = PREFIX + str(folder_of(settings["dataset"]).absolute())
    return settings


def split_places(stored, given):
    """``given`` (flags of a ``--resume``) split into settings, which must not change, and the new
    places of the data: ``data_dir``, and ``dataset`` when both name image folders."""
    given, places = absolute_places(given), {}
    if "data_dir" in given:
        places["data_dir"] = given.pop("data_dir")
    if str(given.get("dataset", "")).startswith(PREFIX) and str(stored.get("dataset", "")).startswith(PREFIX):
        places["dataset"] = given.pop("dataset")
    return given, places


def resumed_data(config, store, places, record=True, cache_dir=None):
    """The dataset of a resumed run, read from ``places`` where given, else from config.json's; refused
    unless it is the data the run started with. A new place (and the fingerprint of a folder written
    before fingerprints) is recorded in config.json when ``record`` (rank 0 only)."""
    moved = {name: place for name, place in places.items() if not _same_place(place, getattr(config, name))}
    if moved and store.dataset_sha256 is None:
        raise ConfigError(f"--resume {store.root}: this run folder does not record its data's SHA-256, so the data "
                          "cannot be checked in another place; resume it from its original place")
    config = dataclasses.replace(config, **moved)
    try:
        dataset = load_dataset(config.dataset, config.data_dir, config.download, config.image_size, cache_dir)
    except DatasetNotFound as error:
        hint = "--dataset imagefolder:NEW_PATH" if config.dataset.startswith(PREFIX) else "--data-dir"
        raise DatasetNotFound(f"{error} (moved the data? give --resume its new place with {hint})") from None
    fingerprint = dataset_fingerprint(dataset)
    if store.dataset_sha256 not in (None, fingerprint):
        place = config.dataset[len(PREFIX):] if config.dataset.startswith(PREFIX) else config.data_dir
        raise ConfigError(f"--resume: the {config.dataset} data under {place} is not the data this run started "
                          "with (its SHA-256 differs); resume with the original data")
    if record and (moved or store.dataset_sha256 is None):
        store.dataset_sha256 = fingerprint
        store.write_config(config.to_dict())
    return config, dataset


def _same_place(new, old):
    """Whether two data places (folders, or ``imagefolder:PATH`` names) are the same folder."""
    new, old = (folder_of(p) if str(p).startswith(PREFIX) else Path(p) for p in (new, old))
    try:
        return os.path.samefile(new, old)
    except OSError:
        return new.absolute() == old.absolute()
