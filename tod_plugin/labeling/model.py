"""The project's network: built from the settings, trained on the labels, saved as data.

The net is ``tod-al run``'s (``experiment.loop.build_net``: the same ALNetClassifier, schedule,
hooks and auxiliary loss for the strategy), warm-started across rounds as in the TOD protocol
(ST-CoNAL's protocol re-initialises). A checkpoint is ``torch.save`` of state dicts only — the
current weights, the COD reference weights (those the latest fit started from), the LL4AL loss
module where there is one — loaded with ``torch.load(weights_only=True)``; everything else
(how many fits, the classes) is JSON in the project's state, and the network is rebuilt from the
settings, so loading a project never runs code from it.
"""
import hashlib
import io

import numpy as np
import torch

from ..atomic import atomic_write_bytes
from ..auxiliary import resolve_auxiliary
from ..data.spec import ImageDataset
from ..errors import ConfigError
from ..experiment.config import split_strategy
from ..experiment.loop import build_net
from ..experiment.strategies import STRATEGIES
from ..states import module_state


def round_seed(seed, number):
    """The seed of round ``number`` of a project seeded with ``seed`` (the same on every machine)."""
    return int(np.random.SeedSequence([seed, number]).generate_state(1)[0] >> 1)


def strategy_spec(settings):
    return STRATEGIES[split_strategy(settings.strategy)[0]]


def new_net(settings, classes, number):
    """An unfitted net for ``classes`` with the settings' model and strategy, seeded for round ``number``."""
    config = settings.run_config()
    size = settings.image_size
    # build_net reads only the data's channels, classes, normalisation and augmentation: no images here
    shape = ImageDataset(name="labeling", X_train=np.empty((0, 3, size, size), np.uint8), y_train=np.empty(0),
                         X_test=None, y_test=None, class_names=list(classes), mean=settings.mean, std=settings.std,
                         crop_padding=settings.crop_padding, hflip=settings.hflip)
    spec = strategy_spec(settings)
    return build_net(config, shape, round_seed(settings.seed, number), spec.make_hooks(config),
                     auxiliary=config.auxiliary_for(settings.strategy),
                     warm_start=not config.reinit_for(settings.strategy), strategy=settings.strategy)


def initialized(net, settings):
    """``net`` initialised (untrained weights) for inputs of the project's image size."""
    net.input_shape_ = (3, settings.image_size, settings.image_size)
    net.n_features_in_ = int(np.prod(net.input_shape_))
    net.initialize()
    return net


def uses_pool(settings):
    """Whether training reads the unlabeled pool (the TOD auxiliary loss)."""
    return resolve_auxiliary(settings.run_config().auxiliary_for(settings.strategy)[0]).uses_pool


def needs_own_fit(settings):
    """Whether the strategy's scores need state recorded while training (TOD's and ST-CoNAL's
    snapshots), so that a query must train even when the labels did not change."""
    return bool(strategy_spec(settings).hooks)


def save_checkpoint(net, folder):
    """Write the net's state dicts to ``folder/<content hash>.pt`` (atomically); returns the file name."""
    payload = {"module": module_state(net.module_), "reference": dict(net.reference_state_)}
    if getattr(net, "loss_module_", None) is not None:
        payload["loss_module"] = module_state(net.loss_module_)
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    data = buffer.getvalue()
    name = hashlib.sha256(data).hexdigest()[:20] + ".pt"
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(folder / name, data)
    return name


def load_checkpoint(net, path, n_fits, settings):
    """``net`` initialised and holding the checkpoint at ``path`` (written by :func:`save_checkpoint`
    after ``n_fits`` fits)."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # missing, truncated, or holding objects other than tensors
        raise ConfigError(f"the model checkpoint {path} does not load ({type(exc).__name__}); the project is "
                          "damaged") from None
    initialized(net, settings)
    try:
        net.module_.load_state_dict(payload["module"])
        reference = dict(payload["reference"])
        net.copy_module_with(reference)  # the reference must fit the model too
        if getattr(net, "loss_module_", None) is not None:
            net.loss_module_.load_state_dict(payload["loss_module"])
    except (KeyError, TypeError, RuntimeError, AttributeError) as exc:
        raise ConfigError(f"the model checkpoint {path} does not fit the project's model {settings.model!r} "
                          f"({type(exc).__name__}); the project is damaged") from None
    net.reference_state_ = reference
    net.reference_is_initial_ = n_fits <= 1
    net.n_fits_ = n_fits
    return net


def train(net, X, y, X_pool, settings):
    """One (warm-started) fit on the labeled images ``X`` with class indices ``y``."""
    extra = {"X_unlabeled": X_pool} if uses_pool(settings) else {}
    return net.fit(X, y, **extra)
