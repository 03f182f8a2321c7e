"""A cold start on the embedded digits: 20 labels, then the budget-aware strategy and the baselines.

``BudgetAwareSampler`` asks TypiClust (typical points of uncovered clusters in the rotation pretext's
feature space) while the labeled set has fewer than 10 labels per class, BADGE afterwards. The
others are the papers' baselines, each a modAL query strategy.

    python examples/low_budget.py
"""
import numpy as np
from modAL.models import ActiveLearner

from tod_plugin import ALNetClassifier
from tod_plugin.data import load_dataset
from tod_plugin.models import SmallCNN
from tod_plugin.strategies import (BudgetAwareSampler, ProbCoverSampler, TypiClustSampler, VAALSampler, badge_sampling,
                                   bald_sampling, entropy_sampling, least_confidence_sampling, margin_sampling)


def strategies(seed, pretext_epochs):
    """Name -> a query strategy; the stateful samplers are made per run."""
    return {
        # TypiClust below 10 labels per class, then BADGE (the default high_budget)
        "auto": BudgetAwareSampler(TypiClustSampler(pretext_epochs=pretext_epochs, random_state=seed)),
        "probcover": ProbCoverSampler(pretext_epochs=pretext_epochs, random_state=seed),
        "vaal": VAALSampler(epochs=2, random_state=seed),
        "bald": bald_sampling,  # needs module__dropout > 0 (below)
        "badge": badge_sampling,
        "entropy": entropy_sampling,
        "margin": margin_sampling,
        "least-confidence": least_confidence_sampling,
    }


def main(epochs=30, cycles=3, query_size=20, seed=0):
    data = load_dataset("digits")
    start = np.random.RandomState(seed).choice(len(data.X_train), size=20, replace=False)
    accuracies = {}
    for name, strategy in strategies(seed, pretext_epochs=epochs).items():
        X_pool, y_pool = np.delete(data.X_train, start, axis=0), np.delete(data.y_train, start)
        net = ALNetClassifier(SmallCNN, module__in_channels=1, module__num_classes=10, module__dropout=0.3,
                              classes=np.arange(10), max_epochs=epochs, lr=0.05, warm_start=True, random_state=seed)
        learner = ActiveLearner(estimator=net, query_strategy=strategy, X_training=data.X_train[start],
                                y_training=data.y_train[start])
        for cycle in range(cycles):
            idx, _ = learner.query(X_pool, n_instances=query_size, random_state=seed + cycle)
            learner.teach(X_pool[idx], y_pool[idx])
            X_pool, y_pool = np.delete(X_pool, idx, axis=0), np.delete(y_pool, idx)
        accuracies[name] = learner.score(data.X_test, data.y_test)
        print(f"{name:>16}: {len(learner.y_training)} labels, accuracy {accuracies[name]:.3f}")
    return float(np.mean(list(accuracies.values())))


if __name__ == "__main__":
    main()
