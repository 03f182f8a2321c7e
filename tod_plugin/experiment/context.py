"""What a back-end runs: the (trial, strategy) jobs of a run, and the context every job shares."""
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ..data.spec import ImageDataset
from .config import RunConfig


class TrialJob(NamedTuple):
    """One (trial, strategy): ``key`` = (trial, strategy's place in the settings), its ``seed`` and
    the rows of its random initial labeled set."""

    key: tuple
    strategy: str
    seed: int
    initial_rows: np.ndarray


@dataclass(frozen=True)
class RunContext:
    """What every job of a run reads: the settings (:class:`~.config.RunConfig`), the dataset, the
    run folder (a :class:`~.store.RunStore`, or a worker's forwarding store), the progress display,
    whether jobs continue after their checkpoints (``resume``), and the back-end: ``ray`` (tasks of
    the connected Ray, ``workers`` at once), else ``workers`` > 1 processes, else this process."""

    config: RunConfig
    dataset: ImageDataset
    store: object
    progress: object
    resume: bool = False
    workers: int = 1
    ray: bool = False

    @property
    def query_size(self):
        """Labels added per cycle, as a count of the pool."""
        return self.config.budget(len(self.dataset.X_train))[1]


def trial_jobs(config, n_pool):
    """The :class:`TrialJob` of every (trial, strategy), in the sequential order: trial ``t`` seeds
    ``config.seed + t`` and draws its initial set from it, the same for every strategy."""
    initial, _ = config.budget(n_pool)
    for trial in range(config.trials):
        seed = config.seed + trial
        initial_rows = np.sort(np.random.RandomState(seed).choice(n_pool, size=initial, replace=False))
        for index, name in enumerate(config.strategies):
            yield TrialJob((trial, index), name, seed, initial_rows)
