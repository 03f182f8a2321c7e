"""The trial body: one (trial, strategy) job cycle by cycle on modAL's ActiveLearner and the plugin's
strategies (``run_job``, what every back-end runs), and the learner it builds from the settings.

Within a trial every strategy starts from the same network initialisation and, except BAL and
PT4AL, from the same random initial labeled set (both drawn from ``seed + trial``). BAL and PT4AL
choose an initial set of that size themselves, as their references do (``initial_indices``: the
first items of the CDD order; evenly spaced items of the first loss batch). The network
warm-starts across cycles (TOD protocol: the optimizer and the LR schedule restart each cycle,
MultiStepLR x0.1 at ``milestones``, by default at 80% of the epochs, as 160 of 200 in the papers;
``lr_schedule`` offers constant and cosine restarts too). ST-CoNAL re-initialises the network every
cycle instead (``reinit``); BAL and PT4AL get a fresh sampler per trial that caches its pool order
in ``<run>/cache/``. The TOD loss (EMA teacher, decay 0.999) draws from the current unlabeled pool;
the LL4AL module stops shaping the backbone after epoch index 60% of the epochs (``epoch > 120``
of 200, as the reference).
"""
import time

import numpy as np
from modAL.models import ActiveLearner
from ..auxiliary import resolve_auxiliary
from ..data import load_dataset
from ..estimator import ALNetClassifier
from ..hooks import snapshot_plan
from ..lr_schedules import lr_scheduler
from ..models import MODELS
from ..pool import PoolView
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint, settings_digest
from .config import RunConfig, split_strategy
from .learner_state import learner_state, restore_learner, training_rows
from .state_codec import StateFormatError
from .store import RunStore
from .strategies import STRATEGIES


def model_options(config, strategy=None):
    """Module keyword arguments from the settings: the ImageNet weights file of resnet18-imagenet,
    whether its backbone is frozen, and the dropout before the classifier (``--dropout``, else the
    strategy's: 0.3 for BALD, none otherwise)."""
    options = {"module__pretrained": config.pretrained} if config.pretrained is not None else {}
    if config.freeze_backbone:
        options["module__freeze_backbone"] = True
    dropout = config.dropout_for(strategy) if strategy is not None else 0.0
    return {**options, "module__dropout": dropout} if dropout else options


def build_net(config, dataset, seed, hooks=(), progress_callbacks=(), auxiliary=("none", None), warm_start=True,
              strategy=None):
    aux_name, aux_weight = auxiliary
    schedule = lr_scheduler(config.lr_schedule, config.epochs, config.milestones, *snapshot_plan(config.epochs))
    hooks = (*hooks, *resolve_auxiliary(aux_name).make_hooks())  # TOD: its EMA teacher (decay 0.999)
    return ALNetClassifier(
        MODELS[config.model],
        module__in_channels=dataset.in_channels,
        module__num_classes=dataset.n_classes,
        **model_options(config, strategy),
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


def run_job(context, job):
    """Run one :class:`~.context.TrialJob` in ``context`` (:class:`~.context.RunContext`), after its newest
    intact checkpoint when ``context.resume``: the body every back-end runs."""
    checkpoint = None
    if context.resume:
        settings = settings_digest(context.config.to_dict())
        checkpoint = load_checkpoint(context.store.checkpoints, job.strategy, job.key[0], settings)
    run_trial(context, job, checkpoint)


def run_trial(context, job, checkpoint=None):
    """Cycles of one (trial, strategy) ``job``: cycle 0 fits the initial set, each later cycle queries and
    teaches; every cycle is checkpointed and its records written at once. ``checkpoint``: the
    ``(document, tensors)`` of ``load_checkpoint`` to continue after."""
    config, dataset, store, progress = context.config, context.dataset, context.store, context.progress
    key, name, seed, initial_rows = job
    trial, query_size = key[0], context.query_size
    spec = STRATEGIES[split_strategy(name)[0]]
    X, y = dataset.X_train, dataset.y_train
    auxiliary = config.auxiliary_for(name)
    uses_pool = resolve_auxiliary(auxiliary[0]).uses_pool
    settings = settings_digest(config.to_dict())
    labeled = np.zeros(len(X), dtype=bool)
    if checkpoint is None:
        learner, results, queries, first = None, [], [], 0
    else:
        document = checkpoint[0]
        results, queries, first = document["results"], document["queries"], document["cycle"] + 1
        learner = restored_learner(config, dataset, store.root, name, trial, checkpoint, progress.callbacks())
        labeled[training_rows(queries, len(X))] = True
        progress.skip(first)
        store.set_records(key, results, queries)
    for cycle in range(first, config.cycles + 1):
        query_time = 0.0
        if cycle == 0:
            learner = new_learner(config, dataset, store.root, name, trial, progress.callbacks())
            new_rows = initial_rows
            if spec.own_initial:  # BAL, PT4AL: the method chooses its first labels (pretext training included)
                start = time.perf_counter()
                new_rows = np.sort(learner.query_strategy.initial_indices(learner.estimator, X, len(initial_rows)))
                query_time = time.perf_counter() - start
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
        learner.teach(X[new_rows], y[new_rows], **unlabeled)  # cycle 0: the first fit
        train_time = time.perf_counter() - start
        accuracy = float(learner.score(dataset.X_test, dataset.y_test))
        queries.append({"strategy": name, "trial": trial, "cycle": cycle, "indices": new_rows.tolist()})
        results.append({
            "strategy": name, "auxiliary": auxiliary[0], "trial": trial, "cycle": cycle, "seed": seed,
            "n_labeled": int(labeled.sum()), "accuracy": accuracy,
            "query_time": round(query_time, 4), "train_time": round(train_time, 4),
        })
        tensors = {}
        document = {"results": results, "queries": queries, "learner": learner_state(learner, tensors)}
        save_checkpoint(store.checkpoints, name, trial, cycle, settings, document, tensors)
        store.set_records(key, results, queries)
        progress.end_fit(accuracy)


def new_learner(config, dataset, root, name, trial, progress_callbacks=()):
    """The modAL learner of strategy ``name`` in ``trial`` as the run builds it at cycle 0, not fitted
    (its first ``teach`` is the first fit)."""
    spec = STRATEGIES[split_strategy(name)[0]]
    seed = config.seed + trial
    net = build_net(config, dataset, seed, spec.make_hooks(config), progress_callbacks, config.auxiliary_for(name),
                    warm_start=not config.reinit_for(name), strategy=name)
    query = spec.make_query(config, seed, root / "cache" / f"{name}_trial{trial}.npz", len(dataset.X_train))
    return ActiveLearner(estimator=net, query_strategy=query)


def restored_learner(config, dataset, root, name, trial, checkpoint, progress_callbacks=()):
    """The learner of a checkpoint (``load_checkpoint``'s ``(document, tensors)``), rebuilt from the settings."""
    document, tensors = checkpoint
    learner = new_learner(config, dataset, root, name, trial, progress_callbacks)
    try:
        return restore_learner(learner, document["learner"], tensors, dataset.X_train, dataset.y_train,
                               training_rows(document["queries"], len(dataset.X_train)))
    except (StateFormatError, KeyError, TypeError) as exc:
        raise CheckpointError(f"the checkpoint of {name} trial {trial} cycle {document.get('cycle')} in {root} does "
                              f"not fit this run ({exc}); remove it to train that cycle again") from None


def load_learner(run_dir, strategy, trial=0):
    """The modAL learner of ``strategy`` in ``trial`` of a run folder as of its newest checkpoint, rebuilt
    from config.json and the data it names (None before the first checkpoint)::

        learner = load_learner("runs/demo", "cod")
        learner.estimator.predict(X)
    """
    store = RunStore(run_dir)
    config = RunConfig.from_dict(store.open())
    checkpoint = load_checkpoint(store.checkpoints, strategy, trial, settings_digest(config.to_dict()))
    if checkpoint is None:
        return None
    dataset = load_dataset(config.dataset, config.data_dir, config.download, config.image_size)
    return restored_learner(config, dataset, store.root, strategy, trial, checkpoint)
