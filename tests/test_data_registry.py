"""The dataset registry, the data folder rule, and ``tod-al datasets``."""
from pathlib import Path

import pytest

from tod_plugin.data import LOADERS, SOURCES, check_dataset_name, data_root, load_dataset
from tod_plugin.errors import ConfigError
from tod_plugin_cli.main import main


def test_every_dataset_of_the_issue_is_registered():
    assert set(LOADERS) == {"digits", "cifar10", "cifar100", "cifar10im", "cifar100im", "svhn", "caltech101",
                            "caltech101-keep-aspect", "caltech256", "tinyimagenet"}
    assert set(SOURCES) == set(LOADERS)


def test_data_root_prefers_the_argument_then_the_environment_then_data(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TOD_DATA_DIR", raising=False)
    assert data_root() == tmp_path / "data"
    monkeypatch.setenv("TOD_DATA_DIR", "/srv/datasets")
    assert data_root() == Path("/srv/datasets")
    assert data_root("mine") == tmp_path / "mine"


@pytest.mark.parametrize("name", ["mnist", "imagefolder:", None])
def test_unknown_names_are_config_errors(name):
    with pytest.raises(ConfigError, match="unknown dataset|imagefolder:PATH"):
        check_dataset_name(name)


def test_digits_ignores_the_data_folder(tmp_path):
    assert load_dataset("digits", data_dir=tmp_path / "absent").X_train.shape[1:] == (1, 8, 8)


def test_datasets_command_lists_places_and_presence(tmp_path, capsys):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch",
                 "batches.meta"):
        (folder / name).write_bytes(b"")
    (tmp_path / "svhn").mkdir()
    (tmp_path / "svhn" / "train_32x32.mat").write_bytes(b"")
    with pytest.raises(SystemExit) as exit_info:
        main(["datasets", "--data-dir", str(tmp_path)])
    assert exit_info.value.code == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert lines["digits"].split()[1] == "embedded"
    assert lines["cifar10"].split()[1:] == ["present", str(folder)]
    assert lines["cifar10im"].split()[1] == "present"
    assert lines["svhn"].split()[1] == "missing" and "no test_32x32.mat" in lines["svhn"]
    assert lines["caltech101"].split()[1] == "missing"
    assert str(tmp_path / "caltech101" / "101_ObjectCategories") in lines["caltech101"]
    assert "PATH/train/<class>" in lines["imagefolder:PATH"]
