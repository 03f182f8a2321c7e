"""Labeling projects through the CLI: the annotator loop on digits PNGs, bad label files, the lock,
images joining and leaving, checkpoints that cannot run code."""
import csv
import pickle
import shutil

import numpy as np
import pytest
import torch
import torchvision

from tod_plugin.experiment.strategies import STRATEGIES
from tod_plugin.labeling import project_lock

from labeling_files import answer, digits_project, fill_sheet, read_sheet, tree_bytes, write_digits, write_labels
from cli_runner import run_cli

CLASSES = ",".join(map(str, range(10)))


def test_annotator_simulation(tmp_path, capsys):
    """Five rounds answered from hidden labels: nothing proposed twice, n more labels per round,
    validation accuracy rising, predictions on held-out images far above chance."""
    hidden = write_digits(tmp_path / "images", range(500))
    validation = write_digits(tmp_path / "validation", range(1500, 1700), nested=False)
    write_labels(tmp_path / "validation" / "val.csv", validation.items())
    held_out = write_digits(tmp_path / "new", range(1700, 1797), nested=False)
    proj, n = tmp_path / "proj", 40
    code, out, _ = run_cli(["init", proj, "--images", tmp_path / "images", "--classes", CLASSES, "--image-size", 8,
                            "--epochs", 30, "--no-hflip", "--device", "cpu", "--validation", tmp_path / "validation" / "val.csv",
                            "--quiet"], capsys)
    assert code == 0 and "500 images" in out
    proposed = []
    for number in range(1, 5):
        code, out, _ = run_cli(["query", proj, "-n", n, "--quiet"], capsys)
        assert code == 0 and (("diverse first batch" in out) == (number == 1))
        sheet = read_sheet(proj / "rounds" / f"{number:03d}" / "to_label.csv")
        assert list(sheet[0]) == ["path", "label", "predicted", "confidence", "score", "rank"]
        assert [row["rank"] for row in sheet] == [str(r) for r in range(1, n + 1)]
        assert all(row["label"] == "" for row in sheet) and all(row["predicted"] for row in sheet) == (number > 1)
        scores = [float(row["score"]) for row in sheet]  # filled under either modAL query contract
        assert number == 1 or scores == sorted(scores, reverse=True)  # COD: highest discrepancy first
        html = (proj / "rounds" / f"{number:03d}" / "to_label.html").read_text()
        assert html.count("<figure>") == n and sheet[0]["path"] in html
        proposed += [row["path"] for row in sheet]
        answers = (fill_sheet(proj / "rounds" / f"{number:03d}" / "to_label.csv", hidden) if number % 2
                   else write_labels(tmp_path / "answers.csv", answer(sheet, hidden)))  # the sheet, or path,label
        code, out, _ = run_cli(["teach", proj, answers], capsys)
        assert code == 0 and f"{n} new labels, 0 changed; {n * number} in all" in out
    assert len(proposed) == len(set(proposed)) == 4 * n
    code, out, _ = run_cli(["query", proj, "-n", n, "--quiet"], capsys)  # trains on all 160 labels
    assert not set(row["path"] for row in read_sheet(proj / "rounds" / "005" / "to_label.csv")) & set(proposed)
    code, out, _ = run_cli(["status", proj], capsys)
    assert code == 0 and (proj / "status.png").stat().st_size > 0
    table = [line.split() for line in out.splitlines() if len(line.split()) == 8 and line.split()[1] == "cod"]
    assert [int(row[2]) for row in table] == [40, 80, 120, 160]
    accuracy = [float(row[6].rstrip("%")) for row in table]
    assert accuracy[-1] >= accuracy[0] + 5 and np.mean(accuracy[2:]) > np.mean(accuracy[:2]), accuracy
    code, out, _ = run_cli(["predict", proj, "--images", tmp_path / "new", "-o", tmp_path / "pred.csv", "--quiet"],
                           capsys)
    predictions = read_sheet(tmp_path / "pred.csv")
    assert code == 0 and list(predictions[0]) == ["path", "label", "confidence"] and len(predictions) == 97
    correct = np.mean([row["label"] == held_out[row["path"]] for row in predictions])
    assert correct > 0.7, correct  # chance is 0.1
    code, out, _ = run_cli(["export", proj, "-o", tmp_path / "labels.csv"], capsys)
    exported = read_sheet(tmp_path / "labels.csv")
    assert code == 0 and list(exported[0]) == ["path", "label", "round"]
    assert sorted(int(row["round"]) for row in exported) == sorted([1, 2, 3, 4] * n)
    assert all(row["label"] == hidden[row["path"]] for row in exported)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """A project over 300 digits with 2 labels per class (none of d0000..d0009's first rows)."""
    return digits_project(tmp_path_factory.mktemp("seeded"), seed_per_class=2)


def _labeled_path(proj):
    with open(proj.parent / "seed.csv", newline="") as f:
        return next(csv.DictReader(f))


@pytest.mark.parametrize("case, message", [
    ("empty", "nothing to teach"),
    ("header_only", "nothing to teach"),
    ("no_label_column", "has no column 'label'"),
    ("outside", "2 rows with a path outside the images folder"),
    ("unknown", "1 row naming no image file of"),
    ("foreign_label", "1 row with a label that is no class (0, 1, 2, 3, 4, 5, 6, 7, 8, 9; --add-class adds it)"),
    ("twice", "1 row giving a path a second, different label"),
    ("relabel", "1 row changing an earlier label (--relabel allows it)"),
    ("many", "13 rows with a label that is no class"),
])
def test_bad_label_file_changes_nothing(seeded, tmp_path, capsys, case, message):
    proj, images, hidden = seeded
    free = sorted(p for p in hidden if p not in {r[0] for r in csv.reader(open(proj.parent / "seed.csv"))})
    seed = _labeled_path(proj)
    other = str((int(seed["label"]) + 1) % 10)
    rows = {
        "header_only": [],
        "no_label_column": None,
        "outside": [[free[0], "1"], ["../seed.csv", "1"], [str(proj / "settings.json"), "2"]],
        "unknown": [[free[0], "1"], ["part0/nothing.png", "1"]],
        "foreign_label": [[free[0], "1"], [free[1], "cat"]],
        "twice": [[free[0], "1"], [free[0], "2"]],
        "relabel": [[free[0], "1"], [seed["path"], other]],
        "many": [[path, "cat"] for path in free[:13]],
    }
    path = tmp_path / "labels.csv"
    if case == "empty":
        path.write_text("")
    elif case == "no_label_column":
        write_labels(path, [[free[0], "1"]], header=("path", "class"))
    else:
        write_labels(path, rows[case])
    before = tree_bytes(proj)
    code, out, err = run_cli(["teach", proj, path], capsys)
    assert code == 2 and out == "" and err.count("\n") == 1 and err.startswith("error: ") and message in err, err
    assert "Traceback" not in err
    if case == "many":
        assert "(10 of 13 shown)" in err and err.count("row ") == 10
    assert tree_bytes(proj) == before


def test_teach_maps_columns_adds_classes_and_relabels(tmp_path, capsys):
    proj, _, hidden = digits_project(tmp_path, rows=range(40))
    paths = sorted(hidden)
    write_labels(tmp_path / "tool.csv", [[p, "x", hidden[p]] for p in paths[:3]], header=("file", "extra", "class"))
    code, out, _ = run_cli(["teach", proj, tmp_path / "tool.csv", "--path-column", "file", "--label-column", "class"],
                           capsys)
    assert code == 0 and "3 new labels, 0 changed" in out
    write_labels(tmp_path / "more.csv", [[paths[0], "ten"], [paths[3], "ten"]])
    assert run_cli(["teach", proj, tmp_path / "more.csv", "--add-class"], capsys)[0] == 2  # paths[0]: relabel
    code, out, _ = run_cli(["teach", proj, tmp_path / "more.csv", "--add-class", "--relabel"], capsys)
    assert code == 0 and "1 new labels, 1 changed; 4 in all; new classes: ten" in out
    run_cli(["export", proj, "-o", tmp_path / "all.csv"], capsys)
    assert {r["path"]: r["label"] for r in read_sheet(tmp_path / "all.csv")}[paths[0]] == "ten"


def test_second_command_fails_clearly_while_one_runs(seeded, tmp_path, capsys):
    proj = seeded[0]
    with project_lock(proj, wait=0):
        code, _, err = run_cli(["status", proj, "--wait", "0.2"], capsys)
    assert code == 2 and "another tod-al command is working on the project" in err and err.count("\n") == 1
    assert run_cli(["status", proj, "--wait", "0"], capsys)[0] == 0


def test_images_join_and_leave_at_the_next_query(tmp_path, capsys):
    proj, images, hidden = digits_project(tmp_path, rows=range(60))
    write_digits(images, range(60, 65))
    removed = sorted(hidden)[:3]
    for path in removed:
        (images / path).unlink()
    (images / "broken.png").write_bytes(b"not a png")
    code, out, _ = run_cli(["query", proj, "-n", 60, "--quiet"], capsys)
    assert code == 0 and "6 new images join the pool, 3 removed ones leave it" in out
    assert "1 file could not be read as images and stay out of the pool: broken.png" in out
    sheet = {row["path"] for row in read_sheet(proj / "rounds" / "001" / "to_label.csv")}
    assert len(sheet) == 60 and not sheet & set(removed) and "part0/d0062.png" in sheet


class _RunsCode:
    def __reduce__(self):
        return (exec, ("open(__import__('os').environ['MARKER'], 'w').close()",))


def test_a_checkpoint_holding_code_is_refused_not_run(seeded, tmp_path, capsys, monkeypatch):
    proj = tmp_path / "copy"
    shutil.copytree(seeded[0], proj)
    assert run_cli(["query", proj, "-n", 5, "--quiet"], capsys)[0] == 0  # trains: 2 labels per class
    (checkpoint,) = (proj / "models").iterdir()
    checkpoint.write_bytes(pickle.dumps({"module": _RunsCode()}, protocol=2))
    monkeypatch.setenv("MARKER", str(tmp_path / "ran"))
    code, _, err = run_cli(["predict", proj, "--images", seeded[1], "-o", tmp_path / "p.csv"], capsys)
    assert code == 2 and "does not load" in err and not (tmp_path / "ran").exists()


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_every_strategy_of_tod_al_run_labels_rounds(strategy, tmp_path, capsys):
    """Two rounds without new labels in between: the second scores with the saved model (or trains
    again where the strategy needs its own fit's snapshots) and proposes other images."""
    proj, _, _ = digits_project(tmp_path, rows=range(80), seed_per_class=1, extra=["--strategy", strategy,
                                                                                    "--epochs", "2"])
    for number in (1, 2):
        code, out, err = run_cli(["query", proj, "-n", 5, "--quiet"], capsys)
        assert code == 0, err
    first, second = ({row["path"] for row in read_sheet(proj / "rounds" / f"{r:03d}" / "to_label.csv")} for r in (1, 2))
    assert len(first) == len(second) == 5 and not first & second


@pytest.mark.parametrize("args, message", [
    (["--classes", "a"], "give at least two classes"),
    (["--classes", "a,b,a"], "--classes names a class twice"),
    (["--classes", "a,b", "--strategy", "magic"], "unknown strategy 'magic'"),
    (["--classes", "a,b", "--model", "vgg"], "unknown model 'vgg'"),
    (["--classes", "a,b", "--epochs", "0"], "epochs must be an int >= 1"),
    (["--classes", "a,b", "--image-size", "0"], "image_size must be an int >= 1"),
    (["--classes", "a,b", "--pretrained", "/nonexistent.pth"], "ImageNet weights fit only --model resnet18-imagenet"),
])
def test_bad_init_leaves_no_project(tmp_path, capsys, args, message):
    write_digits(tmp_path / "images", range(5))
    code, _, err = run_cli(["init", tmp_path / "proj", "--images", tmp_path / "images", *args], capsys)
    assert code == 2 and err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "proj").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["images"]


def test_commands_on_a_folder_that_is_no_project(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code, _, err = run_cli(["query", tmp_path / "empty", "--wait", "0"], capsys)
    assert code == 2 and "is not a tod-al labeling project" in err and not any((tmp_path / "empty").iterdir())
    code, _, err = run_cli(["init", tmp_path / "p", "--images", tmp_path / "empty", "--classes", "a,b"], capsys)
    assert code == 2 and "no images under" in err


def test_images_are_decoded_once_by_content(tmp_path, capsys):
    hidden = write_digits(tmp_path / "images", range(30))
    first = sorted(hidden)[0]
    (tmp_path / "images" / "copy.png").write_bytes((tmp_path / "images" / first).read_bytes())
    code, _, err = run_cli(["init", tmp_path / "proj", "--images", tmp_path / "images", "--classes", CLASSES,
                            "--image-size", 8, "--device", "cpu"], capsys)
    assert code == 0 and "decoding" in err and "30/30" in err  # 31 files, 30 contents, with a progress bar
    code, _, err = run_cli(["query", tmp_path / "proj", "-n", 31], capsys)
    assert code == 0 and "decoding" not in err  # nothing new: the cache serves the query
    sheet = {row["path"] for row in read_sheet(tmp_path / "proj" / "rounds" / "001" / "to_label.csv")}
    assert {first, "copy.png"} <= sheet and len(sheet) == 31


def test_first_batch_from_a_pretrained_network(tmp_path, capsys):
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), tmp_path / "resnet18.pth")
    write_digits(tmp_path / "images", range(40))
    code, _, err = run_cli(["init", tmp_path / "proj", "--images", tmp_path / "images", "--classes", CLASSES,
                            "--model", "resnet18-imagenet", "--pretrained", tmp_path / "resnet18.pth",
                            "--image-size", 32, "--device", "cpu", "--quiet"], capsys)
    assert code == 0, err
    code, out, err = run_cli(["query", tmp_path / "proj", "-n", 8, "--quiet"], capsys)
    assert code == 0 and "k-means on the features of the pretrained network" in out, err
    assert len(read_sheet(tmp_path / "proj" / "rounds" / "001" / "to_label.csv")) == 8
