"""SIGKILL in ``teach`` or ``query`` at random moments: the project loads, is as before or as after
the command, and gives the same next query as a project that was never interrupted (with BAL: the
same next window, from the sampler state committed with the model)."""
import json
import multiprocessing
import os
import shutil
import signal
import time

import numpy as np
import pytest

from tod_plugin.labeling import Project
from tod_plugin_cli.main import main

from labeling_files import answer, digits_project, read_sheet, write_labels

TRIALS = 4


def run(args):
    with pytest.raises(SystemExit) as exit_info:
        main([str(a) for a in args])
    assert exit_info.value.code == 0


def timed(args):
    start = time.perf_counter()
    run(args)
    return time.perf_counter() - start


def killed(args, delay):
    """Run the command in a forked process and SIGKILL it after ``delay`` seconds (if still running)."""
    child = multiprocessing.get_context("fork").Process(target=main, args=([str(a) for a in args],))
    child.start()
    time.sleep(delay)
    os.kill(child.pid, signal.SIGKILL)
    child.join()


def state_of(proj):
    """The committed state, loaded as every command loads it, without the wall-clock fields."""
    state = Project.open(proj).state
    for record in state["rounds"] + state.get("teaches", []):
        for key in ("seconds", "train_seconds", "time"):
            record.pop(key, None)
    return json.dumps(state, sort_keys=True)


def sheet_bytes(proj, number):
    return (proj / "rounds" / f"{number:03d}" / "to_label.csv").read_bytes()


@pytest.mark.parametrize("strategy, rows", [("cod", 300), ("bal", 100)])  # BAL: a sampler state committed too
def test_killed_teach_and_query_leave_the_project_before_or_after(strategy, rows, tmp_path):
    base, _, hidden = digits_project(tmp_path, rows=range(rows), seed_per_class=1, extra=["--strategy", strategy])
    queried, taught, done = (tmp_path / name for name in ("queried", "taught", "done"))
    run(["query", base, "-n", 10, "--quiet"])  # trains on the 10 seed labels
    shutil.copytree(base, queried)
    answers = write_labels(tmp_path / "answers.csv", answer(read_sheet(base / "rounds" / "001" / "to_label.csv"), hidden))
    teach_time = timed(["teach", base, answers])
    shutil.copytree(base, taught)
    query_time = timed(["query", base, "-n", 10, "--quiet"])
    shutil.copytree(base, done)
    states = {name: state_of(folder) for name, folder in (("queried", queried), ("taught", taught), ("done", done))}
    expected_sheet = sheet_bytes(done, 2)
    rng = np.random.RandomState(0)

    def moment(duration, trial):
        """A random moment in the trial's slice of [0, 2 x duration] (a forked command runs a little
        longer than in this process): early and late kills both happen."""
        return duration * 2 * (trial % TRIALS + rng.uniform()) / TRIALS

    outcomes = []
    for trial in range(2 * TRIALS):
        command_is_teach = trial < TRIALS
        proj = tmp_path / f"trial{trial}"
        shutil.copytree(queried if command_is_teach else taught, proj)
        if command_is_teach:
            killed(["teach", proj, answers], moment(teach_time, trial))
            state = state_of(proj)
            assert state in (states["queried"], states["taught"])
            outcomes.append(state == states["taught"])
            if state == states["queried"]:
                run(["teach", proj, answers])
        else:
            killed(["query", proj, "-n", 10, "--quiet"], moment(query_time, trial))
            state = state_of(proj)
            assert state in (states["taught"], states["done"])
            outcomes.append(state == states["done"])
            if state == states["taught"]:
                run(["query", proj, "-n", 10, "--quiet"])
        if command_is_teach:
            run(["query", proj, "-n", 10, "--quiet"])
        assert state_of(proj) == states["done"] and sheet_bytes(proj, 2) == expected_sheet
        files = 1 + (strategy == "bal")  # the model checkpoint, and BAL's sampler state
        assert not list(proj.rglob(".*.tmp")) and len(list((proj / "models").iterdir())) == files
    print("killed after the commit:", outcomes)
