"""A labeling project keeps its query strategy's fitted state between queries, as data: BAL's
window advances cycle by cycle through its cached CDD order, scored by the model; a damaged or
code-holding sampler file is never run and a new sampler takes over."""
import json
import pickle
import shutil

import numpy as np
import pytest
import torch

from tod_plugin.strategies.bal import bal_window
from tod_plugin_cli.main import main

from labeling_files import answer, digits_project, read_sheet, write_digits, write_labels
from cli_runner import run_cli

N = 15  # per round; BAL's stride is the query size, its beta 1.2: windows [13, 32), [28, 47) of the order


def sheet_paths(proj, number):
    return [row["path"] for row in read_sheet(proj / "rounds" / f"{number:03d}" / "to_label.csv")]


def sampler_file(proj):
    record = json.loads((proj / "state.json").read_text())["sampler"]
    return proj / "models" / record["file"]


@pytest.fixture(scope="module")
def bal_project(tmp_path_factory):
    """``(project, hidden labels, CDD order as paths)`` after BAL's initial set (round 1) was labeled
    together with one image of each class from far down the order (so that the model exists)."""
    tmp_path = tmp_path_factory.mktemp("bal")
    proj, _, hidden = digits_project(tmp_path, rows=range(100), extra=["--strategy", "bal", "--epochs", "2"])
    main_ok(["query", proj, "-n", N, "--quiet"])
    with np.load(proj / "cache" / "bal-sampler.npz", allow_pickle=False) as cache:
        order = cache["order"]  # positions in the first pool: every image, sorted by path
    ranked = [sorted(hidden)[i] for i in order]
    one_per_class = {}
    for path in ranked[50:]:
        one_per_class.setdefault(hidden[path], path)
    assert len(one_per_class) == 10
    labels = answer(read_sheet(proj / "rounds" / "001" / "to_label.csv"), hidden) + [
        [p, c] for c, p in one_per_class.items()]
    main_ok(["teach", proj, write_labels(tmp_path / "round1.csv", labels)])
    return proj, hidden, ranked


def main_ok(args):
    with pytest.raises(SystemExit) as exit_info:
        main([str(a) for a in args])
    assert exit_info.value.code == 0


def window(cycle, ranked):
    lo, hi = bal_window(cycle, N, 1.2, len(ranked), initial=N)
    return set(ranked[lo:hi])


def test_bal_rounds_follow_the_cached_order_window_by_window(bal_project, tmp_path, capsys):
    proj = tmp_path / "proj"
    shutil.copytree(bal_project[0], proj)
    hidden, ranked = bal_project[1:]
    assert sheet_paths(proj, 1) == ranked[:N]  # the initial set: the head of the CDD order (high1st)
    code, out, _ = run_cli(["query", proj, "-n", N], capsys)
    assert code == 0 and "not used" not in out
    second = sheet_paths(proj, 2)
    assert set(second) <= window(1, ranked) and set(second) != set(ranked[N:2 * N])  # a fresh sampler: cycle 0
    confidence = [float(row["score"]) for row in read_sheet(proj / "rounds" / "002" / "to_label.csv")]
    assert confidence == sorted(confidence) and 0 < confidence[0] <= confidence[-1] <= 1  # least confident first
    main_ok(["teach", proj, write_labels(tmp_path / "round2.csv", answer(read_sheet(
        proj / "rounds" / "002" / "to_label.csv"), hidden))])
    main_ok(["query", proj, "-n", N, "--quiet"])
    assert set(sheet_paths(proj, 3)) <= window(2, ranked) - set(second)


def test_the_sampler_state_is_data_and_survives_across_commands(bal_project, tmp_path, capsys):
    proj = tmp_path / "proj"
    shutil.copytree(bal_project[0], proj)
    payload = torch.load(sampler_file(proj), weights_only=True)  # loads without unpickling any object
    fitted = dict(json.loads(payload["json"])["sampler"]["__dict__"])
    assert fitted["n_queries_"] == 1 and {"order_", "queried_", "index_"} <= set(fitted)
    for command in (["status", proj], ["export", proj, "-o", tmp_path / "labels.csv"]):
        assert run_cli(command, capsys)[0] == 0
    again = tmp_path / "again"
    shutil.copytree(proj, again)
    first, second = (run_cli(["query", p, "-n", N, "--quiet"], capsys)[0] for p in (proj, again))
    assert first == second == 0 and sheet_paths(proj, 2) == sheet_paths(again, 2)  # the same seed, the same picks
    assert dict(json.loads(torch.load(sampler_file(proj), weights_only=True)["json"])["sampler"]["__dict__"])[
        "n_queries_"] == 2
    assert [p.name for p in (proj / "models").iterdir() if p.name.startswith("sampler-")] == [sampler_file(proj).name]


class _RunsCode:
    def __reduce__(self):
        return (exec, ("open(__import__('os').environ['MARKER'], 'w').close()",))


@pytest.mark.parametrize("damage", ["code", "other strategy", "well-formed nonsense"])
def test_a_damaged_sampler_state_is_not_used_and_a_new_sampler_takes_over(damage, bal_project, tmp_path, capsys,
                                                                           monkeypatch):
    proj = tmp_path / "proj"
    shutil.copytree(bal_project[0], proj)
    path = sampler_file(proj)
    if damage == "code":
        path.write_bytes(pickle.dumps({"json": _RunsCode()}, protocol=2))
    elif damage == "well-formed nonsense":  # the format, with a cycle that is not a number
        payload = torch.load(path, weights_only=True)
        tree = json.loads(payload["json"])
        tree["sampler"]["__dict__"] = [[k, "x" if k == "n_queries_" else v] for k, v in tree["sampler"]["__dict__"]]
        torch.save({**payload, "json": json.dumps(tree)}, path)
    else:
        state = json.loads((proj / "state.json").read_text())
        state["sampler"]["strategy"] = "pt4al"
        (proj / "state.json").write_text(json.dumps(state))
    monkeypatch.setenv("MARKER", str(tmp_path / "ran"))
    code, out, _ = run_cli(["query", proj, "-n", N], capsys)
    said = ("sampler does not take this pool (TypeError" if damage == "well-formed nonsense"
            else "is not used")
    assert code == 0 and said in out and "starting a new" in out
    assert not (tmp_path / "ran").exists()
    labeled = set(json.loads((proj / "state.json").read_text())["labels"])
    assert len(set(sheet_paths(proj, 2)) - labeled) == N
    fitted = dict(json.loads(torch.load(sampler_file(proj), weights_only=True)["json"])["sampler"]["__dict__"])
    assert fitted["n_queries_"] == 1  # the new sampler's cycle 0, committed intact


def test_images_the_saved_sampler_never_saw_start_a_new_sampler(bal_project, tmp_path, capsys):
    proj, images = tmp_path / "proj", bal_project[0].parent / "images"
    shutil.copytree(bal_project[0], proj)
    state = json.loads((proj / "settings.json").read_text())
    moved = tmp_path / "images"
    shutil.copytree(images, moved)
    write_digits(moved, range(1500, 1503))
    (proj / "settings.json").write_text(json.dumps({**state, "images": str(moved)}))
    code, out, _ = run_cli(["query", proj, "-n", N], capsys)
    assert code == 0 and "3 new images join the pool" in out and "does not take this pool" in out
    fitted = dict(json.loads(torch.load(sampler_file(proj), weights_only=True)["json"])["sampler"]["__dict__"])
    pool = json.loads((proj / "state.json").read_text())["rounds"][-1]["pool"]
    assert fitted["n_queries_"] == 1 and fitted["queried_"]["shape"] == [pool] == [100 + 3 - N - 10]


def test_a_sampler_record_leaving_the_models_folder_is_refused(bal_project, tmp_path, capsys):
    proj = tmp_path / "proj"
    shutil.copytree(bal_project[0], proj)
    state = json.loads((proj / "state.json").read_text())
    state["sampler"]["file"] = "../settings.json"
    (proj / "state.json").write_text(json.dumps(state))
    code, _, err = run_cli(["query", proj, "-n", N], capsys)
    assert code == 2 and "sampler must be null or name a file of the models folder" in err and err.count("\n") == 1
