"""Running one experiment's (trial, strategy) jobs as Ray tasks (``tod-al run --ray-address``).

The jobs are those of ``workers.run_parallel`` (the same ``run_job``: same seeds and initial sets,
so the same records as the sequential run), at most ``workers`` at once, each a Ray task with an
equal share of the cluster's CPUs (as torch threads) and one GPU when the run uses CUDA. The
dataset goes to the object store once. Tasks send their records to this process after every cycle
through a Ray queue and return their final records; only this process writes results.jsonl /
queries.jsonl, in the canonical order. Tasks write their checkpoints and pool caches under the run
folder themselves: on several nodes the run folder must be on a filesystem that every node mounts
at the same path, and every node needs tod-plugin installed.
"""
import logging
from contextlib import contextmanager

import torch

from ..errors import ConfigError
from .workers import _apply, _ForwardingStore, run_job


def require_ray():
    """The ``ray`` module; :class:`ConfigError` with the fix when it is not installed."""
    try:
        import ray
    except ImportError:
        raise ConfigError('--ray-address needs Ray, which is not installed: pip install "tod-plugin[ray]"') from None
    return ray


@contextmanager
def ray_session(address):
    """Ray connected for the block: ``local`` starts a Ray instance on this machine (all its CPUs),
    ``auto`` joins the cluster running here, ``ray://HOST:PORT`` a remote one. A Ray already
    initialised in this process is used as it is; a Ray started here is shut down at the end.
    :class:`ConfigError` when Ray is missing or no cluster is there."""
    ray = require_ray()
    started = not ray.is_initialized()
    if started:
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
        except ConnectionError as error:
            raise ConfigError(f"--ray-address {address}: {error}") from None
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()


def run_on_ray(config, dataset, store, progress, jobs, query_size, resume, workers):
    """Run ``jobs`` (``(key, name, seed, initial_rows)`` tuples) as tasks of the connected Ray
    (:func:`ray_session`), at most ``workers`` at once. A task's exception cancels the other
    tasks and ends the run."""
    import ray
    from ray.util.queue import Empty, Queue

    cpus = _cpus_per_job(ray, workers)
    task = ray.remote(_ray_job).options(num_cpus=cpus, num_gpus=_gpus_per_job(ray, config.device), max_retries=0)
    records, data, root = Queue(), ray.put(dataset), store.root.resolve()
    waiting, running, seen = list(jobs), [], {}
    try:
        while waiting or running:
            while waiting and len(running) < workers:
                running.append(task.remote(config, data, root, records, cpus, waiting.pop(0), query_size, resume))
            try:
                _apply(records.get(timeout=0.2), store, progress, seen)
            except Empty:
                pass
            done, running = ray.wait(running, num_returns=len(running), timeout=0)
            for ref in done:
                _apply(_result(ray, ref), store, progress, seen)
    except BaseException:
        for ref in running:
            ray.cancel(ref)
        raise
    finally:
        records.shutdown()


def _cpus_per_job(ray, workers):
    """An equal share of the cluster's CPUs for each of ``workers`` jobs, at most one node's worth."""
    node_cpus = max(node["Resources"].get("CPU", 0) for node in ray.nodes() if node["Alive"])
    return max(1, min(int(ray.cluster_resources().get("CPU", 1)) // workers, int(node_cpus)))


def check_device(device):
    """Ray picks each job's GPU: a numbered CUDA device cannot be honoured."""
    if str(device).startswith("cuda:"):
        raise ConfigError(f"--ray-address gives each job a GPU of Ray's choice: use --device cuda or auto, "
                          f"not {device}")


def _gpus_per_job(ray, device):
    """1 when the jobs run on CUDA (``cuda``, or ``auto`` on a cluster with GPUs), else 0."""
    check_device(device)
    return int(str(device) == "cuda" or (device == "auto" and ray.cluster_resources().get("GPU", 0) > 0))


def _ray_job(config, dataset, root, records, n_threads, job, query_size, resume):
    """The body of a Ray task: ``run_job`` with ``n_threads`` torch threads (Ray has set the visible GPU)."""
    torch.set_num_threads(n_threads)
    return run_job(config, dataset, _ForwardingStore(root, records), job, query_size, resume)


def _result(ray, ref):
    """A finished task's final records; the task's own exception (not Ray's wrapper) if it raised."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as error:
        raise error.cause from error
