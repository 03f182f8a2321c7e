import numpy as np
import pytest
import torch
from modAL.models import ActiveLearner
from skorch.callbacks import Callback

from tod_plugin import ALNetClassifier
from tod_plugin.data import load_dataset
from tod_plugin.states import module_state
from tod_plugin.models import SmallCNN

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def digits():
    """The embedded digits dataset (uint8, (N, 1, 8, 8))."""
    return load_dataset("digits")


@pytest.fixture
def small_split(digits):
    """A 60-sample labeled set, a 200-sample pool and the test split."""
    X, y = digits.X_train, digits.y_train
    return X[:60], y[:60], X[60:260], y[60:260], digits.X_test, digits.y_test


def make_net(**overrides):
    params = dict(module__in_channels=1, module__num_classes=10, classes=np.arange(10), max_epochs=2,
                  lr=0.05, random_state=0, device="cpu")
    params.update(overrides)
    return ALNetClassifier(SmallCNN, **params)


@pytest.fixture
def net_factory():
    return make_net


@pytest.fixture(scope="module")
def learner(digits):
    """A modAL learner whose net is fitted on the first 60 digits (one per test module)."""
    X, y = digits.X_train, digits.y_train
    return ActiveLearner(estimator=make_net(), X_training=X[:60], y_training=y[:60])


def indices(result):
    """The queried indices of a strategy's result (modAL's (indices, instances) or bare indices)."""
    return result[0] if isinstance(result, tuple) else result


class RecordSteps(Callback):
    """The module's state (CPU copies) when training starts and after every optimizer step: ``states_``."""

    def on_train_begin(self, net, **kwargs):
        self.states_ = [module_state(net.module_)]

    def on_batch_end(self, net, training=False, **kwargs):
        if training:
            self.states_.append(module_state(net.module_))
