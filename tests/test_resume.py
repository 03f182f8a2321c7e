"""Runs survive: SIGKILL at random moments then --resume ends with the uninterrupted results;
corrupted checkpoints fall back to the previous good one; failed writes leave files intact."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from tod_plugin.atomic import atomic_write_text
from tod_plugin.data import load_dataset
from tod_plugin.errors import ConfigError, StorageError
from tod_plugin.experiment import RunConfig, load_learner
from tod_plugin.experiment import checkpoint as ckpt
from tod_plugin.experiment.store import RunStore
from tod_plugin.inference import same_state
from tod_plugin.pool import PoolView
from tod_plugin.strategies import CODSampler
from tod_plugin_cli.main import main

SETTINGS = ["--trials", "2", "--cycles", "3", "--epochs", "2", "--initial", "30", "--query-size", "10",
            "--strategy", "cod,cod+tod,random", "--device", "cpu", "--quiet"]


def _default_sigint():
    """A shell's background job starts with SIGINT ignored, and Python then installs no Ctrl-C handler:
    the run under test gets the default one, as in a terminal, wherever pytest itself was started."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def cli(*args):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "tod_plugin_cli.main", "run", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_default_sigint)


def comparable(folder):
    results = [json.loads(line) for line in (folder / "results.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if not k.endswith("_time")} for r in results], \
        (folder / "queries.jsonl").read_text()


def wait_for_start(process, out):
    """Seconds until the run folder has its config.json (the process has started writing)."""
    start = time.perf_counter()
    while not (out / "config.json").exists() and process.poll() is None:
        time.sleep(0.02)
    return time.perf_counter() - start


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("reference") / "run"
    process = cli("--out", str(out), *SETTINGS)
    wait_for_start(process, out)
    start = time.perf_counter()
    assert process.wait() == 0, process.stderr.read()
    return comparable(out), time.perf_counter() - start


def test_sigkill_at_random_points_then_resume_gives_the_same_results(reference, tmp_path):
    expected, duration = reference
    rng = np.random.RandomState(2026)
    kill_points = rng.uniform(0.0, 0.95, size=4) * duration
    identical = 0
    for k, delay in enumerate(kill_points):
        out = tmp_path / f"run{k}"
        process = cli("--out", str(out), *SETTINGS)
        wait_for_start(process, out)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        resumed = cli("--resume", str(out), "--quiet")
        assert resumed.wait() == 0, resumed.stderr.read()
        identical += comparable(out) == expected
    assert identical == len(kill_points)


def test_sigint_stops_the_run_with_exit_130_and_resume_gives_the_same_results(reference, tmp_path):
    """skorch ends a fit early on KeyboardInterrupt; the run must stop instead, resumable."""
    expected, _ = reference
    out = tmp_path / "run"
    process = cli("--out", str(out), *SETTINGS)
    while not list((out / "checkpoints").glob("*.ckpt")) and process.poll() is None:
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    assert process.wait() == 130
    assert process.stderr.read().strip().splitlines()[-1] == "error: interrupted"
    resumed = cli("--resume", str(out), "--quiet")
    assert resumed.wait() == 0, resumed.stderr.read()
    assert comparable(out) == expected


def test_a_keyboard_interrupt_inside_a_fit_is_raised_not_swallowed(digits):
    from skorch.callbacks import Callback

    from nets import make_net

    class CtrlC(Callback):
        def on_batch_end(self, net, **kwargs):
            raise KeyboardInterrupt

    net = make_net(callbacks=[CtrlC()])
    with pytest.raises(KeyboardInterrupt):
        net.fit(digits.X_train[:40], digits.y_train[:40])


def test_corrupted_newest_checkpoint_falls_back_to_the_previous(reference, tmp_path):
    expected, _ = reference
    out = tmp_path / "run"
    process = cli("--out", str(out), *SETTINGS)
    assert process.wait() == 0
    newest = sorted((out / "checkpoints").glob("random_trial1_*.ckpt"))[-1]
    newest.write_bytes(newest.read_bytes()[:100])  # truncated, as by a crash mid-write on a bad disk
    (out / "results.jsonl").write_text("")  # results are rebuilt from the checkpoints
    resumed = cli("--resume", str(out), "--quiet")
    assert resumed.wait() == 0
    assert "falling back to an earlier one" in resumed.stderr.read()
    assert comparable(out) == expected


def test_checkpoint_keeps_two_and_detects_corruption(tmp_path):
    for cycle in range(4):
        ckpt.save_checkpoint(tmp_path, "cod", 0, cycle, "s", {"results": [cycle]}, {"w": torch.full((2,), cycle)})
    assert len(list(tmp_path.glob("*.ckpt"))) == ckpt.KEEP
    document, tensors = ckpt.load_checkpoint(tmp_path, "cod", 0, "s")
    assert document["cycle"] == 3 and document["results"] == [3] and tensors["w"].tolist() == [3, 3]
    newest = tmp_path / "cod_trial0_cycle0003.ckpt"
    data = bytearray(newest.read_bytes())
    data[-1] ^= 0xFF
    newest.write_bytes(bytes(data))
    with pytest.warns(UserWarning, match="checksum does not match"):
        assert ckpt.load_checkpoint(tmp_path, "cod", 0, "s")[0]["cycle"] == 2
    assert ckpt.load_checkpoint(tmp_path, "random", 0, "s") is None


@pytest.mark.parametrize("failing", ["replace", "fsync"])
def test_failed_write_leaves_the_previous_file_intact(tmp_path, monkeypatch, failing):
    target = tmp_path / "results.jsonl"
    atomic_write_text(target, "old\n")

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, failing, full_disk)
    with pytest.raises(StorageError, match="No space left on device"):
        atomic_write_text(target, "new\n")
    monkeypatch.undo()
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["results.jsonl"]


def test_full_disk_during_a_run_is_one_line_and_keeps_earlier_results(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    real_replace = os.replace
    calls = []

    def fail_later(src, dst):
        calls.append(dst)
        if len(calls) > 6:
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", fail_later)
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--out", str(out), *SETTINGS])
    monkeypatch.undo()
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot write") and "--resume" in err and err.count("\n") == 1
    assert json.loads((out / "config.json").read_text())["trials"] == 2
    lines = (out / "results.jsonl").read_text().splitlines()
    assert lines and all(json.loads(line) for line in lines)


def test_resume_refuses_another_schema_and_changed_settings(tmp_path, capsys):
    out = tmp_path / "run"
    with pytest.raises(SystemExit):
        main(["run", "--out", str(out), *SETTINGS[:-3], "--strategy", "random", "--cycles", "1", "--quiet"])
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--resume", str(out), "--epochs", "5", "--seed", "3"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "epochs: 2 in the folder, 5 given" in err and "seed: 0 in the folder" in err
    config = json.loads((out / "config.json").read_text())
    config["schema_version"] = 99
    (out / "config.json").write_text(json.dumps(config))
    with pytest.raises(ConfigError, match="schema 99"):
        RunStore(out).open()


def test_written_files_get_the_usual_permissions(tmp_path):
    mask = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "config.json", "{}")
    finally:
        os.umask(mask)
    assert (tmp_path / "config.json").stat().st_mode & 0o777 == 0o666 & ~mask


TINY = ["--trials", "1", "--cycles", "2", "--epochs", "1", "--initial", "10", "--query-size", "5", "--strategy",
        "random", "--device", "cpu", "--quiet"]


def run_tod_al(capsys, *args):
    with pytest.raises(SystemExit) as exit_info:
        main(["run", *args])
    return exit_info.value.code, capsys.readouterr().err.strip()


def drop_last_cycle(out):
    """Remove the newest checkpoint, so that --resume trains the last cycle again."""
    sorted((out / "checkpoints").glob("*.ckpt"))[-1].unlink()


def test_resume_finds_moved_data_with_data_dir_and_refuses_other_data(tmp_path, capsys, monkeypatch):
    """The run records its data's SHA-256: --data-dir on --resume gives the data's new place."""
    from dataset_files import write_cifar10

    out, data = tmp_path / "run", tmp_path / "data"
    write_cifar10(data, np.arange(30) % 10, np.arange(20) % 10)
    assert run_tod_al(capsys, "--dataset", "cifar10", "--data-dir", str(data), "--out", str(out), *TINY)[0] == 0
    before = comparable(out)
    monkeypatch.chdir(tmp_path)
    assert run_tod_al(capsys, "--resume", "run", "--data-dir", "data")[0] == 0  # relative, same folder: not a change
    data.rename(tmp_path / "moved")
    drop_last_cycle(out)

    code, err = run_tod_al(capsys, "--resume", str(out))
    assert code == 2 and len(err.splitlines()) == 1 and "give --resume its new place with --data-dir" in err
    assert run_tod_al(capsys, "--resume", str(out), "--data-dir", "moved")[0] == 0  # the last cycle trains again
    assert json.loads((out / "config.json").read_text())["data_dir"] == str(tmp_path / "moved")
    assert comparable(out) == before
    assert run_tod_al(capsys, "--resume", str(out))[0] == 0  # the new place is recorded

    write_cifar10(tmp_path / "other", np.arange(30) % 5, np.arange(20) % 10)  # same shapes, other labels
    code, err = run_tod_al(capsys, "--resume", str(out), "--data-dir", str(tmp_path / "other"))
    assert code == 2 and "is not the data this run started with" in err
    assert json.loads((out / "config.json").read_text())["data_dir"] == str(tmp_path / "moved")


def test_an_image_folder_dataset_moves_with_its_name(tmp_path, capsys):
    from dataset_files import write_image_folder

    out, folder = tmp_path / "run", write_image_folder(tmp_path / "images", train=10, test=2)
    assert run_tod_al(capsys, "--dataset", f"imagefolder:{folder}", "--out", str(out), *TINY)[0] == 0
    before = comparable(out)
    folder.rename(tmp_path / "moved")
    drop_last_cycle(out)
    code, err = run_tod_al(capsys, "--resume", str(out))
    assert code == 2 and "give --resume its new place with --dataset imagefolder:NEW_PATH" in err
    assert run_tod_al(capsys, "--resume", str(out), "--dataset", f"imagefolder:{tmp_path / 'moved'}")[0] == 0
    assert json.loads((out / "config.json").read_text())["dataset"] == f"imagefolder:{tmp_path / 'moved'}"
    assert comparable(out) == before


def test_a_folder_without_a_data_fingerprint_resumes_in_place_only(tmp_path, capsys):
    """Run folders written before data fingerprints: resumed from the recorded place, which records one."""
    from dataset_files import write_cifar10

    out, data = tmp_path / "run", tmp_path / "data"
    write_cifar10(data, np.arange(30) % 10, np.arange(20) % 10)
    assert run_tod_al(capsys, "--dataset", "cifar10", "--data-dir", str(data), "--out", str(out), *TINY)[0] == 0
    config = json.loads((out / "config.json").read_text())
    fingerprint = config.pop("dataset_sha256")
    (out / "config.json").write_text(json.dumps(config))
    shutil.copytree(data, tmp_path / "copy")
    code, err = run_tod_al(capsys, "--resume", str(out), "--data-dir", str(tmp_path / "copy"))
    assert code == 2 and "does not record its data's SHA-256" in err
    assert run_tod_al(capsys, "--resume", str(out))[0] == 0
    assert json.loads((out / "config.json").read_text())["dataset_sha256"] == fingerprint


def test_resume_reuses_the_cached_vaal_networks_and_pretext_features(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["--trials", "1", "--cycles", "2", "--epochs", "1", "--initial", "20", "--query-size", "10",
            "--strategy", "vaal,typiclust", "--device", "cpu", "--quiet"]
    assert run_tod_al(capsys, "--out", str(out), *args)[0] == 0
    expected = comparable(out)
    caches = {p.name: p.stat().st_mtime_ns for p in (out / "cache").iterdir()}
    assert set(caches) == {"vaal_trial0.pt", "pretext-features_trial0.npz"}
    for strategy in ("vaal", "typiclust"):  # as if killed after the last query, before its checkpoint
        (out / "checkpoints" / f"{strategy}_trial0_cycle0002.ckpt").unlink()
    assert run_tod_al(capsys, "--resume", str(out), "--quiet")[0] == 0
    assert comparable(out) == expected
    assert {p.name: p.stat().st_mtime_ns for p in (out / "cache").iterdir()} == caches  # nothing trained again


COD = [*TINY[:-5], "--strategy", "cod", "--device", "cpu", "--quiet"]


def cod_checkpoint(out):
    """``(document, tensors)`` of the newest checkpoint of cod, trial 0."""
    config = RunConfig.from_dict(RunStore(out).open())
    return ckpt.load_checkpoint(out / "checkpoints", "cod", 0, ckpt.settings_digest(config.to_dict()))


def test_resume_restores_cods_output_cache_as_the_uninterrupted_run_had_it(tmp_path, capsys):
    """A checkpoint holds the CODSampler's cache; the learner --resume rebuilds has that cache, the one
    the uninterrupted run's query of that cycle computed, and ready for its next query (same reference
    weights, same input setting)."""
    out = tmp_path / "run"
    assert run_tod_al(capsys, "--out", str(out), *COD)[0] == 0
    expected = comparable(out)
    restored = load_learner(out, "cod")  # as of cycle 2
    restored_cache = restored.query_strategy.state_dict()
    assert isinstance(restored.query_strategy, CODSampler) and set(restored_cache) >= {"keys", "rows", "outputs"}

    drop_last_cycle(out)  # cycle 2 again, by hand from cycle 1, as the uninterrupted run did
    config = RunConfig.from_dict(RunStore(out).open())
    X = load_dataset(config.dataset).X_train
    learner = load_learner(out, "cod")
    taught = [row for record in cod_checkpoint(out)[0]["queries"] for row in record["indices"]]
    pool = np.setdiff1d(np.arange(len(X)), taught)
    assert same_state(learner.estimator.cod_reference(), learner.query_strategy.cache_.state)
    assert learner.query_strategy.cache_.setting == learner.estimator.input_setting(PoolView(X, pool))
    picked, _ = learner.query(PoolView(X, pool), n_instances=5, subset=config.subset,
                              random_state=np.random.RandomState([config.seed, 2]))
    uninterrupted = learner.query_strategy.state_dict()
    assert uninterrupted.keys() == restored_cache.keys()
    assert all(torch.equal(uninterrupted[name], restored_cache[name]) for name in uninterrupted)
    assert pool[picked].tolist() == json.loads((out / "queries.jsonl").read_text().splitlines()[-1])["indices"]

    assert run_tod_al(capsys, "--resume", str(out), "--quiet")[0] == 0
    assert comparable(out) == expected


@pytest.mark.parametrize("tamper", ["rows as int32", "outputs of 3 classes"])
def test_a_checkpoint_with_a_tampered_cod_cache_is_refused(tmp_path, capsys, tamper):
    out = tmp_path / "run"
    assert run_tod_al(capsys, "--out", str(out), *COD)[0] == 0
    drop_last_cycle(out)
    document, tensors = cod_checkpoint(out)
    names = {name: tree["__tensor__"] for name, tree in document["learner"]["cod_cache"]["__dict__"]}
    if tamper == "rows as int32":
        tensors[names["rows"]] = tensors[names["rows"]].to(torch.int32)
    else:
        tensors[names["outputs"]] = tensors[names["outputs"]][:, :3]
    ckpt.save_checkpoint(out / "checkpoints", "cod", 0, document["cycle"], document["settings_sha256"], document,
                         tensors)
    code, err = run_tod_al(capsys, "--resume", str(out), "--quiet")
    assert code == 2 and len(err.splitlines()) == 1
    assert err.startswith("error: the checkpoint of cod trial 0 cycle 1") and "COD output cache" in err
    assert "does not fit this run" in err
