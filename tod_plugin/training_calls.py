"""What ``ALNetClassifier`` keeps from one training call to the next (the seed stream, the COD
reference: the weights a call started from, the epochs a call runs) and what one call uses while
it runs (``FitContext``)."""
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from .errors import ConfigError
from .states import module_state
from .validation import check_random_state


@dataclass
class FitContext:
    """The temporaries of one training call, dropped when it ends (not fitted state).

    Attributes:
        generator: the ``torch.Generator`` of the call's shuffling, augmentation and unlabeled draws.
        unlabeled: the ``batching.UnlabeledStream`` of the pool (``X_unlabeled``) the auxiliary loss
            draws from; None when it uses none.
        epoch: the 0-based epoch within the call (-1 before the first).
        interrupted: a Ctrl-C (``KeyboardInterrupt``) ended the fit loop.
    """

    generator: torch.Generator = None
    unlabeled: object = None
    epoch: int = -1
    interrupted: bool = False


class TrainingCalls:
    """Mixin of a skorch net; a training call is one ``fit`` or ``partial_fit``.

    * Seeds: every draw (weight initialisation, shuffling, augmentation) comes from one stream
      seeded by ``random_state`` at its first draw and restarted by ``set_params(random_state=...)``.
      A re-initialisation therefore draws new weights that depend on the seed and the calls before
      it (reproducible, and different from cycle to cycle).
    * ``reference_state_``: the weights the latest call started from; where the network was
      re-initialised since the previous call, that call's final weights (see
      :meth:`keep_trained_weights`); the initial weights at the first call (``reference_is_initial_``).
    * ``planned_epochs_``: the epochs the latest call runs (its ``epochs=``, else ``max_epochs``).
    * ``n_fits_``: the training calls so far.
    * ``fit_context_``: the running call's :class:`FitContext` (None between calls), as skorch's
      ``init_context_``.
    """

    fit_context_ = None

    def _draw_seed(self):
        """The next seed of the net's stream."""
        if getattr(self, "rng_", None) is None:
            self.rng_ = np.random.RandomState(check_random_state(self.random_state).randint(2**31 - 1))
        return int(self.rng_.randint(2**31 - 1))

    def set_params(self, **kwargs):
        if "random_state" in kwargs:
            self.rng_ = None  # the stream restarts from the new seed
        return super().set_params(**kwargs)

    @contextmanager
    def seeded_torch(self, seed):
        """Fork torch's global RNG (CPU, and CUDA when used) and seed it; restore on exit."""
        devices = [torch.cuda.current_device()] if str(self.device).startswith("cuda") else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            yield

    def keep_trained_weights(self):
        """Before the module is replaced: keep trained weights as the next call's COD reference."""
        if getattr(self, "n_fits_", 0) and hasattr(self, "module_") and "replaced_state_" not in self.__dict__:
            self.replaced_state_ = module_state(self.module_)

    def start_training_call(self, epochs):
        """Set the COD reference and the planned epochs of the call that starts now."""
        replaced = self.__dict__.pop("replaced_state_", None)
        self.reference_state_ = module_state(self.module_) if replaced is None else replaced
        self.n_fits_ = getattr(self, "n_fits_", 0)
        self.reference_is_initial_ = self.n_fits_ == 0
        self.planned_epochs_ = self.max_epochs if epochs is None else epochs

    @contextmanager
    def training_call(self, context):
        """Make ``context`` the ``fit_context_`` while the block runs."""
        self.fit_context_ = context
        try:
            yield context
        finally:
            del self.fit_context_

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        super().on_epoch_begin(net, dataset_train=dataset_train, dataset_valid=dataset_valid, **kwargs)
        self.fit_context_.epoch += 1

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        """skorch's loop; a Ctrl-C (``KeyboardInterrupt``) is not swallowed: skorch's ``partial_fit``
        would end the fit early as if it had finished, so :meth:`on_train_end` raises it again."""
        try:
            return super().fit_loop(X, y, epochs=epochs, **fit_params)
        except KeyboardInterrupt:
            self.fit_context_.interrupted = True
            raise

    def on_train_end(self, net, X=None, y=None, **kwargs):
        if self.fit_context_.interrupted:
            raise KeyboardInterrupt
        super().on_train_end(net, X=X, y=y, **kwargs)

    def check_known_labels(self, y):
        """Training that continues keeps its output layer: every label must be one it was built for."""
        unknown = np.setdiff1d(np.unique(np.asarray(y)), np.asarray(self.classes_))
        if len(unknown) and self.classes is None:
            raise ConfigError(
                f"y has labels {unknown.tolist()} the net was not built for (classes_={list(self.classes_)}, inferred "
                "from the first fit's labels); the output layer keeps its size while training continues: pass "
                "classes=<every label of the task> to ALNetClassifier"
            )
        if len(unknown):
            raise ConfigError(f"y has labels {unknown.tolist()} that are not in classes={list(self.classes)}")
