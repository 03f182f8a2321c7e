"""The Ray back-end (``tod-al run --ray-address``): the jobs as tasks of the connected Ray.

The jobs are those of the other back-ends (the same ``run_job``: same seeds and initial sets, so
the same records as the sequential run), at most ``workers`` at once, each a Ray task with an
equal share of the cluster's CPUs (as torch threads) and one GPU when the run uses CUDA. The
dataset goes to the object store once. Tasks send their records to this process after every cycle
through a Ray queue and return their final records and warnings; only this process writes
results.jsonl / queries.jsonl, in the canonical order. Tasks write their checkpoints and pool
caches under the run folder themselves: on several nodes the run folder must be on a filesystem
that every node mounts at the same path, and every node needs tod-plugin installed.

Ray is an optional extra (``pip install "tod-plugin[ray]"``): it is imported lazily, only when a
run asks for it, so the package works without it.
"""
import logging
import warnings
from contextlib import contextmanager

import torch

from ...errors import ConfigError
from .forwarding import RecordWriter, run_forwarded


def require_ray():
    """The ``ray`` module; :class:`ConfigError` with the fix when it is not installed."""
    try:
        import ray  # lazy: Ray is an optional extra
    except ImportError:
        raise ConfigError('--ray-address needs Ray, which is not installed: pip install "tod-plugin[ray]"') from None
    return ray


@contextmanager
def ray_session(address, device):
    """Ray connected for the block: ``local`` starts a Ray instance on this machine (all its CPUs),
    ``auto`` joins the cluster running here, ``ray://HOST:PORT`` a remote one. A Ray already
    initialised in this process is used as it is (``address`` aside); a Ray started here is shut
    down at the end. :class:`ConfigError` when Ray is missing, no cluster is there, or none of its
    nodes can run a job on ``device`` (:func:`job_resources`)."""
    ray = require_ray()
    check_device(device)
    started = not ray.is_initialized()
    if started:
        try:
            # the tasks' output stays with them: log_to_driver replaces builtins.print for good (Ray 2.60)
            ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
        except ConnectionError as error:
            raise ConfigError(f"--ray-address {address}: {error}") from None
    try:
        job_resources(ray.nodes(), device, 1)
        yield ray
    finally:
        if started:
            ray.shutdown()


def run(jobs, context):
    """Run ``jobs`` (:class:`~..context.TrialJob`) as tasks of the connected Ray (:func:`ray_session`),
    at most ``context.workers`` at once. A task's exception cancels the other tasks and ends the run."""
    ray = require_ray()
    from ray.util.queue import Empty, Queue  # lazy: Ray is an optional extra

    config, workers = context.config, context.workers
    cpus, gpus = job_resources(ray.nodes(), config.device, min(workers, len(jobs)))
    task = ray.remote(_ray_job).options(num_cpus=cpus, num_gpus=gpus, max_retries=0)
    records, data, root = Queue(), ray.put(context.dataset), context.store.root.resolve()
    writer = RecordWriter(context.store, context.progress)
    waiting, running = list(jobs), []
    try:
        while waiting or running:
            while waiting and len(running) < workers:
                running.append(task.remote(config, data, root, records, cpus, waiting.pop(0), context.resume))
            try:
                writer.write(records.get(timeout=0.2))
            except Empty:
                pass
            done, running = ray.wait(running, num_returns=len(running), timeout=0)
            for ref in done:
                writer.write(_result(ray, ref))
    except BaseException:
        for ref in running:
            ray.cancel(ref)
        raise
    finally:
        records.shutdown()


def check_device(device):
    """Ray picks each job's GPU: a numbered CUDA device cannot be honoured."""
    if str(device).startswith("cuda:"):
        raise ConfigError(f"--ray-address gives each job a GPU of Ray's choice: use --device cuda or auto, "
                          f"not {device}")


def job_resources(nodes, device, parallel):
    """``(num_cpus, num_gpus)`` of each job given Ray's ``nodes()``: one GPU on CUDA (``cuda``, or
    ``auto`` when a node has GPUs) and an equal share of the CPUs of the nodes the jobs can run on for
    ``parallel`` jobs at once, at most what one such node has per job. :class:`ConfigError` when no
    alive node can take a job (``--device cuda`` on a cluster without GPUs), rather than waiting forever."""
    check_device(device)
    alive = [node["Resources"] for node in nodes if node["Alive"]]
    has_gpus = any(node.get("GPU", 0) >= 1 for node in alive)
    gpus = int(str(device) == "cuda" or (device == "auto" and has_gpus))
    if gpus and not has_gpus:
        raise ConfigError("--device cuda: no node of the Ray cluster has a GPU; use --device cpu or auto")
    usable = [node for node in alive if node.get("GPU", 0) >= gpus and node.get("CPU", 0) >= 1]
    if not usable:
        raise ConfigError("--ray-address: no node of the Ray cluster has a CPU to run a job on")
    slots = [min(node["CPU"], node["CPU"] / node["GPU"] if gpus else node["CPU"]) for node in usable]
    total = sum(node["CPU"] for node in usable)
    return max(1, min(int(total) // parallel, int(max(slots)))), gpus


def _ray_job(config, dataset, root, records, n_threads, job, resume):
    """The body of a Ray task: ``run_forwarded`` with ``n_threads`` torch threads (Ray has set the visible
    GPU). Returns the final records and the job's warnings (the tasks' own output is not shown)."""
    torch.set_num_threads(n_threads)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        final = run_forwarded(config, dataset, root, records, job, resume)
    return final, [(str(w.message), w.category) for w in caught]


def _result(ray, ref):
    """A finished task's final records, its warnings shown here; the task's own exception (not Ray's
    wrapper) if it raised."""
    try:
        final, caught = ray.get(ref)
    except ray.exceptions.RayTaskError as error:
        raise error.cause from error
    for message, category in caught:
        warnings.warn(message, category, stacklevel=2)
    return final
