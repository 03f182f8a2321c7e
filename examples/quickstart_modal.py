"""modAL quick start: COD sampling with an ALNetClassifier on the embedded digits.

    python examples/quickstart_modal.py
"""
import numpy as np
from modAL.models import ActiveLearner

from tod_plugin import ALNetClassifier
from tod_plugin.data import load_dataset
from tod_plugin.models import LayoutCNN
from tod_plugin.strategies import cod_sampling


def main(epochs=30, cycles=5, query_size=20, seed=0):
    data = load_dataset("digits")
    rng = np.random.RandomState(seed)
    start = rng.choice(len(data.X_train), size=100, replace=False)
    X0, y0 = data.X_train[start], data.y_train[start]
    X_pool, y_pool = np.delete(data.X_train, start, axis=0), np.delete(data.y_train, start)

    net = ALNetClassifier(LayoutCNN, module__in_channels=1, module__num_classes=10, classes=np.arange(10),
                          max_epochs=epochs, lr=0.05, warm_start=True, random_state=seed)
    learner = ActiveLearner(estimator=net, query_strategy=cod_sampling, X_training=X0, y_training=y0)
    print(f"{len(learner.y_training):4d} labels: accuracy {learner.score(data.X_test, data.y_test):.3f}")
    for cycle in range(cycles):
        idx, _ = learner.query(X_pool, n_instances=query_size, random_state=seed + cycle)
        learner.teach(X_pool[idx], y_pool[idx])
        X_pool, y_pool = np.delete(X_pool, idx, axis=0), np.delete(y_pool, idx)
        accuracy = learner.score(data.X_test, data.y_test)
        print(f"{len(learner.y_training):4d} labels: accuracy {accuracy:.3f}")
    return accuracy


if __name__ == "__main__":
    main()
