"""Tiny-ImageNet from a fixture in the official folder layout, and the CLI on it."""
import json

import numpy as np
import pytest
from PIL import Image

from tod_plugin.data import DatasetDamaged, DatasetNotFound, load_dataset
from tod_plugin_cli.main import main

WNIDS = ["n02124075", "n01443537", "n04067472"]  # deliberately unsorted in wnids.txt


def write_png(path, seed, grey=False, size=64):
    rng = np.random.RandomState(seed)
    pixels = rng.randint(0, 256, size=(size, size) if grey else (size, size, 3)).astype(np.uint8)
    Image.fromarray(pixels).save(path, format="PNG")
    return pixels


def write_tinyimagenet(root, per_class=4, val_per_class=2):
    """The zip's layout: wnids.txt, words.txt, train/<wnid>/images/*.JPEG, val/images + val_annotations.txt.

    The fixture's images are PNG files under .JPEG names (lossless, so tests compare pixels exactly;
    PIL reads files by content)."""
    folder = root / "tiny-imagenet-200"
    (folder / "val" / "images").mkdir(parents=True)
    (folder / "wnids.txt").write_text("\n".join(WNIDS) + "\n")
    (folder / "words.txt").write_text("n01443537\tgoldfish, Carassius auratus\nn02124075\tEgyptian cat\n"
                                      "n04067472\treel\nn09999999\tunused\n")
    pixels = {}
    for c, wnid in enumerate(WNIDS):
        images = folder / "train" / wnid / "images"
        images.mkdir(parents=True)
        (folder / "train" / wnid / f"{wnid}_boxes.txt").write_text("")
        for i in range(per_class):
            pixels[(wnid, i)] = write_png(images / f"{wnid}_{i}.JPEG", seed=10 * c + i, grey=i == 1)
    lines = []
    for i in range(val_per_class * len(WNIDS)):
        wnid = WNIDS[i % len(WNIDS)]
        write_png(folder / "val" / "images" / f"val_{i}.JPEG", seed=1000 + i)
        lines.append(f"val_{i}.JPEG\t{wnid}\t0\t0\t63\t63")
    (folder / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    return folder, pixels


def test_tinyimagenet_reads_the_official_layout(tmp_path):
    _, pixels = write_tinyimagenet(tmp_path)
    data = load_dataset("tinyimagenet", data_dir=tmp_path)
    assert data.class_names == ["goldfish", "Egyptian cat", "reel"]  # sorted wnids, first name from words.txt
    assert data.X_train.shape == (12, 3, 64, 64) and data.X_train.dtype == np.uint8
    np.testing.assert_array_equal(data.y_train, np.repeat([0, 1, 2], 4))
    np.testing.assert_array_equal(data.X_train[0], pixels[("n01443537", 0)].transpose(2, 0, 1))
    grey = pixels[("n01443537", 1)]
    np.testing.assert_array_equal(data.X_train[1], np.stack([grey] * 3))
    # val_i belongs to WNIDS[i % 3]; sorted ids map n02124075 -> 1, n01443537 -> 0, n04067472 -> 2
    np.testing.assert_array_equal(data.y_test, [1, 0, 2, 1, 0, 2])
    assert (data.crop_padding, data.hflip) == (4, True)


def test_missing_tinyimagenet_says_what_where_and_how(tmp_path):
    with pytest.raises(DatasetNotFound) as info:
        load_dataset("tinyimagenet", data_dir=tmp_path)
    message = str(info.value)
    assert "wnids.txt" in message and "val/val_annotations.txt" in message
    assert str(tmp_path / "tiny-imagenet-200") in message and "tiny-imagenet-200.zip" in message


def test_wrong_image_size_and_unknown_class_are_damage(tmp_path):
    folder, _ = write_tinyimagenet(tmp_path)
    write_png(folder / "train" / "n04067472" / "images" / "n04067472_2.JPEG", seed=0, size=32)
    with pytest.raises(DatasetDamaged, match="n04067472_2.JPEG is 32x32 pixels, expected 64x64"):
        load_dataset("tinyimagenet", data_dir=tmp_path)
    write_png(folder / "train" / "n04067472" / "images" / "n04067472_2.JPEG", seed=0)
    with open(folder / "val" / "val_annotations.txt", "a") as f:
        f.write("val_0.JPEG\tn00000000\t0\t0\t1\t1\n")
    with pytest.raises(DatasetDamaged, match="line 7: expected 'file<TAB>wnid...'"):
        load_dataset("tinyimagenet", data_dir=tmp_path)


def test_download_extracts_the_official_zip(tmp_path, monkeypatch):
    calls = []

    def fake_archive(url, download_root, filename=None, md5=None):
        calls.append((url, download_root, md5))
        write_tinyimagenet(tmp_path)

    monkeypatch.setattr("torchvision.datasets.utils.download_and_extract_archive", fake_archive)
    assert load_dataset("tinyimagenet", data_dir=tmp_path, download=True).n_classes == 3
    assert calls == [("http://cs231n.stanford.edu/tiny-imagenet-200.zip", str(tmp_path),
                      "90528d7ca1a48142e341f4ef8d21d0de")]


def test_cli_run_on_tinyimagenet(tmp_path, capsys):
    write_tinyimagenet(tmp_path / "data")
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--dataset", "tinyimagenet", "--data-dir", str(tmp_path / "data"), "--out", str(out),
              "--trials", "1", "--cycles", "2", "--epochs", "1", "--initial", "4", "--query-size", "2", "--quiet",
              "--model", "smallcnn", "--strategy", "cod", "--batch-size", "4"])
    assert exit_info.value.code == 0, capsys.readouterr().err
    results = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [r["n_labeled"] for r in results] == [4, 6, 8]
