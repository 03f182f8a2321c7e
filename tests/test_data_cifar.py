"""CIFAR-10/100 (+ imbalanced) from fixture pickles in the official format, and the CLI on them."""
import hashlib
import json
import tracemalloc

import numpy as np
import pytest

from tod_plugin.data import DatasetDamaged, DatasetNotFound, load_dataset
from tod_plugin.data import cifar
from tod_plugin.errors import ConfigError

from dataset_files import image_ids, images_with_ids, write_cifar10, write_cifar100, write_pickle
from cli_runner import run_cli


@pytest.fixture
def cifar10_dir(tmp_path):
    write_cifar10(tmp_path, np.arange(30) % 10, np.arange(20) % 10)
    return tmp_path


TINY_RUN = ["--trials", "1", "--cycles", "2", "--epochs", "1", "--initial", "10", "--query-size", "5", "--quiet",
            "--model", "smallcnn", "--strategy", "cod", "--subset", "20"]


def test_cifar10_reads_the_official_layout(cifar10_dir):
    data = load_dataset("cifar10", data_dir=cifar10_dir)
    assert data.X_train.shape == (30, 3, 32, 32) and data.X_train.dtype == np.uint8
    assert data.X_test.shape == (20, 3, 32, 32)
    np.testing.assert_array_equal(image_ids(data.X_train), np.arange(30))
    np.testing.assert_array_equal(data.y_train, np.arange(30) % 10)
    assert data.y_train.dtype == np.int64
    # a row is the R, G, B planes of a row-major 32x32 image: row[1024 * c + 32 * i + j] = X[c, i, j]
    row = images_with_ids(0, 6)[4]
    np.testing.assert_array_equal(data.X_train[4][2, 3, 5], row[1024 * 2 + 32 * 3 + 5])
    assert data.class_names == [f"class{i}" for i in range(10)]
    assert (data.mean, data.std) == ((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010))
    assert (data.crop_padding, data.hflip) == (4, True)


def test_cifar100_fine_labels(tmp_path):
    write_cifar100(tmp_path, np.arange(200) % 100, np.arange(100))
    data = load_dataset("cifar100", data_dir=tmp_path)
    assert data.X_train.shape == (200, 3, 32, 32) and data.n_classes == 100
    np.testing.assert_array_equal(data.y_test, np.arange(100))
    assert data.class_names[7] == "fine7"


def test_cifar10im_keeps_the_first_50_of_even_classes(tmp_path):
    # even classes 52 images, odd classes 3, interleaved in file order
    labels = np.array([c for _ in range(52) for c in range(10)])
    keep = np.ones(len(labels), bool)
    for c in range(1, 10, 2):
        keep[np.flatnonzero(labels == c)[3:]] = False
    labels = labels[keep]
    write_cifar10(tmp_path, labels, np.arange(20) % 10)
    data = load_dataset("cifar10im", data_dir=tmp_path)
    assert data.name == "cifar10im" and len(data.y_train) == 5 * 50 + 5 * 3
    counts = np.bincount(data.y_train, minlength=10)
    np.testing.assert_array_equal(counts, [50, 3] * 5)
    for c in (0, 4):
        np.testing.assert_array_equal(image_ids(data.X_train[data.y_train == c]), np.flatnonzero(labels == c)[:50])
    assert len(data.y_test) == 20


def test_cifar100im_keeps_5_and_500(tmp_path):
    labels = np.array([c for _ in range(6) for c in range(100)])
    write_cifar100(tmp_path, labels, np.arange(100))
    data = load_dataset("cifar100im", data_dir=tmp_path)
    np.testing.assert_array_equal(np.bincount(data.y_train, minlength=100), [5, 6] * 50)


def test_missing_dataset_says_what_where_and_how(tmp_path):
    with pytest.raises(DatasetNotFound) as info:
        load_dataset("cifar10", data_dir=tmp_path)
    message = str(info.value)
    assert "data_batch_1" in message and "test_batch" in message and "batches.meta" in message
    assert str(tmp_path / "cifar-10-batches-py") in message and "--download" in message
    assert "cifar-10-python.tar.gz" in message and "\n" not in message


def test_data_dir_defaults_to_the_environment_then_data(cifar10_dir, monkeypatch, tmp_path_factory):
    monkeypatch.setenv("TOD_DATA_DIR", str(cifar10_dir))
    assert len(load_dataset("cifar10").y_train) == 30
    monkeypatch.delenv("TOD_DATA_DIR")
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    with pytest.raises(DatasetNotFound, match=r"elsewhere\d*/data/cifar-10-batches-py "):
        load_dataset("cifar10")


def test_full_size_files_must_have_the_official_md5(cifar10_dir, monkeypatch):
    path = cifar10_dir / "cifar-10-batches-py" / "data_batch_2"
    digest = hashlib.md5(path.read_bytes()).hexdigest()
    # pretend the fixture's 6-image batch is the official size: its md5 is then checked
    monkeypatch.setitem(cifar.CIFAR10.official, "data_batch_2", (6, digest))
    assert len(load_dataset("cifar10", data_dir=cifar10_dir).y_train) == 30
    monkeypatch.setitem(cifar.CIFAR10.official, "data_batch_2", (6, "0" * 32))
    with pytest.raises(DatasetDamaged, match=f"data_batch_2 has the official number of images but md5 {digest}"):
        load_dataset("cifar10", data_dir=cifar10_dir)


@pytest.mark.parametrize("damage, message", [
    (lambda p: p.write_bytes(p.read_bytes()[:5000]), "data_batch_3 cannot be read"),
    (lambda p: p.write_text("<html>404</html>"), "data_batch_3 cannot be read"),
    (lambda p: write_pickle(p, {"data": np.zeros((6, 100), np.uint8), "labels": [0] * 6}), r"shape \(n, 3072\)"),
    (lambda p: write_pickle(p, {"data": np.zeros((6, 3072), np.uint8), "labels": [0, 1, 2, 3, 4, 10]}),
     r"labels must be 6 ints in \[0, 10\)"),
    (lambda p: write_pickle(p, [1, 2, 3]), "not a CIFAR pickle"),
])
def test_damaged_files_are_one_line_errors(cifar10_dir, damage, message):
    damage(cifar10_dir / "cifar-10-batches-py" / "data_batch_3")
    with pytest.raises(DatasetDamaged, match=message) as info:
        load_dataset("cifar10", data_dir=cifar10_dir)
    assert "\n" not in str(info.value)


class Hostile:
    def __reduce__(self):
        import os

        return os.system, ("touch pwned",)


def test_pickles_cannot_run_code(cifar10_dir, monkeypatch):
    monkeypatch.chdir(cifar10_dir)
    write_pickle(cifar10_dir / "cifar-10-batches-py" / "data_batch_1", {"data": Hostile(), "labels": []})
    with pytest.raises(DatasetDamaged, match="posix.system is not allowed"):
        load_dataset("cifar10", data_dir=cifar10_dir)
    assert not (cifar10_dir / "pwned").exists()


def test_download_only_when_asked_and_missing(tmp_path, monkeypatch):
    calls = []

    def fake_archive(url, download_root, filename=None, md5=None):
        calls.append((url, download_root, filename, md5))
        write_cifar10(tmp_path, np.arange(30) % 10, np.arange(20) % 10)

    monkeypatch.setattr("torchvision.datasets.utils.download_and_extract_archive", fake_archive)
    with pytest.raises(DatasetNotFound):
        load_dataset("cifar10", data_dir=tmp_path)
    assert calls == []
    assert len(load_dataset("cifar10", data_dir=tmp_path, download=True).y_train) == 30
    assert calls == [("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz", str(tmp_path),
                      "cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a")]
    load_dataset("cifar10", data_dir=tmp_path, download=True)
    assert len(calls) == 1  # present: nothing is fetched


def test_failed_download_is_one_line(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise OSError("Name or service not known")

    monkeypatch.setattr("torchvision.datasets.utils.download_and_extract_archive", offline)
    with pytest.raises(ConfigError, match="download of 'cifar100' into .* failed: OSError: Name or service not known"):
        load_dataset("cifar100", data_dir=tmp_path, download=True)


def test_peak_memory_stays_under_twice_the_arrays(tmp_path):
    write_cifar10(tmp_path, np.arange(10000) % 10, np.arange(2000) % 10)
    tracemalloc.start()
    try:
        data = load_dataset("cifar10", data_dir=tmp_path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    size = data.X_train.nbytes + data.X_test.nbytes
    assert peak < 2 * size


def test_cli_run_on_cifar10(cifar10_dir, tmp_path, capsys):
    out = tmp_path / "run"
    code, stdout, stderr = run_cli(["run", "--dataset", "cifar10", "--data-dir", str(cifar10_dir), "--out", str(out),
                                    *TINY_RUN], capsys)
    assert code == 0, stderr
    config = json.loads((out / "config.json").read_text())
    assert config["dataset"] == "cifar10" and config["data_dir"] == str(cifar10_dir) and config["download"] is False
    results = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [r["n_labeled"] for r in results] == [10, 15, 20]


@pytest.mark.parametrize("name", ["cifar100", "cifar10im", "cifar100im"])
def test_cli_run_on_the_other_cifar_sets(tmp_path, capsys, name):
    data_dir = tmp_path / "data"
    if name.startswith("cifar100"):
        write_cifar100(data_dir, np.arange(200) % 100, np.arange(100))
    else:
        write_cifar10(data_dir, np.arange(60) % 10, np.arange(20) % 10)
    code, _, stderr = run_cli(["run", "--dataset", name, "--data-dir", str(data_dir), "--out", str(tmp_path / "run"),
                               *TINY_RUN], capsys)
    assert code == 0, stderr


def test_cli_missing_dataset_is_one_line(tmp_path, capsys):
    out = tmp_path / "run"
    code, _, stderr = run_cli(["run", "--dataset", "cifar10", "--data-dir", str(tmp_path), "--out", str(out),
                               *TINY_RUN], capsys)
    assert code == 2 and stderr.startswith("error: dataset 'cifar10' not found") and stderr.count("\n") == 1
    assert not out.exists()
