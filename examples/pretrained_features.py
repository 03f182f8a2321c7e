"""Frozen ImageNet features on a CPU: a Pipeline of PretrainedFeatures and a small MLP head,
queried by Core-Set; each pool image goes through the ResNet-18 once, whatever the cycles.

    python examples/pretrained_features.py resnet18-f37072fd.pth   # torchvision's ImageNet weights, a local file
"""
import sys

import numpy as np
from modAL.models import ActiveLearner
from sklearn.pipeline import Pipeline

from tod_plugin import ALNetClassifier
from tod_plugin.data import load_dataset
from tod_plugin.features import PretrainedFeatures
from tod_plugin.models import MLP
from tod_plugin.strategies import coreset_sampling


def main(weights, epochs=50, cycles=4, query_size=40, image_size=32, seed=0):
    data = load_dataset("digits")
    rng = np.random.RandomState(seed)
    start = rng.choice(len(data.X_train), size=100, replace=False)
    X0, y0 = data.X_train[start], data.y_train[start]
    X_pool, y_pool = np.delete(data.X_train, start, axis=0), np.delete(data.y_train, start)

    features = PretrainedFeatures(weights=weights, image_size=image_size)  # 8x8 digits enlarged to 32x32
    pipe = Pipeline([("features", features),
                     ("net", ALNetClassifier(MLP, module__hidden=128, classes=np.arange(10), max_epochs=epochs,
                                             lr=0.05, random_state=seed))])
    learner = ActiveLearner(estimator=pipe, query_strategy=coreset_sampling, X_training=X0, y_training=y0)
    for cycle in range(cycles):
        idx, _ = learner.query(X_pool, n_instances=query_size, random_state=seed + cycle)
        learner.teach(X_pool[idx], y_pool[idx])
        X_pool, y_pool = np.delete(X_pool, idx, axis=0), np.delete(y_pool, idx)
    accuracy = learner.score(data.X_test, data.y_test)
    cache = features.cache_
    print(f"{len(learner.y_training)} labels: accuracy {accuracy:.3f}; features computed for {cache.computed} "
          f"images, reused {cache.reused} times")
    return accuracy


if __name__ == "__main__":
    main(sys.argv[1])
