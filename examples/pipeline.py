"""scikit-learn integration: a Pipeline ending in ALNetClassifier, queried by a plugin strategy,
and a grid search over the learning rate.

    python examples/pipeline.py
"""
import numpy as np
from modAL.models import ActiveLearner
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from tod_plugin import ALNetClassifier
from tod_plugin.data import load_dataset
from tod_plugin.models import MLP
from tod_plugin.strategies import cod_sampling


def flatten(images):
    return images.reshape(len(images), -1).astype(np.float32) / 255.0


def main(epochs=40, cycles=3, query_size=30, seed=0):
    data = load_dataset("digits")
    net = ALNetClassifier(MLP, classes=np.arange(10), max_epochs=epochs, lr=0.05, random_state=seed)
    pipe = make_pipeline(FunctionTransformer(flatten), net)

    search = GridSearchCV(pipe, {"alnetclassifier__lr": [0.02, 0.1]}, cv=3)
    search.fit(data.X_train[:300], data.y_train[:300])
    print("best lr:", search.best_params_)

    X_pool, y_pool = data.X_train[300:], data.y_train[300:]
    learner = ActiveLearner(estimator=search.best_estimator_, query_strategy=cod_sampling,
                            X_training=data.X_train[:300], y_training=data.y_train[:300])
    for cycle in range(cycles):
        idx, _ = learner.query(X_pool, n_instances=query_size, random_state=seed + cycle)
        learner.teach(X_pool[idx], y_pool[idx])
        X_pool, y_pool = np.delete(X_pool, idx, axis=0), np.delete(y_pool, idx)
    accuracy = learner.score(data.X_test, data.y_test)
    print(f"{len(learner.y_training)} labels: accuracy {accuracy:.3f}")
    return accuracy


if __name__ == "__main__":
    main()
