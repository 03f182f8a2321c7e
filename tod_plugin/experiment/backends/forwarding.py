"""Records of jobs run away from the parent (processes, Ray tasks): the worker's side sends them,
the parent's side writes them to the run folder.

A worker writes its own checkpoints and pool caches (one file per job) under the run folder and
sends its records after every cycle; only the parent writes results.jsonl / queries.jsonl, in the
canonical order. A job's final records also come back with its result, so none is lost to the
queue's timing.
"""
from pathlib import Path

from ..context import RunContext
from ..loop import run_job
from ..progress import Progress


class ForwardingStore:
    """The run folder as a worker sees it: files of its own job, records sent to the parent through
    ``records`` (a queue with ``put``)."""

    def __init__(self, root, records):
        self.root = Path(root)
        self.checkpoints = self.root / "checkpoints"
        self.records = records
        self.last = None

    def set_records(self, key, results, queries):
        self.last = (key, list(results), list(queries))
        self.records.put(self.last)


def run_forwarded(config, dataset, root, records, job, resume):
    """One :class:`~..context.TrialJob` away from the parent, without a progress display, its records
    sent through ``records``; returns its final records ``(key, results, queries)``."""
    store = ForwardingStore(root, records)
    progress = Progress(0, config.trials, config.cycles, enabled=False)
    run_job(RunContext(config, dataset, store, progress, resume), job)
    return store.last


class RecordWriter:
    """The parent's side: writes each job's newest records to the run folder and advances the
    progress display by the cycles it has not shown yet."""

    def __init__(self, store, progress):
        self.store, self.progress = store, progress
        self.written = {}  # job key -> number of result records written

    def write(self, update):
        """Write a job's ``(key, results, queries)`` unless a newer update of that job was written already."""
        key, results, queries = update
        if key in self.written and len(results) <= self.written[key]:
            return
        self.store.set_records(key, results, queries)
        for record in results[self.written.get(key, 0):]:
            self.progress.start_fit(record["strategy"], record["trial"], record["cycle"])
            self.progress.end_fit(record["accuracy"])
        self.written[key] = len(results)
