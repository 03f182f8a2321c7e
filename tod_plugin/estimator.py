"""``ALNetClassifier``: a skorch classifier made for deep active learning on image arrays."""
import copy
import warnings

import numpy as np
import torch
from skorch import NeuralNetClassifier
from skorch.dataset import get_len, unpack_data

from . import validation
from .auxiliary import resolve_auxiliary
from .batching import ArrayDataset, BatchIterator, BatchPreparer, UnlabeledStream, auto_batch_size, batch_bounds
from .defaults import optimizer_kwargs
from .device import on_resolved_device, resolve_device, resolved_device
from .errors import ConfigError, TrainingDiverged
from .module_params import DATA_SIZES, inferred_params, missing_params, missing_params_error
from .net_interface import PoolScoring
from .outputs import main_output
from .precision import autocast, check_channels_last, check_precision, resolve_channels_last
from .training_calls import FitContext, TrainingCalls


class ALNetClassifier(PoolScoring, TrainingCalls, NeuralNetClassifier):
    """A skorch ``NeuralNetClassifier`` for active learning on numpy image arrays.

    Differences from skorch's defaults, each chosen so that small labeled sets learn:
    ``criterion=CrossEntropyLoss`` on logits, ``train_split=None``, SGD with the papers' momentum
    0.9 and weight decay 5e-4 (unless ``optimizer__momentum`` / ``optimizer__weight_decay`` are
    given), ``lr="auto"`` (0.05 for SGD, the optimizer's own default otherwise: 1e-3 for Adam;
    ``defaults.default_lr``), ``batch_size="auto"`` (n/16 clipped to [8, 128]) and ``verbose=0``.

    Parameters (besides skorch's)
    -----------------------------
    classes : array-like or None
        All labels the task can have. Give it in active learning: the first labeled set may miss some.
    random_state : int, RandomState or None
        Seeds weight initialisation, shuffling, augmentation and dropout.
    device : "auto", "cpu", "cuda", ...
        ``"auto"`` picks CUDA when available; the parameter keeps the value it was given.
    normalize : (mean, std) or None
        Per-channel normalisation applied after uint8 images are scaled to [0, 1].
    crop_padding : int
        Random crop with this much zero padding on training batches (0 = off).
    hflip : bool
        Random horizontal flips on training batches.
    eval_batch_size : int
        Batch size for prediction and pool scoring.
    auxiliary : "none", "tod" or "ll4al"
        The auxiliary loss, resolved to its object (``tod_plugin.auxiliary``: ``TODLoss``,
        ``LL4ALLoss``, ``NoAuxiliary``) at ``initialize`` as ``auxiliary_loss_``.
        ``"tod"``: the TOD unsupervised loss (needs ``callbacks=[EMATeacher(...)]``, a module with a
        second head — ``aux_head=True`` is passed automatically when the module accepts it — and
        ``fit(X, y, X_unlabeled=pool)``); each optimizer step draws a fresh unlabeled batch of the
        labeled batch's size. ``"ll4al"``: the LL4AL loss-prediction module on the module's
        ``stage_features``, trained with the ranking loss (``loss_module_``).
    aux_weight : float or None
        lambda of the auxiliary loss; None means the loss's ``default_weight``: 0.02 for "tod"
        (CIFAR-10's) and 1.0 for "ll4al".
    ll4al_margin : float
        Margin of the LL4AL ranking loss.
    ll4al_stop_epoch : int
        In the epochs after 0-based epoch ``ll4al_stop_epoch`` of a fit the stage features are
        detached before the loss module (it keeps learning but no longer shapes the backbone); the
        reference's ``epoch > 120`` of 200.
    precision : "auto", "fp32" or "bf16"
        ``"bf16"``: forward passes and losses (training, prediction, pool scoring) under bf16
        autocast; weights, gradients and optimizer state stay fp32. ``"auto"``: bf16 on CUDA, fp32
        on CPU (where bf16 is an opt-in). See ``tod_plugin.precision``.
    channels_last : "auto", True or False
        NHWC memory layout for 4-D inputs and the module's weights; ``"auto"``: on CUDA and CPU for
        modules declaring ``supports_channels_last = True`` (the plugin's networks), NCHW for any
        other module (one that calls ``.view()`` on a feature map fails on NHWC); ``True`` opts in.
    compile : bool
        skorch's ``torch.compile`` switch. Compiled graphs are cached per process by the module's
        code, not its instance, so they are built once and reused by every later fit, cycle and
        net of the same architecture in the process (``--workers``: once per worker). Only
        ``forward`` is compiled: the TOD auxiliary loss (``forward_heads``) and LL4AL scoring
        (``stage_features``) run eagerly.
    warm_start : bool
        ``True`` keeps the weights between fits (TOD / LL4AL / BAL protocol) while the optimizer
        restarts at every fit (fresh momentum, initial ``lr``); give skorch's ``LRScheduler``
        ``last_epoch=-1`` so the schedule restarts too (skorch otherwise resumes it from the
        history). ``False`` re-initialises the network each fit.

    Input ``X``: arrays of shape (N, C, H, W), (N, H, W) (a channel axis is added) or (N, F)
    (feature rows, for non-image modules); uint8 or float. A module class whose constructor takes
    ``num_classes``, ``in_channels`` or ``in_features`` gets them from the data unless given as
    ``module__...``; ``initialize()`` before any data (modAL's ``DeepActiveLearner`` calls it)
    leaves such a net uninitialised and the first ``fit`` / ``partial_fit`` builds it.

    Training calls: ``fit`` (re-initialises unless ``warm_start``) and ``partial_fit`` (continues);
    what carries over between them (seeds, the COD reference) is described in
    :class:`training_calls.TrainingCalls`.

    Fitted state: ``module_``, ``classes_``, ``auxiliary_loss_``, ``n_fits_`` (training calls so far),
    ``reference_state_``: the COD reference, the weights the latest training call started from —
    the previous call's final weights, even where the network was re-initialised in between
    (``warm_start=False``, ``set_params(module__...)``), or the initial weights at the first call
    (``reference_is_initial_``); ``planned_epochs_``: the epochs the latest call runs.
    """

    def __init__(
        self,
        module,
        *args,
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.SGD,
        lr="auto",
        max_epochs=30,
        batch_size="auto",
        train_split=None,
        classes=None,
        random_state=None,
        device="auto",
        normalize=None,
        crop_padding=0,
        hflip=False,
        eval_batch_size=1024,
        auxiliary="none",
        aux_weight=None,
        ll4al_margin=1.0,
        ll4al_stop_epoch=120,
        precision="auto",
        channels_last="auto",
        verbose=0,
        **kwargs,
    ):
        super().__init__(
            module,
            *args,
            criterion=criterion,
            optimizer=optimizer,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            train_split=train_split,
            classes=classes,
            device=device,
            verbose=verbose,
            **kwargs,
        )
        self.random_state = random_state
        self.normalize = normalize
        self.crop_padding = crop_padding
        self.hflip = hflip
        self.eval_batch_size = eval_batch_size
        self.auxiliary = auxiliary
        self.aux_weight = aux_weight
        self.ll4al_margin = ll4al_margin
        self.ll4al_stop_epoch = ll4al_stop_epoch
        self.precision = precision
        self.channels_last = channels_last

    # ------------------------------------------------------------------ validation
    def _validate_own_params(self):
        """Types and ranges of the parameters, numbers by ``validation.check_number`` (one rule
        everywhere); ``auxiliary`` is resolved to ``auxiliary_loss_``."""
        bs = self.batch_size
        if not ((isinstance(bs, str) and bs == "auto") or (validation.is_int(bs) and bs == -1)):
            if not (validation.is_int(bs) and bs > 0):
                raise ConfigError(f"batch_size must be 'auto', -1 or a positive int, got {bs!r}")
        if not (isinstance(self.lr, str) and self.lr == "auto"):
            validation.check_number(self.lr, "lr", low=0, low_open=True)
        validation.check_number(self.max_epochs, "max_epochs", integral=True, low=0, low_open=True)
        validation.check_number(self.eval_batch_size, "eval_batch_size", integral=True, low=0, low_open=True)
        validation.check_number(self.crop_padding, "crop_padding", integral=True, low=0)
        self.auxiliary_loss_ = resolve_auxiliary(self.auxiliary)
        validation.check_number(self.aux_weight, "aux_weight", low=0, none_ok=True)
        validation.check_number(self.ll4al_margin, "ll4al_margin", low=0)
        validation.check_number(self.ll4al_stop_epoch, "ll4al_stop_epoch", integral=True, low=0)
        check_precision(self.precision)
        check_channels_last(self.channels_last)
        validation.check_normalize(self.normalize)
        validation.check_classes(self.classes)
        validation.check_random_state(self.random_state)

    def check_X(self, X, name="X", same_shape=True):
        """Validate an input array (``validation.check_samples``); ``same_shape`` also requires the
        sample shape the net was fitted on. A ``Dataset`` is passed through."""
        if isinstance(X, torch.utils.data.Dataset) and not isinstance(X, torch.Tensor):
            return X
        fitted = getattr(self, "input_shape_", None) if same_shape and self.initialized_ else None
        return validation.check_samples(X, name, fitted, type(self).__name__)

    def check_y(self, y):
        return validation.check_labels(y, type(self).__name__)

    def check_data(self, X, y):
        super().check_data(X, y)
        validation.check_classes(self.classes)
        validation.check_input_kind(self.module, X)
        if y is not None and self.classes is not None:
            unknown = np.setdiff1d(np.unique(np.asarray(y)), np.asarray(self.classes))
            if len(unknown):
                raise ConfigError(f"y has labels {unknown.tolist()} that are not in classes={list(self.classes)}")

    def encode_labels(self, y):
        """Labels -> class indices ``0..n_classes-1`` in the order of ``classes_``."""
        return validation.encode_labels(y, self.classes_)

    # ------------------------------------------------------------------ initialisation
    @on_resolved_device
    def initialize(self):
        """Build the module, criterion, optimizer and callbacks; before any data, a module whose
        sizes come from the data is left for the first training call to build."""
        self._validate_own_params()
        missing = missing_params(self.module, self.get_params_for("module"))
        data_seen = hasattr(self, "input_shape_")
        if missing and (data_seen or not set(missing) <= set(DATA_SIZES)):
            raise missing_params_error(self.module, missing, data_seen)
        if missing:
            return self
        return super().initialize()

    def get_params_for(self, prefix):
        params = super().get_params_for(prefix)
        if prefix == "module":
            known = self.classes is not None or hasattr(self, "classes_inferred_")
            params = {**inferred_params(self.module, len(self.classes_) if known else None,
                                        getattr(self, "input_shape_", None),
                                        resolve_auxiliary(self.auxiliary).module_params), **params}
        return params

    def initialize_module(self):
        self.keep_trained_weights()
        with self.seeded_torch(self._draw_seed()):
            super().initialize_module()
            for name, module in self.auxiliary_loss_.extra_modules(self.module_).items():
                setattr(self, name, module)  # LL4AL's loss_module_
            if self.uses_channels_last:
                self.module_.to(memory_format=torch.channels_last)
        return self

    @property
    def uses_channels_last(self):
        """Whether ``channels_last`` resolves to the NHWC layout on the net's device."""
        return resolve_channels_last(self.channels_last, resolve_device(self.device), self.module)

    def autocast(self):
        """The autocast context of ``precision`` on the net's device (forward passes run inside it)."""
        return autocast(self.precision, resolve_device(self.device))

    @property
    def effective_aux_weight(self):
        """lambda: ``aux_weight``, or the chosen auxiliary loss's ``default_weight`` (None without one)."""
        if self.aux_weight is not None:
            return self.aux_weight
        return resolve_auxiliary(self.auxiliary).default_weight

    def set_params(self, **kwargs):
        super().set_params(**kwargs)
        if "auxiliary" in kwargs and self.initialized_:
            self.auxiliary_loss_ = resolve_auxiliary(self.auxiliary)  # the next step's loss is the new one
        return self

    def get_params_for_optimizer(self, prefix, named_parameters):
        args, kwargs = super().get_params_for_optimizer(prefix, named_parameters)
        return args, optimizer_kwargs(self.optimizer, kwargs) if prefix == "optimizer" else kwargs

    # ------------------------------------------------------------------ fitting
    @on_resolved_device
    def fit(self, X, y, X_unlabeled=None, **fit_params):
        """Fit on labeled ``(X, y)``; ``X_unlabeled`` is the pool the TOD auxiliary loss draws from.

        See ``warm_start`` for what carries over between fits.
        """
        X = self.check_X(X, same_shape=self.warm_start)
        y = self.check_y(y)
        if not isinstance(X, torch.utils.data.Dataset) and len(y) != len(X):
            raise ConfigError(f"X and y have different lengths: {len(X)} and {len(y)}")
        if self.warm_start and self.initialized_:
            self.initialize_optimizer()
        else:
            self._initialize_for(X, y)
        return self.partial_fit(X, y, X_unlabeled=X_unlabeled, **fit_params)

    def _unlabeled_stream(self, X_unlabeled, generator):
        """The auxiliary loss's hooks checked; the unlabeled batches it draws from ``X_unlabeled`` with
        ``generator``, or None where it uses no pool (which then ignores ``X_unlabeled``)."""
        auxiliary = self.auxiliary_loss_
        auxiliary.check_hooks(self)
        if not auxiliary.uses_pool:
            if X_unlabeled is not None:
                warnings.warn("X_unlabeled is only used with auxiliary='tod'; it is ignored", stacklevel=4)
            return None
        if X_unlabeled is None:
            raise ConfigError(
                f"auxiliary={auxiliary.name!r} needs the unlabeled pool: fit(X, y, X_unlabeled=X_pool) (with modAL: "
                "ActiveLearner(..., X_unlabeled=X_pool) and learner.teach(X, y, X_unlabeled=X_pool))"
            )
        if len(X_unlabeled) == 0:
            warnings.warn(f"X_unlabeled is empty: the {auxiliary.name.upper()} loss uses the labeled terms only",
                          stacklevel=4)
            return None
        X_unlabeled = self.check_X(X_unlabeled, name="X_unlabeled", same_shape=False)
        if tuple(X_unlabeled.shape[1:]) != self.input_shape_:
            raise ConfigError(
                f"X_unlabeled has samples of shape {tuple(X_unlabeled.shape[1:])}, X has {self.input_shape_}"
            )
        dataset = ArrayDataset(X_unlabeled, device=resolve_device(self.device))
        return UnlabeledStream(dataset, self.batch_preparer, generator)

    def _initialize_for(self, X, y):
        """Initialise with the module's sizes taken from the data (see ``module__*`` inference)."""
        self._record_data(X, y)
        if not self.initialize().initialized_:  # a Dataset does not give the module's sizes
            raise missing_params_error(self.module, missing_params(self.module, self.get_params_for("module")), True)

    def _record_data(self, X, y):
        """The labels (``classes_`` when ``classes`` is None) and the sample shape of the first data."""
        self.check_data(X, y)
        channels = super().get_params_for("module").get("in_channels")  # explicit, not inferred
        if channels is not None and getattr(X, "ndim", 0) == 4 and X.shape[1] != channels:
            raise ConfigError(
                f"X has {X.shape[1]} channels but the module is built for module__in_channels={channels}; "
                "convert the images or set module__in_channels to match"
            )
        if not isinstance(X, torch.utils.data.Dataset):
            self.input_shape_ = tuple(X.shape[1:])
            self.n_features_in_ = int(np.prod(self.input_shape_))

    @on_resolved_device
    def partial_fit(self, X, y=None, classes=None, X_unlabeled=None, **fit_params):
        """Train ``epochs`` (default ``max_epochs``) more epochs from the current weights; builds the
        net at the first call. ``X_unlabeled``: see :meth:`fit`."""
        X = self.check_X(X)
        if y is not None:
            y = self.check_y(y)
        if not self.initialized_:
            self._initialize_for(X, y)
        elif not hasattr(self, "n_features_in_") and not isinstance(X, torch.utils.data.Dataset):
            self._record_data(X, y)  # initialize() ran before any data, with the module's sizes given
        elif y is not None:
            self.check_known_labels(y)
        self.start_training_call(fit_params.get("epochs"))
        with self.seeded_torch(self._draw_seed()):
            generator = torch.Generator().manual_seed(self._draw_seed())
            with self.training_call(FitContext(generator, self._unlabeled_stream(X_unlabeled, generator))):
                super().partial_fit(X, y, classes=classes, **fit_params)
        self.n_fits_ += 1
        return self

    def train_step_single(self, batch, **fit_params):
        """One step: CE on the main head, plus lambda x the auxiliary loss when one is set
        (``auxiliary_loss_.training_loss``).

        Forward passes and losses run under :meth:`autocast`, the backward pass outside it.
        """
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        with self.autocast():
            y_pred, loss = self.auxiliary_loss_.training_loss(self, Xi, yi, self.fit_context_, **fit_params)
        loss.backward()
        return {"loss": loss, "y_pred": y_pred}

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        """skorch's epoch loop without its per-step ``loss.item()``: batch losses stay on the device
        (in the history as 0-d tensors while the epoch runs) and become floats in one transfer at
        the end of the epoch, so the host never waits for the GPU inside an epoch."""
        if iterator is None:
            return
        losses = []
        for batch in iterator:
            self.notify("on_batch_begin", batch=batch, training=training)
            step = step_fn(batch, **fit_params)
            losses.append(step["loss"].detach())
            self.history.record_batch(prefix + "_loss", losses[-1])
            self.history.record_batch(prefix + "_batch_size", get_len(batch[0]) if isinstance(batch, (tuple, list))
                                      else get_len(batch))
            self.notify("on_batch_end", batch=batch, training=training, **step)
        if losses:
            values = torch.stack([loss.float() for loss in losses]).tolist()
            for record, value in zip(self.history[-1]["batches"][-len(losses):], values):
                record[prefix + "_loss"] = value
            if training and not np.isfinite(values).all():
                raise TrainingDiverged(self._divergence_message(values))
        self.history.record(prefix + "_batch_count", len(losses))

    def _divergence_message(self, values):
        bad = "NaN" if np.isnan(values).any() else "infinite"
        causes = [f"lr={self.lr!r} too high", *self.auxiliary_loss_.divergence_causes(self)]
        if self.normalize is not None and min(self.normalize[1]) < 1e-3:
            causes.append(f"normalize std {tuple(self.normalize[1])} too small")
        return (f"training diverged: the loss became {bad} in epoch {self.fit_context_.epoch + 1} of this fit; "
                f"likely cause: {' or '.join(causes)}. Lower the learning rate (and check the data) and fit again")

    def train_batch_size(self, n_samples):
        """The training batch size used for ``n_samples`` labeled samples."""
        if self.batch_size == "auto":
            return auto_batch_size(n_samples)
        return n_samples if self.batch_size == -1 else min(self.batch_size, n_samples)

    def steps_per_epoch(self, n_samples):
        """Optimizer steps in one epoch over ``n_samples`` (a last batch of one is merged: ``batch_bounds``)."""
        return len(batch_bounds(n_samples, self.train_batch_size(n_samples), training=True))

    # ------------------------------------------------------------------ data path
    @property
    def batch_preparer(self):
        mean, std = self.normalize if self.normalize is not None else (None, None)
        return BatchPreparer(resolve_device(self.device), mean, std, self.crop_padding, self.hflip,
                             self.uses_channels_last)

    def get_dataset(self, X, y=None):
        if isinstance(X, torch.utils.data.Dataset) and not isinstance(X, torch.Tensor):
            return super().get_dataset(X, y)
        X = self.check_X(X)
        y = None if y is None else self.encode_labels(y)
        return ArrayDataset(X, y, device=resolve_device(self.device))

    def get_iterator(self, dataset, training=False):
        if not isinstance(dataset, ArrayDataset):  # a user's Dataset: skorch's DataLoader path
            prefix = "iterator_train" if training else "iterator_valid"
            kwargs = self.get_params_for(prefix)
            kwargs.setdefault("batch_size", self.train_batch_size(len(dataset)) if training else self.eval_batch_size)
            return getattr(self, prefix)(dataset, **kwargs)
        if training:
            batch_size = self.train_batch_size(len(dataset))
            generator = self.fit_context_.generator
        else:
            batch_size, generator = self.eval_batch_size, None
        return BatchIterator(dataset, batch_size, self.batch_preparer, training, generator)

    def evaluation_step(self, batch, training=False):
        """Forward a batch; a module returning a tuple contributes its first output (main head)."""
        self.check_is_fitted()
        Xi, _ = unpack_data(batch)
        with torch.set_grad_enabled(training), self.autocast():
            self._set_training(training)
            return main_output(self.infer(Xi)).float()

    def get_loss(self, y_pred, y_true, *args, **kwargs):
        return super().get_loss(main_output(y_pred), y_true, *args, **kwargs)

    # ------------------------------------------------------------------ prediction
    def forward_iter(self, X, training=False, device="cpu"):
        if not isinstance(X, torch.utils.data.Dataset):
            X = self.check_X(X)
        with resolved_device(self):
            yield from super().forward_iter(X, training=training, device=device)

    def predict(self, X):
        """Class labels (from ``classes_``) of the highest predicted probability."""
        proba = self.predict_proba(X)  # first: raises NotFittedError on an unfitted net
        return self.classes_[proba.argmax(axis=1)]

    def iter_batches(self, X):
        """Prepared evaluation batches of ``X`` on the net's device (for pool scoring)."""
        dataset = self.get_dataset(X)
        for x, _ in self.get_iterator(dataset, training=False):
            yield x

    def copy_module_with(self, state):
        """A copy of ``module_`` with ``state`` loaded, in eval mode, on the net's device."""
        module = copy.deepcopy(self.module_)
        module.load_state_dict(state)
        return module.to(resolve_device(self.device)).eval()

    def hook(self, hook_type):
        """The callback instance of ``hook_type`` the net was trained with, or None."""
        for _, callback in getattr(self, "callbacks_", []):
            if isinstance(callback, hook_type):
                return callback
        return None

    # ------------------------------------------------------------------ pickling
    def __setstate__(self, state):
        requested = state.get("device")
        if requested == "auto":
            state["device"] = resolve_device(requested)
        super().__setstate__(state)
        if requested == "auto":
            self.__dict__["device"] = "auto"

    @on_resolved_device
    def load_params(self, *args, **kwargs):
        return super().load_params(*args, **kwargs)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        return tags
