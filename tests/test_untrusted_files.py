"""Files from elsewhere never run code: a crafted checkpoint is refused in one line, a crafted or
damaged BAL / PT4AL cache is rebuilt, checkpoints of other settings are refused."""
import hashlib
import io
import pickle
import shutil

import numpy as np
import pytest
import torch

from tod_plugin.experiment import RunConfig
from tod_plugin.experiment import checkpoint as ckpt
from tod_plugin.experiment.store import RunStore
from tod_plugin.strategies import PT4ALSampler
from tod_plugin_cli.main import main

TINY = ["--trials", "1", "--cycles", "1", "--epochs", "1", "--initial", "10", "--query-size", "5", "--strategy",
        "random", "--device", "cpu", "--quiet"]


class Payload:
    """Unpickling it creates the file ``marker``: the proof that code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def tod_al(capsys, *args):
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    return exit_info.value.code, capsys.readouterr().err


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("untrusted") / "run"
    with pytest.raises(SystemExit):
        main(["run", "--out", str(out), *TINY])
    return out


def crafted(kind, marker):
    if kind == "pickle":  # the former format: digest + pickle, the digest recomputed by the attacker
        return pickle.dumps({"learner": Payload(marker)})
    buffer = io.BytesIO()  # a torch.save archive whose pickle names a callable
    torch.save({"format": "tod-al-checkpoint-2", "json": "{}", "tensors": {"w": Payload(marker)}}, buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("kind", ["pickle", "torch.save"])
def test_a_crafted_checkpoint_runs_nothing_and_is_refused_in_one_line(finished_run, tmp_path, capsys, kind):
    out, marker = tmp_path / "run", tmp_path / "pwned"
    shutil.copytree(finished_run, out)
    newest = sorted((out / "checkpoints").glob("*.ckpt"))[-1]
    data = crafted(kind, marker)
    newest.write_bytes(hashlib.sha256(data).digest() + data)
    code, err = tod_al(capsys, "run", "--resume", str(out), "--quiet")
    assert code == 2 and err.count("\n") == 1 and "is not a tod-al checkpoint" in err
    assert not marker.exists()


def test_a_checkpoint_of_other_settings_is_refused(finished_run, tmp_path, capsys):
    other = tmp_path / "other"
    with pytest.raises(SystemExit):
        main(["run", "--out", str(other), *TINY, "--seed", "7"])
    out = tmp_path / "run"
    shutil.copytree(finished_run, out)
    newest = sorted((out / "checkpoints").glob("*.ckpt"))[-1]
    shutil.copy(other / "checkpoints" / newest.name, newest)
    code, err = tod_al(capsys, "run", "--resume", str(out), "--quiet")
    assert code == 2 and err.count("\n") == 1 and "made with other settings" in err


def test_a_resumed_run_keeps_its_results_with_the_data_checkpoints(finished_run, tmp_path, capsys):
    out = tmp_path / "run"
    shutil.copytree(finished_run, out)
    sorted((out / "checkpoints").glob("*.ckpt"))[-1].unlink()
    assert tod_al(capsys, "run", "--resume", str(out), "--quiet")[0] == 0
    def without_times(folder):
        return [line.split('"query_time"')[0] for line in (folder / "results.jsonl").read_text().splitlines()]

    assert len(without_times(out)) == 2 and without_times(out) == without_times(finished_run)


@pytest.mark.parametrize("damage", ["object array", "truncated", "not a zip"])
def test_a_crafted_or_damaged_cache_is_rebuilt_and_runs_nothing(learner, digits, tmp_path, damage):
    pool, marker, cache = digits.X_train[60:160], tmp_path / "pwned", tmp_path / "pt4al.npz"
    reference = PT4ALSampler(pretext_epochs=1, pretext_batch_size=32, cache=cache, random_state=0)
    expected = np.asarray(reference(learner, pool, 3)[0])
    good = cache.read_bytes()
    if damage == "object array":
        np.savez(cache, fingerprint=np.array([Payload(marker)], dtype=object), order=np.arange(3))
    else:
        cache.write_bytes(good[: len(good) // 2] if damage == "truncated" else b"garbage")
    sampler = PT4ALSampler(pretext_epochs=1, pretext_batch_size=32, cache=cache, random_state=0)
    with pytest.warns(UserWarning, match="damaged; it is rebuilt"):
        picked = np.asarray(sampler(learner, pool, 3)[0])
    assert not marker.exists()
    np.testing.assert_array_equal(picked, expected)
    assert cache.read_bytes() == good


def test_a_well_formed_checkpoint_with_rows_outside_the_pool_is_refused(finished_run, tmp_path, capsys):
    """The settings hash can be recomputed by anyone: what the JSON says is checked too."""
    out = tmp_path / "run"
    shutil.copytree(finished_run, out)
    settings = ckpt.settings_digest(RunConfig.from_dict(RunStore(out).open()).to_dict())
    document, tensors = ckpt.load_checkpoint(out / "checkpoints", "random", 0, settings)
    document["queries"][0]["indices"][0] = -1  # would silently index the pool from its end
    header = ("strategy", "trial", "cycle", "settings_sha256")
    ckpt.save_checkpoint(out / "checkpoints", "random", 0, document["cycle"], settings,
                         {k: v for k, v in document.items() if k not in header}, tensors)
    code, err = tod_al(capsys, "run", "--resume", str(out), "--quiet")
    assert code == 2 and err.count("\n") == 1 and "not distinct rows of the pool" in err
