"""The trial x strategy x cycle loop, on modAL's ActiveLearner and the plugin's strategies.

Within a trial every strategy starts from the same initial labeled set and the same network
initialisation (both drawn from ``seed + trial``); the network warm-starts across cycles (TOD
protocol: the optimizer and the LR schedule restart each cycle, MultiStepLR x0.1 at 80% of the
epochs, as 160 of 200 in the papers). The TOD loss (EMA teacher, decay 0.999) draws from the
current unlabeled pool; the LL4AL module stops shaping the backbone after 60% of the epochs
(120 of 200).
"""
import time

import numpy as np
from modAL.models import ActiveLearner
from skorch.callbacks import LRScheduler
from torch.optim.lr_scheduler import MultiStepLR

from ..estimator import ALNetClassifier
from ..hooks import EMATeacher
from ..models import MODELS
from .config import split_strategy
from .strategies import STRATEGIES


def build_net(config, dataset, seed, hooks=(), progress_callbacks=(), auxiliary=("none", None)):
    milestone = max(1, int(round(0.8 * config.epochs)))
    aux_name, aux_weight = auxiliary
    if aux_name == "tod":
        hooks = (*hooks, EMATeacher(decay=0.999))
    return ALNetClassifier(
        MODELS[config.model],
        module__in_channels=dataset.in_channels,
        module__num_classes=dataset.n_classes,
        classes=np.arange(dataset.n_classes),
        max_epochs=config.epochs,
        lr=config.lr,
        batch_size=config.batch_size,
        warm_start=True,
        random_state=seed,
        device=config.device,
        normalize=(dataset.mean, dataset.std),
        crop_padding=dataset.crop_padding,
        hflip=dataset.hflip,
        auxiliary=aux_name,
        aux_weight=aux_weight,
        ll4al_stop_epoch=max(1, int(round(0.6 * config.epochs))),
        callbacks=[("lr_schedule", LRScheduler(MultiStepLR, milestones=[milestone], gamma=0.1, last_epoch=-1)), *hooks,
                   *progress_callbacks],
    )


def run_experiment(config, dataset, store, progress):
    """Run every trial and strategy; each finished cycle is written to ``store`` at once."""
    n_pool = len(dataset.X_train)
    initial, query_size = config.budget(n_pool)
    for trial in range(config.trials):
        seed = config.seed + trial
        initial_rows = np.sort(np.random.RandomState(seed).choice(n_pool, size=initial, replace=False))
        for name in config.strategies:
            run_trial(config, dataset, store, progress, name, trial, seed, initial_rows, query_size)


def run_trial(config, dataset, store, progress, name, trial, seed, initial_rows, query_size):
    spec = STRATEGIES[split_strategy(name)[0]]
    X, y = dataset.X_train, dataset.y_train
    auxiliary = config.auxiliary_for(name)
    net = build_net(config, dataset, seed, spec.make_hooks(), progress.callbacks(), auxiliary)
    uses_pool = auxiliary[0] == "tod"
    labeled = np.zeros(len(X), dtype=bool)
    labeled[initial_rows] = True
    new_rows, query_time = initial_rows, 0.0
    progress.start_fit(name, trial, 0)
    start = time.perf_counter()
    unlabeled = {"X_unlabeled": X[~labeled]} if uses_pool else {}
    learner = ActiveLearner(estimator=net, query_strategy=spec.query, X_training=X[initial_rows],
                            y_training=y[initial_rows], **unlabeled)
    train_time = time.perf_counter() - start
    for cycle in range(config.cycles + 1):
        if cycle > 0:
            pool_rows = np.flatnonzero(~labeled)
            start = time.perf_counter()
            picked, _ = learner.query(X[pool_rows], n_instances=query_size, subset=config.subset,
                                      random_state=np.random.RandomState([seed, cycle]))
            query_time = time.perf_counter() - start
            new_rows = pool_rows[np.asarray(picked)]
            labeled[new_rows] = True
            progress.start_fit(name, trial, cycle)
            start = time.perf_counter()
            unlabeled = {"X_unlabeled": X[~labeled]} if uses_pool else {}
            learner.teach(X[new_rows], y[new_rows], **unlabeled)
            train_time = time.perf_counter() - start
        accuracy = float(learner.score(dataset.X_test, dataset.y_test))
        store.add_query({"strategy": name, "trial": trial, "cycle": cycle, "indices": new_rows.tolist()})
        store.add_result({
            "strategy": name, "auxiliary": auxiliary[0], "trial": trial, "cycle": cycle, "seed": seed,
            "n_labeled": int(labeled.sum()), "accuracy": accuracy,
            "query_time": round(query_time, 4), "train_time": round(train_time, 4),
        })
        progress.end_fit(accuracy)
