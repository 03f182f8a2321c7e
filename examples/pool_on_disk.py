"""A pool larger than memory: the pool lives in a memory-mapped .npy file and each query gets a
lazy PoolView of the unlabeled rows, so neither the pool nor a copy of it is ever in memory.
COD's output cache is a CODSampler's visible state, saved with the labels after each cycle (as a
checkpoint would) and read back before the next query.

    python examples/pool_on_disk.py
"""
import io
import tempfile
from pathlib import Path

import numpy as np
import torch
from modAL.models import ActiveLearner

from tod_plugin import ALNetClassifier, PoolView
from tod_plugin.atomic import atomic_write_bytes
from tod_plugin.data import load_dataset
from tod_plugin.models import SmallCNN
from tod_plugin.strategies import CODSampler


def main(epochs=30, cycles=5, query_size=20, seed=0):
    data = load_dataset("digits")
    with tempfile.TemporaryDirectory() as folder:
        np.save(Path(folder) / "pool.npy", data.X_train)  # stands for a pool written once, e.g. by a decoder
        X = np.load(Path(folder) / "pool.npy", mmap_mode="r", allow_pickle=False)
        labeled = np.zeros(len(X), dtype=bool)
        labeled[np.random.RandomState(seed).choice(len(X), size=100, replace=False)] = True
        net = ALNetClassifier(SmallCNN, module__in_channels=1, module__num_classes=10, classes=np.arange(10),
                              max_epochs=epochs, lr=0.05, warm_start=True, random_state=seed)
        sampler = CODSampler()
        learner = ActiveLearner(estimator=net, query_strategy=sampler, X_training=X[labeled],
                                y_training=data.y_train[labeled])
        cache = Path(folder) / "cod_cache.pt"
        for cycle in range(cycles):
            if cache.exists():  # resuming: the outputs of the previous query's model, tensors only
                sampler.load_state_dict(torch.load(cache, weights_only=True))
            unlabeled = np.flatnonzero(~labeled)
            idx, _ = learner.query(PoolView(X, unlabeled), n_instances=query_size, random_state=seed + cycle)
            new = unlabeled[idx]  # positions in the view -> rows of the file
            labeled[new] = True
            learner.teach(X[np.sort(new)], data.y_train[np.sort(new)])
            buffer = io.BytesIO()
            torch.save(sampler.state_dict(), buffer)
            atomic_write_bytes(cache, buffer.getvalue())
            accuracy = learner.score(data.X_test, data.y_test)
            print(f"{labeled.sum():4d} labels: accuracy {accuracy:.3f}")
        del X, learner  # release the file before the folder goes
    return accuracy


if __name__ == "__main__":
    main()
