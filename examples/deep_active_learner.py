"""modAL's DeepActiveLearner (modAL 0.4.2.1) with COD and TOD on the embedded digits.

DeepActiveLearner trains through ``partial_fit`` on the newly labeled samples only and calls the
net's ``initialize()`` before it has seen any data; ``ALNetClassifier`` builds the module at the
first ``teach`` (sizes from the data) and keeps the COD reference and the TOD snapshot right
under ``partial_fit``. DeepActiveLearner is not in modAL 0.4.1, the release pip resolves with
skorch >= 1.3.1; install 0.4.2.1 without its outdated pins:

    pip install --no-deps "modAL-python==0.4.2.1"
    python examples/deep_active_learner.py
"""
import numpy as np
from modAL.models import DeepActiveLearner

from tod_plugin import ALNetClassifier
from tod_plugin.data import load_dataset
from tod_plugin.hooks import StepSnapshot
from tod_plugin.models import SmallCNN
from tod_plugin.strategies import cod_sampling, tod_sampling


def main(epochs=20, cycles=4, query_size=40, seed=0):
    """Accuracy on the test split after the last cycle, per strategy."""
    data = load_dataset("digits")
    start = np.random.RandomState(seed).choice(len(data.X_train), size=100, replace=False)
    accuracy = {}
    for name, strategy in (("cod", cod_sampling), ("tod", tod_sampling)):
        X_pool, y_pool = np.delete(data.X_train, start, axis=0), np.delete(data.y_train, start)
        net = ALNetClassifier(SmallCNN, classes=np.arange(10), max_epochs=epochs, random_state=seed,
                              callbacks=[StepSnapshot()])
        learner = DeepActiveLearner(estimator=net, query_strategy=strategy)
        learner.teach(data.X_train[start], data.y_train[start])
        for cycle in range(cycles):
            idx, _ = learner.query(X_pool, n_instances=query_size, random_state=seed + cycle)
            learner.teach(X_pool[idx], y_pool[idx])  # more epochs on the new labels, from the current weights
            X_pool, y_pool = np.delete(X_pool, idx, axis=0), np.delete(y_pool, idx)
        accuracy[name] = float(learner.score(data.X_test, data.y_test))
        print(f"{name}: accuracy {accuracy[name]:.3f} after {cycles} queries of {query_size}")
    return accuracy


if __name__ == "__main__":
    main()
