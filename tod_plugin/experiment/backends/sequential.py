"""The sequential back-end: every job in this process, one after the other."""
from ..loop import run_job


def run(jobs, context):
    """Run ``jobs`` (:class:`~..context.TrialJob`) in order in this process."""
    for job in jobs:
        run_job(context, job)
