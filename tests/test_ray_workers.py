"""``tod-al run --ray-address``: the jobs as Ray tasks on a real local Ray, same records as one process."""
import dataclasses
import json
import sys

import pytest

import tod_plugin.data
import tod_plugin.distributed
from tod_plugin.errors import ConfigError
from tod_plugin.experiment.backends.ray import job_resources
from tod_plugin_cli.main import main

ray = pytest.importorskip("ray")

ARGS = ["run", "--strategy", "random,cod", "--trials", "2", "--cycles", "2", "--epochs", "1",
        "--initial", "30", "--query-size", "10", "--device", "cpu", "--quiet"]


def _records(folder):
    results = [json.loads(line) for line in (folder / "results.jsonl").read_text().splitlines()]
    for record in results:
        del record["query_time"], record["train_time"]
    return results, (folder / "queries.jsonl").read_text()


def _run(capsys, *args):
    with pytest.raises(SystemExit) as exit_info:
        main([*ARGS, *args])
    return exit_info.value.code, capsys.readouterr().err.strip()


def test_missing_ray_is_a_one_line_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    assert _run(capsys, "--out", str(tmp_path / "run"), "--ray-address", "local") == (
        2, 'error: --ray-address needs Ray, which is not installed: pip install "tod-plugin[ray]"')
    assert not (tmp_path / "run").exists()


def test_refused_under_torchrun(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(tod_plugin.distributed, "init_from_env", lambda: 0)
    monkeypatch.setattr(tod_plugin.distributed, "is_active", lambda: True)
    assert _run(capsys, "--out", str(tmp_path / "run"), "--ray-address", "local") == (
        2, "error: --ray-address does not combine with torchrun: use one or the other")


def test_no_cluster_to_join_is_a_one_line_error(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setenv("RAY_TMPDIR", str(tmp_path))  # no record of a cluster started on this machine
    code, err = _run(capsys, "--out", str(tmp_path / "run"), "--ray-address", "auto")
    assert code == 2 and len(err.splitlines()) == 1
    assert err.startswith("error: --ray-address auto: Could not find any running Ray instance")
    assert not (tmp_path / "run").exists()


def test_a_numbered_gpu_is_refused_before_the_run_folder(tmp_path, capsys):
    code, err = _run(capsys, "--out", str(tmp_path / "run"), "--ray-address", "local", "--device", "cuda:1")
    assert (code, err) == (2, "error: --ray-address gives each job a GPU of Ray's choice: use --device cuda or auto, "
                              "not cuda:1")
    assert not (tmp_path / "run").exists()


def test_a_failing_task_ends_the_run_with_its_error(tmp_path, capsys, monkeypatch, digits):
    """Test images of another shape fail each task's first score; the Ray started by the run is shut down."""
    broken = dataclasses.replace(digits, X_test=digits.X_test[:, :, :4, :4])
    monkeypatch.setattr(tod_plugin.data, "load_dataset", lambda *args: broken)
    code, err = _run(capsys, "--out", str(tmp_path / "run"), "--ray-address", "local", "--workers", "2")
    assert code == 2 and len(err.splitlines()) == 1
    assert err.startswith("error: ") and "fitted on samples of shape" in err
    assert not ray.is_initialized() and not (tmp_path / "run" / "results.jsonl").exists()


@pytest.fixture
def two_cpu_ray():
    """A Ray of 2 CPUs started by the test, so that each of 2 jobs runs on 1 thread, like the sequential run."""
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_tasks_give_the_sequential_results_and_resume(tmp_path, capsys, two_cpu_ray):
    assert _run(capsys, "--out", str(tmp_path / "sequential"))[0] == 0
    assert _run(capsys, "--out", str(tmp_path / "ray"), "--ray-address", "auto", "--workers", "2")[0] == 0
    assert ray.is_initialized()  # the test's Ray was used, not shut down
    assert _records(tmp_path / "ray") == _records(tmp_path / "sequential")

    # resume on Ray after the newest checkpoint of one job is damaged: that job re-runs its last
    # cycle from the one before, and the task's warning reaches this process
    newest = sorted((tmp_path / "ray" / "checkpoints").glob("cod_trial1_cycle*.ckpt"))[-1]
    newest.write_bytes(newest.read_bytes()[:100])
    with pytest.warns(UserWarning, match=f"checkpoint {newest.name} is unusable"):
        assert _run(capsys, "--resume", str(tmp_path / "ray"), "--ray-address", "auto", "--workers", "2")[0] == 0
    assert _records(tmp_path / "ray") == _records(tmp_path / "sequential")


def node(cpus, gpus=0, alive=True):
    return {"Alive": alive, "Resources": {"CPU": cpus, **({"GPU": gpus} if gpus else {})}}


@pytest.mark.parametrize("nodes, device, parallel, expected", [
    ([node(8)], "cpu", 2, (4, 0)),                       # an equal share of the CPUs
    ([node(8)], "cpu", 16, (1, 0)),                      # at least one
    ([node(8), node(8)], "cpu", 1, (8, 0)),              # at most one node's worth
    ([node(8), node(64, alive=False)], "cpu", 1, (8, 0)),
    ([node(64), node(8, gpus=1)], "auto", 1, (8, 1)),    # GPU jobs: only the GPU node's CPUs count
    ([node(16, gpus=4)], "cuda", 4, (4, 1)),             # its CPUs shared by its GPUs
    ([node(8)], "auto", 2, (4, 0)),                      # auto without GPUs: CPU jobs
])
def test_job_resources_fit_a_node(nodes, device, parallel, expected):
    assert job_resources(nodes, device, parallel) == expected


def test_cuda_on_a_cluster_without_gpus_is_refused_not_left_waiting():
    with pytest.raises(ConfigError, match="no node of the Ray cluster has a GPU"):
        job_resources([node(8)], "cuda", 1)


def test_cuda_without_gpus_is_refused_before_the_run_folder(tmp_path, capsys):
    code, err = _run(capsys, "--out", str(tmp_path / "run"), "--ray-address", "local", "--device", "cuda")
    assert (code, err) == (2, "error: --device cuda: no node of the Ray cluster has a GPU; use --device cpu or auto")
    assert not (tmp_path / "run").exists() and not ray.is_initialized()
