"""The processes back-end (``tod-al run --workers N``): the jobs in N worker processes.

Workers are forked on Linux with ``device="cpu"``, so they start without re-importing, and spawned
otherwise, as CUDA does not survive a fork; with several GPUs, worker k uses GPU k mod their
number. A job is the sequential run's ``run_job`` with the same seed and initial set and nothing
shared with other jobs, so the records are the same (on CPU bit for bit at the same number of
threads per process: each worker gets ``torch.get_num_threads() // N``). Records travel as
``forwarding`` describes.
"""
import multiprocessing
import queue
import sys
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait

import torch

from .forwarding import RecordWriter, run_forwarded

_WORKER = {}  # what a worker process's initializer received, for the jobs it runs


def _start_worker(config, dataset, root, records, counter, n_threads, resume):
    with counter.get_lock():
        index = counter.value
        counter.value += 1
    torch.set_num_threads(n_threads)
    if str(config.device) in ("auto", "cuda") and torch.cuda.device_count() > 1:
        torch.cuda.set_device(index % torch.cuda.device_count())  # "cuda" now means this GPU
    _WORKER.update(config=config, dataset=dataset, root=root, records=records, resume=resume)


def _run_job(job):
    """One job in a pool worker, on the settings, dataset and run folder its initializer received."""
    return run_forwarded(job=job, **_WORKER)


def run(jobs, context):
    """Run ``jobs`` (:class:`~..context.TrialJob`) on ``context.workers`` processes; a worker's
    exception ends the run here."""
    config = context.config
    fork = sys.platform.startswith("linux") and str(config.device) == "cpu"
    mp_context = multiprocessing.get_context("fork" if fork else "spawn")
    records, counter = mp_context.Queue(), mp_context.Value("i", 0)
    n_threads = max(1, torch.get_num_threads() // context.workers)
    writer = RecordWriter(context.store, context.progress)
    initargs = (config, context.dataset, context.store.root, records, counter, n_threads, context.resume)
    with ProcessPoolExecutor(min(context.workers, len(jobs)), mp_context=mp_context, initializer=_start_worker,
                             initargs=initargs) as pool:
        pending = {pool.submit(_run_job, job) for job in jobs}
        try:
            while pending:
                try:
                    writer.write(records.get(timeout=0.2))
                except queue.Empty:
                    pass
                done, pending = wait(pending, timeout=0, return_when=FIRST_EXCEPTION)
                for future in done:
                    writer.write(future.result())  # a worker's exception ends the run here
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
