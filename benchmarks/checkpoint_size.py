"""Checkpoint size of the CIFAR ResNet-18 learner: the data format (``torch.save`` tensors read with
``weights_only=True`` + JSON) against the former pickle of the whole modAL learner.

Builds the learner of ``tod-al run --model resnet18`` on synthetic CIFAR-shaped data (no download),
fits one epoch on 64 labeled images (a cycle of 5000 labeled images would add 15 MB of images to
the pickle and nothing to the new format, which rebuilds the training set from the queried indices),
and prints both sizes per strategy.

    python benchmarks/checkpoint_size.py
"""
import hashlib
import pickle
import tempfile
from pathlib import Path

import numpy as np
from modAL.models import ActiveLearner

from tod_plugin.experiment.checkpoint import save_checkpoint
from tod_plugin.experiment.config import RunConfig
from tod_plugin.experiment.learner_state import learner_state
from tod_plugin.experiment.loop import build_net
from tod_plugin.experiment.strategies import STRATEGIES

from synthetic import cifar_like


def sizes(strategy, dataset, rows):
    config = RunConfig(dataset="cifar10", model="resnet18", epochs=1, device="cpu", strategies=(strategy,))
    spec = STRATEGIES[strategy.split("+")[0]]
    auxiliary = config.auxiliary_for(strategy)
    net = build_net(config, dataset, 0, spec.make_hooks(config), (), auxiliary)
    unlabeled = {"X_unlabeled": dataset.X_train[64:256]} if auxiliary[0] == "tod" else {}
    learner = ActiveLearner(estimator=net, query_strategy=spec.query, X_training=dataset.X_train[rows],
                            y_training=dataset.y_train[rows], **unlabeled)
    records = {"results": [], "queries": [{"indices": rows.tolist()}]}
    old = pickle.dumps({"learner": learner, "labeled": np.zeros(len(dataset.X_train), bool), "cycle": 0, **records},
                       protocol=pickle.HIGHEST_PROTOCOL)
    with tempfile.TemporaryDirectory() as folder:
        tensors = {}
        document = {**records, "learner": learner_state(learner, tensors)}
        save_checkpoint(Path(folder), strategy, 0, 0, "settings", document, tensors)
        new = next(Path(folder).glob("*.ckpt")).stat().st_size
    return len(hashlib.sha256(old).digest() + old), new


def main():
    dataset = cifar_like(256, n_test=10)
    rows = np.arange(64)
    print(f"{'strategy':10s} {'pickle (MB)':>12s} {'data (MB)':>10s} {'ratio':>6s}")
    for strategy in ("cod", "tod", "cod+tod", "ll4al"):
        old, new = sizes(strategy, dataset, rows)
        print(f"{strategy:10s} {old / 1e6:12.1f} {new / 1e6:10.1f} {new / old:6.2f}")


if __name__ == "__main__":
    main()
