import pytest
import torch
from modAL.models import ActiveLearner

from nets import make_net
from tod_plugin.data import load_dataset

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


@pytest.fixture
def net_factory():
    return make_net


@pytest.fixture(scope="module")
def learner(digits):
    """A modAL learner whose net is fitted on the first 60 digits (one per test module)."""
    X, y = digits.X_train, digits.y_train
    return ActiveLearner(estimator=make_net(), X_training=X[:60], y_training=y[:60])
