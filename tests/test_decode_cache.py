"""Decoded image folders are cached once as memory-mapped uint8 .npy files; never used half-written."""
import os

import numpy as np
import pytest
from PIL import Image

from tod_plugin.data import DatasetDamaged, load_dataset

from dataset_files import write_image_folder


def caches(folder):
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture
def folder(tmp_path):
    return write_image_folder(tmp_path / "pets")


def load(folder, **options):
    return load_dataset(f"imagefolder:{folder}", **options)


def test_the_first_load_decodes_into_a_memory_mapped_cache_next_to_the_data(folder):
    data = load(folder)
    assert isinstance(data.X_train, np.memmap) and data.X_train.dtype == np.uint8
    assert str(folder / ".tod-cache") in str(data.X_train.filename)
    assert [n.split("-")[0] for n in caches(folder / ".tod-cache")] == ["test", "train"]


def test_later_loads_read_the_cache_without_decoding(folder):
    first = np.array(load(folder, image_size=16).X_train)  # a given size: no file header is read either
    image = folder / "train" / "cat" / "0.png"
    stat = os.stat(image)
    image.write_bytes(b"\0" * stat.st_size)  # undecodable now, same size and time: only the cache can give it
    os.utime(image, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    np.testing.assert_array_equal(load(folder, image_size=16).X_train, first)


def test_a_changed_folder_rebuilds_the_cache(folder):
    before = load(folder)
    names = caches(folder / ".tod-cache")
    Image.new("RGB", (32, 32), (1, 2, 3)).save(folder / "train" / "cat" / "0.png")
    after = load(folder)
    assert caches(folder / ".tod-cache") != names and len(caches(folder / ".tod-cache")) == 2  # old ones removed
    np.testing.assert_array_equal(after.X_train[0, :, 0, 0], [1, 2, 3])
    assert not np.array_equal(after.X_train[0], before.X_train[0])


def test_a_half_written_cache_is_never_used(folder):
    expected = np.array(load(folder).X_train)
    train = next((folder / ".tod-cache").glob("train-*.npy"))
    with open(train, "r+b") as handle:
        handle.truncate(train.stat().st_size // 2)  # as if the machine had stopped while writing in place
    np.testing.assert_array_equal(load(folder).X_train, expected)


def test_a_failed_decode_leaves_no_cache(folder):
    (folder / "train" / "dog" / "1.png").write_bytes(b"not a png")
    with pytest.raises(DatasetDamaged, match="1.png"):
        load(folder)
    assert not (folder / ".tod-cache").exists() or not list((folder / ".tod-cache").glob("*train*"))


def test_a_pickled_cache_is_not_loaded(folder):
    expected = np.array(load(folder).X_train)
    train = next((folder / ".tod-cache").glob("train-*.npy"))
    np.save(train, np.array([object()] * 3, dtype=object), allow_pickle=True)
    np.testing.assert_array_equal(load(folder).X_train, expected)


def test_cache_dir_puts_the_cache_elsewhere(folder, tmp_path):
    data = load(folder, cache_dir=tmp_path / "elsewhere")
    assert str(data.X_train.filename).startswith(str(tmp_path / "elsewhere"))
    assert not (folder / ".tod-cache").exists()


def test_cache_dir_that_cannot_be_made_is_named(folder, tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="cache_dir"):
        load(folder, cache_dir=tmp_path / "file" / "cache")
