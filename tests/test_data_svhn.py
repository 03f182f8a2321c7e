"""SVHN from fixture .mat files in the official format, and the CLI on them."""
import hashlib
import json

import numpy as np
import pytest
from scipy.io import savemat

from tod_plugin.data import DatasetDamaged, DatasetNotFound, load_dataset
from tod_plugin.data import svhn
from tod_plugin_cli.main import main


def write_split(path, labels, seed):
    """An official-style file: X (32, 32, 3, n) uint8 as (height, width, channel, image), y (n, 1) in 1..10."""
    X = np.random.RandomState(seed).randint(0, 256, size=(32, 32, 3, len(labels))).astype(np.uint8)
    savemat(path, {"X": X, "y": np.asarray(labels, np.uint8).reshape(-1, 1)})
    return X


def write_svhn(root, n_train=30, n_test=10):
    folder = root / "svhn"
    folder.mkdir(parents=True)
    train = write_split(folder / "train_32x32.mat", np.arange(n_train) % 10 + 1, 0)
    test = write_split(folder / "test_32x32.mat", np.arange(n_test) % 10 + 1, 1)
    return train, test


def test_svhn_reads_the_official_layout(tmp_path):
    train, _ = write_svhn(tmp_path)
    data = load_dataset("svhn", data_dir=tmp_path)
    assert data.X_train.shape == (30, 3, 32, 32) and data.X_train.dtype == np.uint8 and data.X_train.flags.c_contiguous
    assert data.X_test.shape == (10, 3, 32, 32)
    # X[h, w, c, i] of the file is image i, channel c, row h, column w
    assert data.X_train[7, 2, 5, 9] == train[5, 9, 2, 7]
    np.testing.assert_array_equal(data.X_train[3], train[:, :, :, 3].transpose(2, 0, 1))
    # label 10 is the digit 0
    np.testing.assert_array_equal(data.y_train[:10], [1, 2, 3, 4, 5, 6, 7, 8, 9, 0])
    assert data.class_names == [str(d) for d in range(10)]
    assert (data.mean, data.std) == ((0.4310, 0.4302, 0.4463), (0.1965, 0.1984, 0.1992))
    assert (data.crop_padding, data.hflip) == (4, True)


def test_missing_svhn_says_what_where_and_how(tmp_path):
    with pytest.raises(DatasetNotFound) as info:
        load_dataset("svhn", data_dir=tmp_path)
    message = str(info.value)
    assert "train_32x32.mat, test_32x32.mat" in message and str(tmp_path / "svhn") in message
    assert "--download" in message and "ufldl.stanford.edu/housenumbers" in message


def test_full_size_files_must_have_the_official_md5(tmp_path, monkeypatch):
    write_svhn(tmp_path)
    path = tmp_path / "svhn" / "test_32x32.mat"
    digest = hashlib.md5(path.read_bytes()).hexdigest()
    monkeypatch.setitem(svhn.OFFICIAL, "test_32x32.mat", (10, digest))
    load_dataset("svhn", data_dir=tmp_path)
    monkeypatch.setitem(svhn.OFFICIAL, "test_32x32.mat", (10, "f" * 32))
    with pytest.raises(DatasetDamaged, match="test_32x32.mat has the official number of images but md5"):
        load_dataset("svhn", data_dir=tmp_path)


@pytest.mark.parametrize("damage, message", [
    (lambda p: p.write_bytes(p.read_bytes()[:3000]), "train_32x32.mat cannot be read"),
    (lambda p: p.write_text("not a mat file"), "train_32x32.mat cannot be read"),
    (lambda p: savemat(p, {"X": np.zeros((28, 28, 3, 4), np.uint8), "y": np.ones((4, 1))}), r"shape \(32, 32, 3, n\)"),
    (lambda p: savemat(p, {"X": np.zeros((32, 32, 3, 4), np.uint8), "y": np.zeros((4, 1))}), "4 labels in 1..10"),
])
def test_damaged_files_are_one_line_errors(tmp_path, damage, message):
    write_svhn(tmp_path)
    damage(tmp_path / "svhn" / "train_32x32.mat")
    with pytest.raises(DatasetDamaged, match=message) as info:
        load_dataset("svhn", data_dir=tmp_path)
    assert "\n" not in str(info.value)


def test_download_fetches_both_splits_with_torchvision(tmp_path, monkeypatch):
    calls = []

    def fake_download_url(url, root, filename=None, md5=None):
        calls.append((url, root, filename, md5))
        (tmp_path / "svhn").mkdir(exist_ok=True)
        write_split(tmp_path / "svhn" / filename, np.arange(10) % 10 + 1, 0)

    monkeypatch.setattr("torchvision.datasets.utils.download_url", fake_download_url)
    assert len(load_dataset("svhn", data_dir=tmp_path, download=True).y_train) == 10
    assert calls == [
        ("http://ufldl.stanford.edu/housenumbers/train_32x32.mat", str(tmp_path / "svhn"), "train_32x32.mat",
         "e26dedcc434d2e4c54c9b2d4a06d8373"),
        ("http://ufldl.stanford.edu/housenumbers/test_32x32.mat", str(tmp_path / "svhn"), "test_32x32.mat",
         "eb5a983be6a315427106f1b164d9cef3"),
    ]


def test_cli_run_on_svhn(tmp_path, capsys):
    write_svhn(tmp_path / "data")
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--dataset", "svhn", "--data-dir", str(tmp_path / "data"), "--out", str(out), "--trials", "1",
              "--cycles", "2", "--epochs", "1", "--initial", "10", "--query-size", "5", "--quiet", "--model",
              "smallcnn", "--strategy", "cod"])
    assert exit_info.value.code == 0, capsys.readouterr().err
    results = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [r["n_labeled"] for r in results] == [10, 15, 20]
