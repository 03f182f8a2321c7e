"""Back-ends that run a run's (trial, strategy) jobs: in this process (``sequential``), in worker
processes (``processes``) or as Ray tasks (``ray``). Each runs the trial body ``loop.run_job`` on
every job and gives the same records; :func:`run` is the one place that picks one."""
from ..context import RunContext, trial_jobs
from . import processes, sequential
from . import ray as ray_tasks


def run(jobs, context):
    """Run ``jobs`` (:class:`~..context.TrialJob`) in ``context`` (:class:`~..context.RunContext`): as
    Ray tasks when ``context.ray``, else on ``context.workers`` processes when more than one, else
    here, one after the other."""
    if context.ray:
        return ray_tasks.run(jobs, context)
    if context.workers > 1:
        return processes.run(jobs, context)
    return sequential.run(jobs, context)


def run_experiment(config, dataset, store, progress, resume=False, workers=1, ray=False):
    """Run every trial and strategy of ``config`` on ``dataset`` into ``store`` (a :class:`~..store.RunStore`);
    each finished cycle is checkpointed and written at once.

    With ``resume`` each (trial, strategy) continues after its newest intact checkpoint. With
    ``workers`` > 1 the jobs run in that many processes; with ``ray`` they run as tasks of the
    connected Ray, ``workers`` at once.
    """
    jobs = list(trial_jobs(config, len(dataset.X_train)))
    run(jobs, RunContext(config, dataset, store, progress, resume, workers, ray))
