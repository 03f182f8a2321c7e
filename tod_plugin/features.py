"""Frozen pretrained features: a scikit-learn transformer from images to penultimate-layer embeddings.

For practitioners without a GPU: an ImageNet network (weights from a local file, nothing is
downloaded) turns each image into its penultimate vector once, and a small head learns on those::

    Pipeline([("features", PretrainedFeatures(weights="resnet18-f37072fd.pth")),
              ("net", ALNetClassifier(MLP, classes=range(10)))])

Every strategy queries such a Pipeline as any other (``strategies._common.resolve_net`` passes the
pool through ``transform``). The backbone never trains, so the features of a row depend only on its
bytes and the settings: they are cached by content (the SHA-1 of each row's bytes), in memory and,
with ``cache_dir``, in ``.npy`` files, so each pool row is computed once for all the cycles of an
experiment, whatever subset of the pool a query passes.
"""
import hashlib
import io
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted
from torch.nn import functional as F
from tqdm.auto import tqdm

from .atomic import atomic_write_bytes
from .batching import BatchPreparer
from .device import resolve_device
from .errors import ConfigError
from .models.imagenet_resnet import ImageNetResNet18
from .precision import autocast, check_channels_last, check_precision, resolve_channels_last, resolve_precision
from .validation import check_number

FEATURE_MODELS = {"resnet18-imagenet": ImageNetResNet18}
IMAGENET_NORMALIZE = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
KEY_BYTES = 20  # SHA-1


def row_keys(X, prefix=b""):
    """(N, 20) uint8: the SHA-1 of ``prefix`` + the bytes of each row of ``X``."""
    X = np.ascontiguousarray(X)
    start = hashlib.sha1(prefix, usedforsecurity=False)
    keys = np.empty((len(X), KEY_BYTES), dtype=np.uint8)
    for i, row in enumerate(X):
        h = start.copy()
        h.update(row)
        keys[i] = np.frombuffer(h.digest(), dtype=np.uint8)
    return keys


class FeatureCache:
    """Features of rows seen so far, by row key; mirrored in ``folder`` (``keys.npy``,
    ``features.npy``) when one is given. ``computed`` and ``reused`` count rows since creation."""

    def __init__(self, n_features, folder=None):
        self.folder = None if folder is None else Path(folder)
        self.keys = np.empty((0, KEY_BYTES), dtype=np.uint8)
        self.features = np.empty((0, n_features), dtype=np.float32)
        self.index = {}
        self.computed = 0
        self.reused = 0
        if self.folder is not None:
            self._load()

    def __len__(self):
        return len(self.keys)

    def lookup(self, keys):
        """Cache row of each key, -1 where unknown."""
        return np.fromiter((self.index.get(k.tobytes(), -1) for k in keys), dtype=np.intp, count=len(keys))

    def add(self, keys, features):
        start = len(self.keys)
        self.keys = np.concatenate([self.keys, keys])
        self.features = np.concatenate([self.features, features.astype(np.float32, copy=False)])
        self.index.update((k.tobytes(), start + i) for i, k in enumerate(keys))
        self.computed += len(keys)
        if self.folder is not None:
            self._save()

    def _load(self):
        """Read the folder's files (``allow_pickle=False``); files that do not fit are ignored with a warning.

        ``features.npy`` is written before ``keys.npy``, so after an interrupted write it may hold
        more rows than the keys: the rows the keys name are the valid prefix.
        """
        keys_path, features_path = self.folder / "keys.npy", self.folder / "features.npy"
        if not keys_path.is_file():
            return
        try:
            keys = np.load(keys_path, allow_pickle=False)
            features = np.load(features_path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            warnings.warn(f"feature cache {self.folder} is unreadable ({exc}); computing the features again",
                          stacklevel=4)
            return
        if (keys.dtype != np.uint8 or keys.ndim != 2 or keys.shape[1] != KEY_BYTES or features.dtype != np.float32
                or features.ndim != 2 or features.shape[1] != self.features.shape[1] or len(features) < len(keys)):
            warnings.warn(f"feature cache {self.folder} does not hold features of this model; computing them again",
                          stacklevel=4)
            return
        self.keys, self.features = keys, np.ascontiguousarray(features[:len(keys)])
        self.index = {k.tobytes(): i for i, k in enumerate(keys)}

    def _save(self):
        self.folder.mkdir(parents=True, exist_ok=True)
        _save_npy(self.folder / "features.npy", self.features)
        _save_npy(self.folder / "keys.npy", self.keys)


class PretrainedFeatures(TransformerMixin, BaseEstimator):
    """Images (N, C, H, W) or (N, H, W), uint8 or float in [0, 1] -> (N, 512) float32 penultimate features
    of an ImageNet ResNet-18 whose weights come from a local file.

    Parameters
    ----------
    model : "resnet18-imagenet"
        The backbone (``tod_plugin.models.ImageNetResNet18``, torchvision's layers).
    weights : path
        torchvision's ResNet-18 ImageNet state dict (``resnet18-f37072fd.pth``), read with
        ``torch.load(weights_only=True)``; required.
    batch_size : int
        Images per forward pass.
    image_size : int or None
        Resize images to this side (bilinear, antialiased) before the backbone; None keeps their size.
        ImageNet features of 28-32 px images improve when they are enlarged (at 4-16x the compute).
    normalize : "imagenet", (mean, std) or None
        Per-channel normalisation after scaling uint8 to [0, 1]; ImageNet's by default.
    device, precision, channels_last :
        As for ``ALNetClassifier``: ``"auto"`` is CUDA when present; bf16 autocast on CUDA, fp32 on
        CPU; channels-last on CUDA and CPU.
    cache_dir : path or None
        Also keep the features in ``cache_dir/<settings digest>/{keys,features}.npy`` (written
        atomically, read with ``allow_pickle=False``) for later processes.
    progress : "auto", True or False
        A tqdm bar while features are computed; ``"auto"`` shows it for 1,000 rows or more.

    Grey images are repeated to three channels. ``fit`` loads the backbone (once: refitting with the
    same settings keeps it and the cache, as the features never depend on the data fitted).

    Attributes: ``backbone_`` (the module, in eval mode), ``n_features_out_`` (512), ``cache_`` (a
    :class:`FeatureCache` for the settings and input shape in use: ``len(cache_)`` rows, counters
    ``computed`` and ``reused``), ``settings_digest_``.
    """

    def __init__(self, model="resnet18-imagenet", weights=None, batch_size=256, image_size=None, normalize="imagenet",
                 device="auto", precision="auto", channels_last="auto", cache_dir=None, progress="auto"):
        self.model = model
        self.weights = weights
        self.batch_size = batch_size
        self.image_size = image_size
        self.normalize = normalize
        self.device = device
        self.precision = precision
        self.channels_last = channels_last
        self.cache_dir = cache_dir
        self.progress = progress

    def _check_params(self):
        if self.model not in FEATURE_MODELS:
            raise ConfigError(f"model must be one of {sorted(FEATURE_MODELS)}, got {self.model!r}")
        if self.weights is None:
            raise ConfigError("weights: give the path of a local copy of torchvision's ResNet-18 ImageNet state dict "
                              "(resnet18-f37072fd.pth); nothing is downloaded")
        check_number(self.batch_size, "batch_size", integral=True, low=0, low_open=True)
        check_number(self.image_size, "image_size", integral=True, low=0, low_open=True, none_ok=True)
        if not (self.normalize is None or self.normalize == "imagenet" or _is_mean_std(self.normalize)):
            raise ConfigError(f"normalize must be 'imagenet', None or (mean, std) of 1 or 3 values each, "
                              f"got {self.normalize!r}")
        if self.progress not in ("auto", True, False):
            raise ConfigError(f"progress must be 'auto', True or False, got {self.progress!r}")
        check_precision(self.precision)
        check_channels_last(self.channels_last)

    def _settings(self):
        device = resolve_device(self.device)
        mean_std = IMAGENET_NORMALIZE if self.normalize == "imagenet" else self.normalize
        return (self.model, self.image_size, mean_std, torch.device(device).type,
                resolve_precision(self.precision, device),
                resolve_channels_last(self.channels_last, device, FEATURE_MODELS[self.model]))

    def fit(self, X=None, y=None):
        """Load the backbone from ``weights`` (kept when it is already loaded with the same settings)."""
        self._check_params()
        weights = Path(self.weights).expanduser()
        loaded = (weights, weights.stat().st_mtime_ns if weights.is_file() else None, self._settings())
        if getattr(self, "loaded_", None) == loaded:
            return self
        backbone = FEATURE_MODELS[self.model](num_classes=1, pretrained=weights)
        settings = self._settings()
        backbone = backbone.to(resolve_device(self.device)).eval()
        if settings[-1]:
            backbone = backbone.to(memory_format=torch.channels_last)
        digest = hashlib.sha256(repr(settings).encode())
        with open(weights, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        self.backbone_ = backbone
        self.n_features_out_ = backbone.fc.in_features
        self.settings_digest_ = digest.hexdigest()[:16]
        self.loaded_ = loaded
        self.caches_ = {}
        self.cache_ = None
        return self

    def transform(self, X):
        """(N, 512) float32 features of ``X``; rows seen before (same bytes) come from the cache."""
        check_is_fitted(self, "backbone_")
        X = _check_images(X)
        shape_key = f"{X.dtype.str}-{'x'.join(map(str, X.shape[1:]))}"
        if shape_key not in self.caches_:
            folder = None if self.cache_dir is None else Path(self.cache_dir) / f"{self.settings_digest_}-{shape_key}"
            self.caches_[shape_key] = FeatureCache(self.n_features_out_, folder)
        cache = self.cache_ = self.caches_[shape_key]
        keys = row_keys(X)
        where = cache.lookup(keys)
        missing = np.flatnonzero(where < 0)
        if len(missing):
            _, first = np.unique(keys[missing], axis=0, return_index=True)
            new = missing[np.sort(first)]
            cache.add(keys[new], self._compute(X, new))
            where = cache.lookup(keys)
        cache.reused += len(X) - len(missing)
        return cache.features[where]

    def _compute(self, X, rows):
        """Backbone features of ``X[rows]``, in batches under inference mode and the precision's autocast."""
        device = resolve_device(self.device)
        mean, std = IMAGENET_NORMALIZE if self.normalize == "imagenet" else (self.normalize or (None, None))
        if mean is not None and X.shape[1] == 1 and len(mean) == 3:
            mean, std = (sum(mean) / 3,), (sum(std) / 3,)  # grey images: one channel, repeated after
        prepare = BatchPreparer(device, mean, std, channels_last=self._settings()[-1])
        show = self.progress if isinstance(self.progress, bool) else len(rows) >= 1000
        out = []
        with torch.inference_mode(), autocast(self.precision, device), \
                tqdm(total=len(rows), desc="pretrained features", unit="img", disable=not show, leave=False) as bar:
            for start in range(0, len(rows), self.batch_size):
                batch = rows[start:start + self.batch_size]
                x = prepare(torch.as_tensor(np.ascontiguousarray(X[batch])), training=False)
                if x.shape[1] == 1:
                    x = x.expand(-1, 3, -1, -1)
                if self.image_size is not None and x.shape[-2:] != (self.image_size, self.image_size):
                    x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bilinear",
                                      antialias=True, align_corners=False)
                out.append(self.backbone_.forward_features(x).float().cpu())
                bar.update(len(batch))
        return torch.cat(out).numpy()

    def clear_cache(self):
        """Forget the features held in memory (files in ``cache_dir`` stay)."""
        self.caches_, self.cache_ = {}, None
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        tags.requires_fit = True
        return tags


def _is_mean_std(value):
    try:
        mean, std = value
        return len(mean) == len(std) and len(mean) in (1, 3)
    except (TypeError, ValueError):
        return False


def _check_images(X):
    """A numpy image batch (N, C, H, W) with C in {1, 3}; (N, H, W) gets a channel axis."""
    if isinstance(X, torch.Tensor):
        X = X.numpy()
    if not hasattr(X, "shape") or not hasattr(X, "dtype"):
        X = np.asarray(X)
    if X.ndim == 3:
        X = X[:, None]
    if X.ndim != 4 or X.shape[1] not in (1, 3):
        raise ConfigError(f"X must be images of shape (N, C, H, W) with C = 1 or 3, or (N, H, W); "
                          f"got shape {tuple(X.shape)}")
    if len(X) == 0:
        raise ConfigError("X is empty: it needs at least one image")
    if X.dtype != np.uint8 and not np.issubdtype(X.dtype, np.floating):
        raise ConfigError(f"X must be uint8 or float images, got dtype {X.dtype}")
    if X.dtype != np.uint8 and not np.isfinite(np.asarray(X)).all():
        raise ConfigError("X contains NaN or infinity; clean or impute it first")
    return X


def _save_npy(path, array):
    """``np.save`` (no pickles) written atomically."""
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    atomic_write_bytes(path, buffer.getvalue())
