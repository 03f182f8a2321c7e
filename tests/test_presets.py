"""Paper presets (METHODS sections 8 and 9): their values, overrides from the command line, listings."""
import json

import numpy as np
import pytest
import torch
import torchvision

from tod_plugin.errors import ConfigError
from tod_plugin.experiment import RunConfig
from tod_plugin.experiment.presets import PRESETS, apply_preset, labels_axis

from dataset_files import write_cifar10
from cli_runner import run_cli


# METHODS section 8: dataset, network, initial, per cycle, cycles (label-set sizes), subset, epochs,
# milestones, lr, batch, re-init
TABLE = {
    "tod-cifar10": ("cifar10", "resnet18", 5000, 2500, 7, 25000, 200, (160,), 0.1, 128, False),
    "tod-cifar100": ("cifar100", "resnet18", 5000, 2500, 7, 25000, 200, (160,), 0.1, 128, False),
    "tod-svhn": ("svhn", "resnet18", 7324, 3662, 7, 29302, 200, (160,), 0.1, 128, False),
    "tod-caltech101": ("caltech101", "resnet18-imagenet", 868, 434, 7, 4340, 50, (40,), 0.01, 64, False),
    "ll4al-cifar10": ("cifar10", "resnet18", 1000, 1000, 10, 10000, 200, (160,), 0.1, 128, False),
    "stconal-cifar10": ("cifar10", "resnet18", 1000, 1000, 5, 10000, 200, (), 0.1, 128, True),
    "stconal-cifar100": ("cifar100", "resnet18", 2000, 2000, 5, 20000, 200, (), 0.1, 128, True),
    "bal-cifar10": ("cifar10", "resnet18", "10%", "5%", 7, None, 100, (30, 60, 90), 0.1, 128, False),
}
KEYS = ("dataset", "model", "initial", "query_size", "cycles", "subset", "epochs", "milestones", "lr", "batch_size",
        "reinit")


@pytest.mark.parametrize("name", TABLE)
def test_presets_hold_the_papers_protocols(name):
    settings = PRESETS[name].settings
    expected = dict(zip(KEYS, TABLE[name]))
    expected["cycles"] -= 1  # the table counts label-set sizes; cycles here counts queries after the first fit
    assert {key: settings[key] for key in KEYS} == expected
    assert settings["trials"] == 3


def test_tod_presets_train_cod_with_the_datasets_tod_weight_and_random_without():
    weights = {name: PRESETS[name].settings["aux_weight"] for name in
               ("tod-cifar10", "tod-cifar100", "tod-svhn", "tod-caltech101")}
    assert weights == {"tod-cifar10": 0.02, "tod-cifar100": 0.05, "tod-svhn": 0.005, "tod-caltech101": 0.1}
    for name in weights:
        assert PRESETS[name].settings["strategies"] == ("cod+tod", "random")
        assert PRESETS[name].settings["auxiliary"] == "none"
    assert PRESETS["ll4al-cifar10"].settings["auxiliary"] == "ll4al"
    assert PRESETS["stconal-cifar10"].settings["lr_schedule"] == "constant"
    assert PRESETS["bal-cifar10"].settings["beta"] == 1.2


def test_reported_accuracy_is_at_ten_to_forty_percent_of_the_pool():
    tod = PRESETS["tod-cifar10"]
    assert labels_axis(tod) == (5000, 7500, 10000, 12500, 15000, 17500, 20000)
    assert [round(100 * n / 50000) for n in labels_axis(tod)] == [10, 15, 20, 25, 30, 35, 40]
    assert [round(100 * n / 73257) for n in labels_axis(PRESETS["tod-svhn"])] == [10, 15, 20, 25, 30, 35, 40]
    for preset in PRESETS.values():
        for values in preset.reported.values():
            assert len(values) == preset.settings["cycles"] + 1
    assert tod.reported["cod+tod"][-1] == 94.4 and tod.reported["random"][0] == 80.0
    assert PRESETS["tod-cifar100"].reported["cod+tod"] == (37.3, 52.9, 58.6, 62.3, 64.9, 66.8, 68.4)
    assert PRESETS["tod-svhn"].reported["random"] == (92.8, 93.7, 94.1, 94.3, 94.6, 94.7, 94.5)
    assert tod.reported_extra["full-data accuracy %"] == 93.1


def test_every_preset_is_a_valid_run_config(tmp_path):
    weights = tmp_path / "resnet18.pth"
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), weights)
    for name, preset in PRESETS.items():
        given = {"pretrained": str(weights)} if preset.needs else {}
        config = RunConfig(**apply_preset(name, given, explicit=set(given))).validate()
        assert config.preset == name and config.trials == 3


def test_explicit_values_override_and_needs_are_enforced():
    merged = apply_preset("tod-cifar10", {"lr": 0.5, "epochs": 20}, explicit={"lr"})
    assert merged["lr"] == 0.5 and merged["epochs"] == 200 and merged["preset"] == "tod-cifar10"
    with pytest.raises(ConfigError, match="preset 'tod-caltech101' needs --pretrained PATH"):
        apply_preset("tod-caltech101", {})
    with pytest.raises(ConfigError, match="unknown preset 'tod-mnist'; choose one of tod-cifar10, "):
        apply_preset("tod-mnist", {})


def test_cli_preset_with_overrides_records_the_final_values(tmp_path, capsys):
    data = tmp_path / "data"
    write_cifar10(data, np.arange(40) % 10, np.arange(20) % 10)
    out = tmp_path / "run"
    code, _, err = run_cli(["run", "--preset", "tod-cifar10", "--data-dir", str(data), "--out", str(out),
                            "--trials", "1", "--cycles", "2", "--epochs", "1", "--initial", "10", "--query-size", "5",
                            "--subset", "20", "--model", "smallcnn", "--batch-size", "auto", "--quiet"], capsys)
    assert code == 0, err
    config = json.loads((out / "config.json").read_text())
    # given on the command line (even --batch-size auto, the flag's default value) ...
    assert (config["trials"], config["cycles"], config["epochs"], config["initial"], config["query_size"],
            config["subset"], config["model"], config["batch_size"]) == (1, 2, 1, 10, 5, 20, "smallcnn", "auto")
    # ... and the preset's values for the rest
    assert config["preset"] == "tod-cifar10" and config["lr"] == 0.1 and config["milestones"] == [160]
    assert config["strategies"] == ["cod+tod", "random"] and config["aux_weight"] == 0.02
    assert config["reinit"] is False and config["dataset"] == "cifar10"
    results = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert {(r["strategy"], r["auxiliary"]) for r in results} == {("cod+tod", "tod"), ("random", "none")}


def test_cli_preset_errors_are_one_line(tmp_path, capsys):
    for args, message in ((["--preset", "nope"], "error: unknown preset 'nope'"),
                          (["--preset", "tod-caltech101"], "error: preset 'tod-caltech101' needs --pretrained PATH")):
        code, _, err = run_cli(["run", "--out", str(tmp_path / "run"), *args], capsys)
        assert code == 2 and err.startswith(message) and err.count("\n") == 1
    assert not (tmp_path / "run").exists()


def test_presets_command_lists_every_preset_with_its_settings(capsys):
    code, out, _ = run_cli(["presets"], capsys)
    assert code == 0
    for name in PRESETS:
        assert f"\n{name}: " in f"\n{out}"
    code, out, _ = run_cli(["presets", "tod-svhn"], capsys)
    assert code == 0 and out.startswith("tod-svhn: ") and "tod-cifar10" not in out
    assert "initial=7324" in out and "aux_weight=0.005" in out and "milestones=160" in out
    assert "cod+tod   92.7  94.8  95.2  95.4  95.5  95.7  95.7" in out
    code, _, err = run_cli(["presets", "tod-mnist"], capsys)
    assert code == 2 and "unknown preset 'tod-mnist'" in err


@pytest.mark.parametrize("milestones, expected", [(None, [16]), ((3, 7), [3, 7]), ((), None)])
def test_milestones_reach_the_lr_schedule(digits, milestones, expected):
    from tod_plugin.experiment.loop import build_net

    net = build_net(RunConfig(epochs=20, milestones=milestones).validate(), digits, seed=0)
    schedules = [cb for name, cb in net.callbacks if name == "lr_schedule"]
    assert (schedules[0].kwargs["milestones"] if schedules else None) == expected  # none: constant LR


def test_cli_milestones_flag(tmp_path, capsys):
    code, _, err = run_cli(["run", "--out", str(tmp_path / "a"), "--milestones", "2,1"], capsys)
    assert code == 2 and "milestones must be increasing epochs, got [2, 1]" in err
    code, _, err = run_cli(["run", "--out", str(tmp_path / "b"), "--milestones", "x"], capsys)
    assert code == 2 and "must be a comma list of epochs or 'none'" in err


def test_the_exact_preset_is_tod_cifar10_with_the_reference_codes_choices(capsys):
    exact, ours = PRESETS["tod-cifar10-exact"], PRESETS["tod-cifar10"]
    assert {k: v for k, v in exact.settings.items() if k != "first_cycle"} == ours.settings
    assert exact.settings["first_cycle"] == "lowest" and exact.reported == ours.reported
    code, out, _ = run_cli(["presets", "tod-cifar10-exact"], capsys)
    assert code == 0 and "first_cycle=lowest" in out.splitlines()[1]
    listed = out[out.index("the reference code's choices that differ from our defaults:"):]
    for choice in exact.reference_choices:
        assert f"\n    {choice}: " in listed


def test_first_cycle_reaches_cod_from_the_command_line(tmp_path, digits, capsys):
    from modAL.models import ActiveLearner

    from nets import indices, make_net
    from tod_plugin.experiment.strategies import STRATEGIES
    from tod_plugin.strategies import cod_sampling

    X, y = digits.X_train, digits.y_train
    learner = ActiveLearner(estimator=make_net(), X_training=X[:60], y_training=y[:60])
    query = STRATEGIES["cod"].make_query(RunConfig(first_cycle="lowest").validate(), 0, None, len(X))
    lowest = indices(cod_sampling(learner, X[60:260], 5, first_cycle="lowest"))
    assert np.array_equal(indices(query(learner, X[60:260], 5)), lowest)
    assert not np.array_equal(indices(cod_sampling(learner, X[60:260], 5)), lowest)
    out = tmp_path / "run"
    code, _, err = run_cli(["run", "--out", str(out), "--strategy", "cod", "--first-cycle", "lowest", "--trials", "1",
                            "--cycles", "1", "--epochs", "1", "--quiet"], capsys)
    assert code == 0, err
    assert json.loads((out / "config.json").read_text())["first_cycle"] == "lowest"
    code, _, err = run_cli(["run", "--out", str(tmp_path / "bad"), "--first-cycle", "middle"], capsys)
    assert code == 2 and "first_cycle must be one of highest, lowest, got 'middle'" in err
