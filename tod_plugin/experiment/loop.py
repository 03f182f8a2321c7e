"""The trial x strategy x cycle loop, on modAL's ActiveLearner and the plugin's strategies.

Within a trial every strategy starts from the same initial labeled set and the same network
initialisation (both drawn from ``seed + trial``); the network warm-starts across cycles (TOD
protocol: the optimizer and the LR schedule restart each cycle, MultiStepLR x0.1 at ``milestones``,
by default at 80% of the epochs, as 160 of 200 in the papers; ``lr_schedule`` offers constant and
cosine restarts too). ST-CoNAL re-initialises the network every cycle instead (``reinit``); BAL and
PT4AL get a fresh sampler per trial that caches its pool order in ``<run>/cache/``. The TOD loss (EMA teacher, decay
0.999) draws from the current unlabeled pool; the LL4AL module stops shaping the backbone after
60% of the epochs (120 of 200).
"""
import time

import numpy as np
from modAL.models import ActiveLearner
from ..estimator import ALNetClassifier
from ..hooks import EMATeacher, snapshot_plan
from ..lr_schedules import lr_scheduler
from ..models import MODELS
from ..pool import PoolView
from .checkpoint import load_checkpoint, save_checkpoint
from .config import split_strategy
from .strategies import STRATEGIES


def model_options(config):
    """Module keyword arguments from the settings: the ImageNet weights file of resnet18-imagenet."""
    return {"module__pretrained": config.pretrained} if config.pretrained is not None else {}


def build_net(config, dataset, seed, hooks=(), progress_callbacks=(), auxiliary=("none", None), warm_start=True):
    aux_name, aux_weight = auxiliary
    schedule = lr_scheduler(config.lr_schedule, config.epochs, config.milestones, *snapshot_plan(config.epochs))
    if aux_name == "tod":
        hooks = (*hooks, EMATeacher(decay=0.999))
    return ALNetClassifier(
        MODELS[config.model],
        module__in_channels=dataset.in_channels,
        module__num_classes=dataset.n_classes,
        **model_options(config),
        classes=np.arange(dataset.n_classes),
        max_epochs=config.epochs,
        lr=config.lr,
        batch_size=config.batch_size,
        warm_start=warm_start,
        random_state=seed,
        device=config.device,
        normalize=(dataset.mean, dataset.std),
        crop_padding=dataset.crop_padding,
        hflip=dataset.hflip,
        auxiliary=aux_name,
        aux_weight=aux_weight,
        ll4al_stop_epoch=max(1, int(round(0.6 * config.epochs))),
        precision=config.precision,
        compile=config.compile,
        callbacks=[*([("lr_schedule", schedule)] if schedule is not None else []), *hooks, *progress_callbacks],
    )


def trial_jobs(config, n_pool):
    """``(key, strategy, seed, initial_rows)`` of every (trial, strategy), in the sequential order."""
    initial, _ = config.budget(n_pool)
    for trial in range(config.trials):
        seed = config.seed + trial
        initial_rows = np.sort(np.random.RandomState(seed).choice(n_pool, size=initial, replace=False))
        for index, name in enumerate(config.strategies):
            yield (trial, index), name, seed, initial_rows


def run_experiment(config, dataset, store, progress, resume=False, workers=1, ray=False):
    """Run every trial and strategy; each finished cycle is checkpointed and written at once.

    With ``resume`` each (trial, strategy) continues after its newest intact checkpoint. With
    ``workers`` > 1 the (trial, strategy) jobs run in that many processes (``workers.run_parallel``);
    with ``ray`` they run as tasks of the connected Ray, ``workers`` at once (``ray_workers.run_on_ray``).
    """
    _, query_size = config.budget(len(dataset.X_train))
    jobs = list(trial_jobs(config, len(dataset.X_train)))
    if ray:
        from .ray_workers import run_on_ray

        return run_on_ray(config, dataset, store, progress, jobs, query_size, resume, workers)
    if workers > 1:
        from .workers import run_parallel

        return run_parallel(config, dataset, store, progress, jobs, query_size, resume, workers)
    for key, name, seed, initial_rows in jobs:
        checkpoint = load_checkpoint(store.checkpoints, name, key[0]) if resume else None
        run_trial(config, dataset, store, progress, key, name, seed, initial_rows, query_size, checkpoint)


def run_trial(config, dataset, store, progress, key, name, seed, initial_rows, query_size, checkpoint=None):
    """Cycles of one (trial, strategy): cycle 0 fits the initial set, each later cycle queries and teaches."""
    trial = key[0]
    spec = STRATEGIES[split_strategy(name)[0]]
    X, y = dataset.X_train, dataset.y_train
    auxiliary = config.auxiliary_for(name)
    uses_pool = auxiliary[0] == "tod"
    if checkpoint is None:
        learner, labeled, results, queries, first = None, np.zeros(len(X), dtype=bool), [], [], 0
    else:
        learner, labeled = checkpoint["learner"], checkpoint["labeled"]
        results, queries, first = checkpoint["results"], checkpoint["queries"], checkpoint["cycle"] + 1
        progress.attach(learner.estimator)
        progress.skip(first)
        store.set_records(key, results, queries)
    for cycle in range(first, config.cycles + 1):
        query_time = 0.0
        if cycle == 0:
            new_rows = initial_rows
        else:
            pool_rows = np.flatnonzero(~labeled)
            start = time.perf_counter()
            picked, _ = learner.query(PoolView(X, pool_rows), n_instances=query_size, subset=config.subset,
                                      random_state=np.random.RandomState([seed, cycle]))
            query_time = time.perf_counter() - start
            new_rows = pool_rows[np.asarray(picked)]
        labeled[new_rows] = True
        unlabeled = {"X_unlabeled": PoolView(X, np.flatnonzero(~labeled))} if uses_pool else {}
        progress.start_fit(name, trial, cycle)
        start = time.perf_counter()
        if cycle == 0:
            net = build_net(config, dataset, seed, spec.make_hooks(config), progress.callbacks(), auxiliary,
                            warm_start=not config.reinit_for(name))
            query = spec.make_query(config, seed, store.root / "cache" / f"{name}_trial{trial}.npz")
            learner = ActiveLearner(estimator=net, query_strategy=query, X_training=X[new_rows],
                                    y_training=y[new_rows], **unlabeled)
        else:
            learner.teach(X[new_rows], y[new_rows], **unlabeled)
        train_time = time.perf_counter() - start
        accuracy = float(learner.score(dataset.X_test, dataset.y_test))
        queries.append({"strategy": name, "trial": trial, "cycle": cycle, "indices": new_rows.tolist()})
        results.append({
            "strategy": name, "auxiliary": auxiliary[0], "trial": trial, "cycle": cycle, "seed": seed,
            "n_labeled": int(labeled.sum()), "accuracy": accuracy,
            "query_time": round(query_time, 4), "train_time": round(train_time, 4),
        })
        save_checkpoint(store.checkpoints, name, trial, cycle, {
            "learner": learner, "labeled": labeled, "cycle": cycle, "results": results, "queries": queries,
        })
        store.set_records(key, results, queries)
        progress.end_fit(accuracy)
