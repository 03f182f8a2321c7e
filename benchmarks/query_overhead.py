"""Query time of each strategy / (the forward passes it needs x one ``predict_proba`` pass over the pool).

Run by hand: ``python benchmarks/query_overhead.py [--device cpu|cuda] [--repeats 5]``. Every
strategy and the reference pass are timed side by side in one process on one fitted model (the
digits pool by default: 1,437 - 144 labeled rows), median of ``--repeats`` runs each.

Passes needed, in pool-sized passes: COD and TOD 2 (current + reference model, or main + auxiliary
of the current and the step-snapshot model as the paper scores), LL4AL 1, ST-CoNAL 1 + K (teacher +
K students: the snapshots the fit took), Core-Set 1 + labeled / pool (it needs the labeled rows' features too), BAL and PT4AL
in a later cycle their window of the pool order (window / pool). The rows the network actually saw
during one query are counted too (``seen``, in pool-sized passes): below the need when COD reuses
the reference outputs of an earlier query. BAL and PT4AL are also timed choosing the initial set, which
trains the rotation pretext network (``--pretext-epochs``) once per trial: no target applies there.
Entropy, margin and least confidence need 1 pass, BADGE 1 (features and logits from one pass, then
k-means++ seeding), BALD ``n_samples`` (20 MC-dropout passes, on a net with ``module__dropout=0.3``).
VAAL trains its VAE and discriminator every query (no target); TypiClust and ProbCover train the
pretext network at their first query and later only cluster / cover cached features (0 passes).
"""
import argparse
import statistics
import time

import numpy as np
import torch
from modAL.models import ActiveLearner

from tod_plugin import ALNetClassifier
from tod_plugin.data import load_dataset
from tod_plugin.hooks import EpochSnapshots, StepSnapshot, snapshot_plan
from tod_plugin.models import SmallCNN
from tod_plugin.strategies import (BALSampler, PT4ALSampler, ProbCoverSampler, TypiClustSampler, VAALSampler,
                                   badge_sampling, bald_sampling, cod_sampling, coreset_sampling, entropy_sampling,
                                   least_confidence_sampling, ll4al_sampling, margin_sampling, random_sampling,
                                   stconal_sampling, tod_sampling)


def rows_seen(query):
    """Rows that went through a SmallCNN (any copy: current, reference, snapshots, teacher) in one query."""
    seen = []
    original = SmallCNN.stage_features

    def counting(module, x):
        seen.append(len(x))
        return original(module, x)

    SmallCNN.stage_features = counting
    try:
        query()
    finally:
        SmallCNN.stage_features = original
    return sum(seen)


def median_time(fn, repeats, sync):
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def fitted_learner(dataset, labeled, device, epochs, auxiliary="none", dropout=0.0):
    X, y = dataset.X_train, dataset.y_train
    net = ALNetClassifier(SmallCNN, module__in_channels=dataset.in_channels, module__num_classes=dataset.n_classes,
                          classes=np.arange(dataset.n_classes), max_epochs=epochs, random_state=0, device=device,
                          normalize=(dataset.mean, dataset.std), crop_padding=dataset.crop_padding,
                          auxiliary=auxiliary, warm_start=True, module__dropout=dropout,
                          callbacks=[StepSnapshot(), EpochSnapshots(*snapshot_plan(epochs))])
    return ActiveLearner(estimator=net, X_training=X[labeled], y_training=y[labeled])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--pretext-epochs", type=int, default=10)
    parser.add_argument("--query-size", type=int, default=72)
    args = parser.parse_args()

    dataset = load_dataset("digits")
    n = len(dataset.X_train)
    labeled = np.sort(np.random.RandomState(0).choice(n, size=n // 10, replace=False))
    pool = dataset.X_train[np.setdiff1d(np.arange(n), labeled)]
    learner = fitted_learner(dataset, labeled, args.device, args.epochs)
    ll4al_learner = fitted_learner(dataset, labeled, args.device, args.epochs, auxiliary="ll4al")
    dropout_learner = fitted_learner(dataset, labeled, args.device, args.epochs, dropout=0.3)
    sync = torch.cuda.synchronize if str(args.device).startswith("cuda") else (lambda: None)
    b = args.query_size

    def first_call(sampler):
        """BAL / PT4AL choose the initial set; the others' first call is a query (both train the pretext)."""
        return getattr(sampler, "initial_indices", sampler)

    def fitted_sampler(cls):
        sampler = cls(pretext_epochs=args.pretext_epochs, random_state=0)
        first_call(sampler)(learner, pool, b)  # trains the pretext network; later cycles score a window
        return sampler

    typiclust, probcover = fitted_sampler(TypiClustSampler), fitted_sampler(ProbCoverSampler)

    def first_query(cls):
        return lambda: first_call(cls(pretext_epochs=args.pretext_epochs, random_state=0))(learner, pool, b)

    def later_query(sampler):
        def query():
            sampler.n_queries_, sampler.queried_[:] = 1, False  # replay cycle 1 on the same pool
            sampler(learner, pool, b)
        return query

    queries = {
        "random": lambda: random_sampling(learner, pool, b, random_state=0),
        "cod": lambda: cod_sampling(learner, pool, b),
        "tod": lambda: tod_sampling(learner, pool, b),
        "ll4al": lambda: ll4al_sampling(ll4al_learner, pool, b),
        "stconal": lambda: stconal_sampling(learner, pool, b),
        "coreset": lambda: coreset_sampling(learner, pool, b),
        "bal (later cycle)": later_query(fitted_sampler(BALSampler)),
        "pt4al (later cycle)": later_query(fitted_sampler(PT4ALSampler)),
        "entropy": lambda: entropy_sampling(learner, pool, b),
        "margin": lambda: margin_sampling(learner, pool, b),
        "least-confidence": lambda: least_confidence_sampling(learner, pool, b),
        "badge": lambda: badge_sampling(learner, pool, b, random_state=0),
        "bald (20 MC-dropout samples)": lambda: bald_sampling(dropout_learner, pool, b, random_state=0),
        "typiclust (later query)": lambda: typiclust(learner, pool, b, random_state=0),
        "probcover (later query)": lambda: probcover(learner, pool, b, random_state=0),
        "bal (initial set, pretext training)": first_query(BALSampler),
        "pt4al (initial set, pretext training)": first_query(PT4ALSampler),
        "typiclust (first query, pretext training)": first_query(TypiClustSampler),
        "probcover (first query, pretext training)": first_query(ProbCoverSampler),
        "vaal (first query, trains VAE + D: 10 epochs)": lambda: VAALSampler(random_state=0)(learner, pool, b),
    }
    n_pool, n_students = len(pool), len(learner.estimator.hook(EpochSnapshots).students_)
    needed = {"random": 0, "cod": 2, "tod": 2, "ll4al": 1, "stconal": 1 + n_students,
              "coreset": 1 + len(labeled) / n_pool, "entropy": 1, "margin": 1, "least-confidence": 1, "badge": 1,
              "bald (20 MC-dropout samples)": 20}
    warm_up = [fn for name, fn in queries.items() if "first query" not in name]  # those train for minutes
    for fn in (lambda: learner.predict_proba(pool), *warm_up):
        fn()
    print(f"device {args.device}, pool {n_pool}, query size {b}, {torch.get_num_threads()} threads, "
          f"median of {args.repeats}")
    print(f"{'strategy':40s} {'query/predict':>13s} {'passes needed':>13s} {'seen':>6s} {'ratio':>6s}")
    for name, query in queries.items():
        repeats = 1 if "initial set" in name else args.repeats
        seen = rows_seen(query) / n_pool
        passes = needed.get(name, seen)  # BAL / PT4AL: the window they score; TypiClust / ProbCover: 0
        reference = median_time(lambda: learner.predict_proba(pool), args.repeats, sync)
        cost = median_time(query, repeats, sync)
        ratio = f"{cost / reference / passes:6.2f}" if passes and "initial set" not in name else "     -"
        print(f"{name:40s} {cost / reference:13.2f} {passes:13.2f} {seen:6.2f} {ratio}   "
              f"({1000 * cost:.1f} ms / {1000 * reference:.1f} ms)")


if __name__ == "__main__":
    main()
