"""``imagefolder:PATH`` datasets (PATH/train/<class>/*, PATH/test/<class>/*), and the CLI on one."""
import json

import numpy as np
import pytest
from PIL import Image

from tod_plugin.data import DatasetNotFound, load_dataset
from tod_plugin.data.images import resize_center_crop
from tod_plugin.errors import ConfigError
from tod_plugin_cli.main import main

from dataset_files import write_image_folder


def test_same_size_images_are_kept_with_computed_statistics(tmp_path):
    write_image_folder(tmp_path)
    data = load_dataset(f"imagefolder:{tmp_path}")
    assert data.name == f"imagefolder:{tmp_path}" and data.class_names == ["cat", "dog"]
    assert data.X_train.shape == (10, 3, 32, 32) and data.X_test.shape == (4, 3, 32, 32)
    np.testing.assert_array_equal(data.y_train, [0] * 5 + [1] * 5)
    np.testing.assert_array_equal(data.X_train[6, :, 0, 0], [41, 100, 199])
    # channel G is 100 everywhere: mean 100/255, std floored at 1/255; channel R is 40c + i over 10 images
    red = np.array([40 * c + i for c in range(2) for i in range(5)]) / 255.0
    np.testing.assert_allclose(data.mean, [red.mean(), 100 / 255, (200 - 2) / 255])
    np.testing.assert_allclose(data.std, [red.std(), 1 / 255, np.arange(5).std() / 255])
    assert (data.crop_padding, data.hflip) == (4, True)


def test_mixed_sizes_are_resized_and_centre_cropped(tmp_path):
    write_image_folder(tmp_path, train=2, test=1, sizes=((40, 30), (300, 200)))
    data = load_dataset(f"imagefolder:{tmp_path}")
    assert data.X_train.shape == (4, 3, 224, 224) and data.crop_padding == 0
    with Image.open(tmp_path / "train" / "dog" / "1.png") as image:
        expected = np.asarray(resize_center_crop(image.convert("RGB"), 256, 224)).transpose(2, 0, 1)
    np.testing.assert_array_equal(data.X_train[3], expected)
    small = load_dataset(f"imagefolder:{tmp_path}", image_size=16)
    assert small.X_train.shape == (4, 3, 16, 16)


def test_test_classes_must_exist_in_train(tmp_path):
    write_image_folder(tmp_path)
    (tmp_path / "test" / "bird").mkdir()
    with pytest.raises(ConfigError, match="class 'bird' has no folder in the training split"):
        load_dataset(f"imagefolder:{tmp_path}")


@pytest.mark.parametrize("name, message", [
    ("imagefolder:", "named 'imagefolder:PATH'"),
    ("imagefolder:/nonexistent/x", "expected the folders /nonexistent/x/train/<class>/"),
])
def test_bad_image_folders_are_one_line_errors(name, message):
    with pytest.raises(ConfigError, match=message) as info:
        load_dataset(name)
    assert "\n" not in str(info.value)


def test_empty_split_is_not_found(tmp_path):
    write_image_folder(tmp_path, test=0)
    with pytest.raises(DatasetNotFound, match="no images in"):
        load_dataset(f"imagefolder:{tmp_path}")


def test_cli_run_on_an_image_folder(tmp_path, capsys):
    folder = write_image_folder(tmp_path / "pets", train=6)
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--dataset", f"imagefolder:{folder}", "--out", str(out), "--trials", "1", "--cycles", "2",
              "--epochs", "1", "--initial", "4", "--query-size", "2", "--quiet", "--model", "smallcnn",
              "--strategy", "cod"])
    assert exit_info.value.code == 0, capsys.readouterr().err
    assert json.loads((out / "config.json").read_text())["dataset"] == f"imagefolder:{folder}"
    results = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [r["n_labeled"] for r in results] == [4, 6, 8]
