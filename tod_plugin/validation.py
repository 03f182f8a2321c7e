"""Input checks of ``ALNetClassifier``: scikit-learn's rules, with errors that name the argument."""
import numpy as np
import torch
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, column_or_1d

from .errors import ConfigError
from .pool import is_lazy


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
