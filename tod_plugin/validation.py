"""Input checks: numbers, seeds and arrays, with one set of rules everywhere and errors that name
the argument (scikit-learn's rules for arrays and labels)."""
import inspect
import math
import numbers

import numpy as np
import torch
from sklearn.utils import check_random_state as sklearn_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, column_or_1d

from .errors import ConfigError
from .pool import is_lazy


MAX_SEED = 2**32 - 1  # numpy's RandomState takes seeds in [0, 2**32 - 1]


def check_number(value, name, integral=False, low=None, high=None, low_open=False, high_open=False, none_ok=False,
                 owner=None):
    """``value`` as a Python ``int`` (``integral``) or ``float``; else :class:`ConfigError` naming ``name``.

    The one rule for numbers in tod-plugin: ``bool`` and strings are not numbers; numpy integers
    and floats are; a float must be finite; ``low <= value`` (``low < value`` with ``low_open``)
    and ``value <= high`` (``value < high`` with ``high_open``) where given. ``None`` passes (returned as is) with ``none_ok``.
    (scikit-learn's ``check_scalar`` accepts ``True`` as an int and NaN in any range, hence this.)
    """
    if value is None and none_ok:
        return None
    kind = numbers.Integral if integral else numbers.Real
    valid = isinstance(value, kind) and not isinstance(value, (bool, np.bool_))
    if valid and not integral:
        valid = math.isfinite(value)
    if valid:
        valid = ((low is None or (value > low if low_open else value >= low))
                 and (high is None or (value < high if high_open else value <= high)))
    if not valid:
        noun = "int" if integral else "number"
        if high_open:
            what = f"a {noun} in {'(' if low_open else '['}{low}, {high})"
        elif low == 0 and low_open:
            what = f"a positive {noun}" + (f" <= {high}" if high is not None else "")
        else:
            bounds = [f"{'>' if low_open else '>='} {low}" if low is not None else None,
                      f"<= {high}" if high is not None else None]
            what = f"{'an' if integral else 'a'} {noun} " + " and ".join(b for b in bounds if b)
        prefix = f"{owner}: " if owner else ""
        raise ConfigError(f"{prefix}{name} must be {'None or ' if none_ok else ''}{what.strip()}, got {value!r}")
    return int(value) if integral else float(value)


def is_int(value):
    """An integer (numpy's included) that is not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def is_real(value):
    """A real number (numpy's included) that is not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def check_normalize(normalize):
    """None, or ``(mean, std)``: two sequences with one finite number per channel each, every std > 0."""
    if normalize is None:
        return
    message = "normalize must be None or (mean, std) with one value per channel each, e.g. ((0.5,), (0.25,))"
    if not isinstance(normalize, (tuple, list)) or len(normalize) != 2:
        raise ConfigError(f"{message}; got {normalize!r}")
    mean, std = normalize
    if not all(isinstance(v, (tuple, list, np.ndarray)) for v in (mean, std)) or len(mean) != len(std) or not len(mean):
        raise ConfigError(f"{message}; got {normalize!r}")
    for value in mean:
        check_number(value, "normalize mean")
    for value in std:
        check_number(value, "normalize std", low=0, low_open=True)


def check_classes(classes):
    """None, or a 1-D list / tuple / array of at least 2 distinct labels (a set has no order: refused)."""
    if classes is None:
        return
    if not isinstance(classes, (list, tuple, np.ndarray)):
        raise ConfigError(f"classes must be None or a list / array of labels in a fixed order, got "
                          f"{type(classes).__name__}")
    array = np.asarray(classes)
    if array.ndim != 1 or len(array) < 2:
        raise ConfigError(f"classes must be a 1-D list of at least 2 labels, got {classes!r}")
    values, counts = np.unique(array, return_counts=True)
    if (counts > 1).any():
        raise ConfigError(f"classes has duplicates: {values[counts > 1].tolist()}; give each label once")


def check_input_kind(module, X):
    """Images for a module built with ``in_channels`` (a CNN), feature rows for one built with only
    ``in_features`` (an MLP); ``module`` a class (an instance or another callable is not checked)."""
    try:
        accepted = inspect.signature(module).parameters if isinstance(module, type) else {}
    except (TypeError, ValueError):
        return
    ndim = getattr(X, "ndim", None)
    name = getattr(module, "__name__", "the module")
    if "in_channels" in accepted and ndim == 2:
        raise ConfigError(f"{name} takes images (n_samples, C, H, W) or (n_samples, H, W), but X has feature rows of "
                          f"shape {tuple(X.shape)}: reshape them to images, or use a module for feature rows "
                          "(tod_plugin.models.MLP)")
    if "in_features" in accepted and "in_channels" not in accepted and ndim is not None and ndim > 2:
        raise ConfigError(f"{name} takes feature rows (n_samples, n_features), but X has shape {tuple(X.shape)}: "
                          "flatten it with X.reshape(len(X), -1), or use an image module (SmallCNN, CifarResNet18)")


def check_random_state(random_state, name="random_state"):
    """A ``numpy.random.RandomState`` from None, an int seed in [0, 2**32 - 1], a ``RandomState`` (itself)
    or a ``numpy.random.Generator`` (a RandomState seeded by one draw from it)."""
    if isinstance(random_state, np.random.Generator):
        return np.random.RandomState(int(random_state.integers(MAX_SEED + 1)))
    if random_state is not None and not isinstance(random_state, np.random.RandomState):
        if not is_int(random_state):
            raise ConfigError(f"{name} must be None, an int seed, a numpy RandomState or Generator, "
                              f"got {random_state!r}")
        check_number(random_state, name, integral=True, low=0, high=MAX_SEED)
    return sklearn_random_state(random_state)


def check_samples(X, name="X", fitted_shape=None, owner="ALNetClassifier"):
    """Validate an input array; returns it as a numpy/torch array of ndim >= 2 ((N, H, W) gets a
    channel axis). ``fitted_shape``: the sample shape the net was fitted on, required when given.
    A lazily read pool (memory map, h5py, zarr, ``PoolView``) is checked from its shape and dtype
    only and returned as is (its rows are checked as they are read)."""
    if is_lazy(X):
        return _check_lazy(X, name, fitted_shape, owner)
    if not isinstance(X, torch.Tensor):
        # sparse -> TypeError; complex, empty, 0 features, NaN/inf -> ValueError; numeric
        # object arrays -> float64; numeric dtypes (uint8 images included) are kept.
        try:
            X = check_array(X, dtype="numeric", ensure_2d=False, allow_nd=True, input_name=name)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
    if X.ndim < 2:
        raise ConfigError(
            f"{name} must have shape (n_samples, C, H, W), (n_samples, H, W) or (n_samples, n_features); "
            f"got a {X.ndim}-D array of shape {tuple(X.shape)}. Reshape your data: a single sample "
            "with X[None]."
        )
    if len(X) == 0:
        raise ConfigError(f"{name} is empty: it needs at least one sample")
    if isinstance(X, torch.Tensor) and X.dtype != torch.uint8 and not torch.isfinite(X).all():
        raise ConfigError(f"{name} contains NaN or infinity; clean or impute it first")
    if X.ndim == 3:
        X = X[:, None]
    if fitted_shape is not None and tuple(X.shape[1:]) != fitted_shape:
        if X.ndim == 2 and len(fitted_shape) == 1:
            raise ConfigError(
                f"{name} has {X.shape[1]} features, but {owner} is expecting {fitted_shape[0]} features as input"
            )
        raise ConfigError(
            f"{name} has samples of shape {tuple(X.shape[1:])}, but {owner} was fitted on samples of shape {fitted_shape}"
        )
    return X


def _check_lazy(X, name, fitted_shape, owner):
    dtype, shape = np.dtype(X.dtype), tuple(X.shape)
    if dtype.kind not in "biuf":
        raise ConfigError(f"{name} must hold numbers (bool, int, uint or float), got dtype {dtype}")
    if len(shape) not in (2, 4) or len(X) == 0:
        raise ConfigError(f"{name}, read lazily, must be a non-empty array of shape (n_samples, C, H, W) or "
                          f"(n_samples, n_features); got shape {shape} (grey images: store them as (n, 1, H, W))")
    sample = shape[1:]
    if fitted_shape is not None and sample != fitted_shape:
        raise ConfigError(f"{name} has samples of shape {sample}, but {owner} was fitted on samples of shape "
                          f"{fitted_shape}")
    return X


def check_labels(y, owner="ALNetClassifier"):
    """Validate labels: a 1-D array (a column vector is raveled with a warning) of class labels."""
    if y is None:
        raise ConfigError(f"{owner} requires y to be passed, but the target y is None: it is trained on labeled data")
    if isinstance(y, torch.Tensor):
        y = y.cpu().numpy()
    try:
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    return y


def encode_labels(y, classes):
    """Labels -> class indices ``0..n_classes-1`` in the order of ``classes`` (given in any order)."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ConfigError(f"y must be a 1-D array of labels, got shape {y.shape}")
    classes = np.asarray(classes)
    order = np.argsort(classes, kind="stable")
    index = order[np.clip(np.searchsorted(classes[order], y), 0, len(classes) - 1)]
    if not np.array_equal(classes[index], y):
        raise ConfigError(f"y has labels outside classes_={classes.tolist()}")
    return index
