"""Test helpers shared by the test modules (imported as ``from nets import ...``; fixtures stay in conftest)."""
import numpy as np
from skorch.callbacks import Callback

from tod_plugin import ALNetClassifier
from tod_plugin.models import SmallCNN
from tod_plugin.states import module_state


def make_net(**overrides):
    """A small ``ALNetClassifier`` (SmallCNN on 8x8 digits, 2 epochs, seed 0, CPU) with ``overrides``."""
    params = dict(module__in_channels=1, module__num_classes=10, classes=np.arange(10), max_epochs=2,
                  lr=0.05, random_state=0, device="cpu")
    params.update(overrides)
    return ALNetClassifier(SmallCNN, **params)


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
