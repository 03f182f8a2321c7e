"""Caltech-101/256 from fixture class folders of small JPEGs, and the CLI on them."""
import json

import numpy as np
import pytest
from PIL import Image

from tod_plugin.data import DatasetDamaged, DatasetNotFound, load_dataset
from tod_plugin.data.images import resize_center_crop, split_per_class
from tod_plugin.errors import ConfigError
from tod_plugin_cli.main import main

SIZES = [(40, 30), (30, 50), (64, 64), (300, 200)]  # (width, height), landscape, portrait, square, large


def write_jpeg(path, width, height, seed, grey=False):
    rng = np.random.RandomState(seed)
    pixels = rng.randint(0, 256, size=(height, width) if grey else (height, width, 3)).astype(np.uint8)
    Image.fromarray(pixels).save(path, quality=90)


def write_caltech(root, counts, folder="caltech101/101_ObjectCategories", extra=("BACKGROUND_Google",)):
    """One folder per class with ``counts[name]`` JPEGs of varied sizes (every fourth one grey)."""
    base = root / folder
    for name in (*counts, *extra):
        (base / name).mkdir(parents=True)
        for i in range(counts.get(name, 3)):
            width, height = SIZES[i % len(SIZES)]
            write_jpeg(base / name / f"image_{i + 1:04d}.jpg", width, height, seed=hash((name, i)) % 2 ** 31,
                       grey=i % 4 == 3)
    return base


def test_resize_center_crop_is_torchvisions_resize_then_center_crop():
    from torchvision import transforms

    reference = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224)])
    for width, height in [*SIZES, (256, 300), (500, 256), (333, 257)]:
        image = Image.fromarray(np.random.RandomState(width).randint(0, 256, (height, width, 3)).astype(np.uint8))
        ours = np.asarray(resize_center_crop(image, 256, 224))
        assert ours.shape == (224, 224, 3)
        np.testing.assert_array_equal(ours, np.asarray(reference(image)))


def test_split_per_class_holds_out_ten_percent_rounded_half_up():
    labels = np.repeat([0, 1, 2, 3], [5, 15, 25, 31])
    train, test = split_per_class(labels, test_percent=10, seed=0)
    assert np.bincount(labels[test]).tolist() == [1, 2, 3, 3]  # max(1, 0.5 -> 1), 1.5 -> 2, 2.5 -> 3, 3.1 -> 3
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(len(labels)))
    again = split_per_class(labels, test_percent=10, seed=0)
    assert np.array_equal(again[1], test) and not np.array_equal(split_per_class(labels, 10, seed=1)[1], test)


def stored_as(base, data, transform):
    """Whether every stored image is ``transform`` of one of its class's files decoded to RGB."""
    expected = {}
    for label, name in enumerate(data.class_names):
        for path in sorted((base / name).iterdir()):
            with Image.open(path) as image:
                expected.setdefault(label, []).append(np.asarray(transform(image.convert("RGB"))))
    return all(any(np.array_equal(image.transpose(1, 2, 0), e) for e in expected[label])
               for X, y in ((data.X_train, data.y_train), (data.X_test, data.y_test)) for image, label in zip(X, y))


def test_caltech101_is_prepared_as_the_tod_reference(tmp_path):
    """Resize((256, 256)) (aspect ratio not kept) + CenterCrop(224), mean 0.502 / std 1.0, test = n - int(0.9 n)."""
    from torchvision import transforms

    base = write_caltech(tmp_path, {"accordion": 5, "airplanes": 12, "Faces": 6})
    data = load_dataset("caltech101", data_dir=tmp_path)
    assert data.class_names == ["Faces", "accordion", "airplanes"]
    assert data.X_train.shape == (5 + 4 + 10, 3, 224, 224) and data.X_train.dtype == np.uint8
    assert np.bincount(data.y_test).tolist() == [1, 1, 2]  # 6 - 5, 5 - 4, 12 - 10 (10% rounded would hold out 1)
    assert (data.mean, data.std) == ((0.502, 0.502, 0.502), (1.0, 1.0, 1.0))
    assert (data.crop_padding, data.hflip) == (0, True)
    assert stored_as(base, data, transforms.Compose([transforms.Resize((256, 256)), transforms.CenterCrop(224)]))
    again = load_dataset("caltech101", data_dir=tmp_path)
    assert np.array_equal(again.X_test, data.X_test) and np.array_equal(again.y_train, data.y_train)


def test_caltech101_keep_aspect_resizes_the_short_side(tmp_path):
    base = write_caltech(tmp_path, {"accordion": 5, "airplanes": 12})
    data = load_dataset("caltech101-keep-aspect", data_dir=tmp_path)
    reference = load_dataset("caltech101", data_dir=tmp_path)
    assert np.array_equal(data.y_test, reference.y_test) and (data.mean, data.std) == (reference.mean, reference.std)
    assert stored_as(base, data, lambda image: resize_center_crop(image, 256, 224))
    assert not np.array_equal(data.X_train, reference.X_train)


def test_caltech256_drops_clutter_and_strips_the_number(tmp_path):
    write_caltech(tmp_path, {"001.ak47": 3, "002.american-flag": 4}, folder="caltech256/256_ObjectCategories",
                  extra=("257.clutter",))
    data = load_dataset("caltech256", data_dir=tmp_path)
    assert data.class_names == ["ak47", "american-flag"]
    assert len(data.y_train) == 2 + 3 and len(data.y_test) == 2


def test_missing_caltech_says_what_where_and_how(tmp_path):
    with pytest.raises(DatasetNotFound) as info:
        load_dataset("caltech101", data_dir=tmp_path)
    message = str(info.value)
    assert str(tmp_path / "caltech101" / "101_ObjectCategories") in message
    assert "one folder of images per class" in message
    assert "--download" in message and "data.caltech.edu" in message


@pytest.mark.parametrize("damage, message", [
    (lambda p: p.write_bytes(p.read_bytes()[:200]), "image_0002.jpg cannot be read as an image"),
    (lambda p: p.write_text("<html>not an image</html>"), "image_0002.jpg cannot be read as an image"),
])
def test_damaged_images_are_one_line_errors(tmp_path, damage, message):
    base = write_caltech(tmp_path, {"accordion": 5, "airplanes": 5})
    damage(base / "airplanes" / "image_0002.jpg")
    with pytest.raises(DatasetDamaged, match=message) as info:
        load_dataset("caltech101", data_dir=tmp_path)
    assert "\n" not in str(info.value)


def test_a_class_needs_two_images(tmp_path):
    write_caltech(tmp_path, {"accordion": 5, "airplanes": 1})
    with pytest.raises(DatasetDamaged, match="airplanes holds 1 image"):
        load_dataset("caltech101", data_dir=tmp_path)


def test_download_uses_torchvisions_caltech_classes(tmp_path, monkeypatch):
    calls = []

    class FakeCaltech101:
        def __init__(self, root, download=False):
            calls.append((root, download))
            write_caltech(tmp_path, {"accordion": 3, "airplanes": 3})

    monkeypatch.setattr("torchvision.datasets.Caltech101", FakeCaltech101)
    assert load_dataset("caltech101", data_dir=tmp_path, download=True).n_classes == 2
    assert calls == [(str(tmp_path), True)]


@pytest.mark.parametrize("name, folder, extra", [
    ("caltech101", "caltech101/101_ObjectCategories", ("BACKGROUND_Google",)),
    ("caltech256", "caltech256/256_ObjectCategories", ("257.clutter",)),
])
def test_cli_run_on_caltech(tmp_path, capsys, name, folder, extra):
    write_caltech(tmp_path / "data", {"001.a": 5, "002.b": 5, "003.c": 5}, folder=folder, extra=extra)
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--dataset", name, "--data-dir", str(tmp_path / "data"), "--out", str(out), "--trials", "1",
              "--cycles", "2", "--epochs", "1", "--initial", "4", "--query-size", "2", "--quiet", "--model",
              "smallcnn", "--strategy", "cod", "--batch-size", "4", "--image-size", "32"])
    assert exit_info.value.code == 0, capsys.readouterr().err
    results = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [r["n_labeled"] for r in results] == [4, 6, 8]
    assert json.loads((out / "config.json").read_text())["image_size"] == 32


def test_image_size_stores_smaller_images(tmp_path):
    write_caltech(tmp_path, {"accordion": 5, "airplanes": 5})
    data = load_dataset("caltech101", data_dir=tmp_path, image_size=32)
    assert data.X_train.shape == (8, 3, 32, 32)
    with Image.open(tmp_path / "caltech101/101_ObjectCategories/accordion/image_0001.jpg") as image:
        # 40x30 -> round(32 * 256 / 224) = 37 x 37 (stretched) -> centre 32x32
        expected = image.convert("RGB").resize((37, 37), Image.Resampling.BILINEAR).crop((2, 2, 34, 34))
    assert any(np.array_equal(x.transpose(1, 2, 0), np.asarray(expected)) for x in data.X_train[data.y_train == 0])
    with pytest.raises(ConfigError, match="image_size: svhn images keep their size; it applies to caltech101"):
        load_dataset("svhn", data_dir=tmp_path, image_size=32)
