"""BAL with modAL, as its reference runs it: the sampler chooses the first labels too.

    python examples/bal_modal.py

``initial_indices`` trains the rotation pretext on the pool, orders it by CDD and returns the
first labels (cycle 0); every ``learner.query`` after that is a window query scored by the model.
The same two lines work for ``PT4ALSampler``.
"""
import numpy as np
from modAL.models import ActiveLearner

from tod_plugin import ALNetClassifier
from tod_plugin.data import load_dataset
from tod_plugin.models import SmallCNN
from tod_plugin.strategies import BALSampler


def main(epochs=30, cycles=5, query_size=40, n_initial=140, pretext_epochs=120, seed=0):
    data = load_dataset("digits")
    X_pool, y_pool = data.X_train, data.y_train
    net = ALNetClassifier(SmallCNN, module__in_channels=1, module__num_classes=10, classes=np.arange(10),
                          max_epochs=epochs, lr=0.05, warm_start=True, random_state=seed)
    sampler = BALSampler(beta=1.2, pretext_epochs=pretext_epochs, random_state=seed)

    first = sampler.initial_indices(net, X_pool, n_initial)
    learner = ActiveLearner(estimator=net, query_strategy=sampler, X_training=X_pool[first], y_training=y_pool[first])

    X_pool, y_pool = np.delete(X_pool, first, axis=0), np.delete(y_pool, first)
    accuracy = learner.score(data.X_test, data.y_test)
    print(f"{len(learner.y_training):4d} labels: accuracy {accuracy:.3f}")
    for _ in range(cycles):
        idx, _ = learner.query(X_pool, n_instances=query_size)
        learner.teach(X_pool[idx], y_pool[idx])
        X_pool, y_pool = np.delete(X_pool, idx, axis=0), np.delete(y_pool, idx)
        accuracy = learner.score(data.X_test, data.y_test)
        print(f"{len(learner.y_training):4d} labels: accuracy {accuracy:.3f}")
    return accuracy


if __name__ == "__main__":
    main()
