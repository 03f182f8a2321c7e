"""Running one experiment on several processes.

``run_parallel`` (``tod-al run --workers N``): the (trial, strategy) jobs go to N worker processes
(forked on Linux with ``device="cpu"``, so they start without re-importing; spawned otherwise, as
CUDA does not survive a fork; with several GPUs, worker k uses GPU k mod their number). A job is
the sequential run's ``run_trial`` with the same seed and initial set and nothing shared with
other jobs, so the records are the same (on CPU bit for bit at the same number of threads per
process: each worker gets ``torch.get_num_threads() // N``). Workers write their own checkpoints and pool caches (one
file per job) and send their records to this process, which writes results.jsonl / queries.jsonl
in the canonical order.
``ray_workers.run_on_ray`` (``--ray-address``) runs the same ``run_job`` as Ray tasks.

``follower_store`` (``torchrun``): every rank runs the experiment, rank 0 writes the run folder and
the other ranks write to a scratch folder of their own.
"""
import atexit
import multiprocessing
import queue
import shutil
import sys
import tempfile
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from pathlib import Path

import torch

from .checkpoint import load_checkpoint, settings_digest
from .progress import Progress
from .store import RunStore

_WORKER = {}


class _ForwardingStore:
    """The run folder as a worker sees it: files of its own job, records sent to the parent."""

    def __init__(self, root, records):
        self.root = Path(root)
        self.checkpoints = self.root / "checkpoints"
        self.records = records
        self.last = None

    def set_records(self, key, results, queries):
        self.last = (key, list(results), list(queries))
        self.records.put(self.last)


def _start_worker(config, dataset, root, records, counter, n_threads):
    with counter.get_lock():
        index = counter.value
        counter.value += 1
    torch.set_num_threads(n_threads)
    if str(config.device) in ("auto", "cuda") and torch.cuda.device_count() > 1:
        torch.cuda.set_device(index % torch.cuda.device_count())  # "cuda" now means this GPU
    _WORKER.update(config=config, dataset=dataset, store=_ForwardingStore(root, records))


def run_job(config, dataset, store, job, query_size, resume):
    """One (trial, strategy) ``job`` away from the parent, records to the ``_ForwardingStore``
    ``store``; returns its final records. The job body of every back-end (processes, Ray)."""
    from .loop import run_trial

    key, name, seed, initial_rows = job
    checkpoint = load_checkpoint(store.checkpoints, name, key[0], settings_digest(config.to_dict())) if resume else None
    progress = Progress(0, config.trials, config.cycles, enabled=False)
    run_trial(config, dataset, store, progress, key, name, seed, initial_rows, query_size, checkpoint)
    return store.last


def _run_job(job, query_size, resume):
    """One job in a pool worker, on the config, dataset and store its initializer set."""
    return run_job(_WORKER["config"], _WORKER["dataset"], _WORKER["store"], job, query_size, resume)


def run_parallel(config, dataset, store, progress, jobs, query_size, resume, workers):
    """Run ``jobs`` (``(key, name, seed, initial_rows)`` tuples) on ``workers`` processes.

    Records reach the run folder after every cycle (sent by the workers); a job's final records
    come back with its result, so none is lost to the queue's timing.
    """
    fork = sys.platform.startswith("linux") and str(config.device) == "cpu"
    context = multiprocessing.get_context("fork" if fork else "spawn")
    records, counter = context.Queue(), context.Value("i", 0)
    n_threads = max(1, torch.get_num_threads() // workers)
    seen = {}
    with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=context, initializer=_start_worker,
                             initargs=(config, dataset, store.root, records, counter, n_threads)) as pool:
        pending = {pool.submit(_run_job, job, query_size, resume) for job in jobs}
        try:
            while pending:
                try:
                    _apply(records.get(timeout=0.2), store, progress, seen)
                except queue.Empty:
                    pass
                done, pending = wait(pending, timeout=0, return_when=FIRST_EXCEPTION)
                for future in done:
                    _apply(future.result(), store, progress, seen)  # a worker's exception ends the run here
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def _apply(update, store, progress, seen):
    """Write a job's records unless a newer update of that job was written already."""
    key, results, queries = update
    if key in seen and len(results) <= seen[key]:
        return
    store.set_records(key, results, queries)
    for record in results[seen.get(key, 0):]:
        progress.start_fit(record["strategy"], record["trial"], record["cycle"])
        progress.end_fit(record["accuracy"])
    seen[key] = len(results)


def follower_store(store, resume):
    """The store of a ``torchrun`` rank other than 0: a scratch folder (with a copy of the run's
    checkpoints when resuming), so that only rank 0 writes the run folder; removed at exit."""
    scratch = Path(tempfile.mkdtemp(prefix="tod-al-rank-"))
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)
    if resume and store.checkpoints.is_dir():
        shutil.copytree(store.checkpoints, scratch / "checkpoints")
    return RunStore(scratch)
