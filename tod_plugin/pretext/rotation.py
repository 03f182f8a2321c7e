"""Self-supervised rotation pretext (PT4AL, Yi et al., ECCV 2022; BAL, Li et al., TPAMI 2023).

Every pool image is shown at 0, 90, 180 and 270 degrees and a network learns to predict which
(4-way cross-entropy, no labels needed). Its per-image loss orders the pool for PT4AL, its
penultimate features are clustered for BAL.

Training follows the references' ``rotation.py``: a step takes a batch of B *images*, gives each
one random crop and flip (the task's training augmentation), then stacks the four rotations of
every image (4B rows, one forward pass) with loss = mean of the four rotations' cross-entropies.
SGD lr 0.1, momentum 0.9, weight decay 5e-4, x0.1 at the absolute epochs 30, 60 and 90 (BAL
trains 120 epochs; PT4AL 15, so its rate never drops).
"""
import numpy as np
import torch
from skorch.dataset import unpack_data
from torch.nn import functional as F

from ..errors import ConfigError
from ..estimator import ALNetClassifier
from ..lr_schedules import lr_scheduler
from ..pool import dtype_of, is_lazy, read_in_order

N_ROTATIONS = 4
REFERENCE_MILESTONES = (30, 60, 90)


def rotations(X):
    """``(X_rot, labels)``: image i rotated by 90*k degrees (``torch.rot90`` over H, W) is row 4i + k.

    ``X`` is (N, C, H, W) with H == W, any dtype (uint8 stays uint8); ``labels`` are 0..3.
    """
    x = torch.as_tensor(np.ascontiguousarray(X))
    _check_square(x.shape)
    stacked = torch.stack([torch.rot90(x, k, dims=(2, 3)) for k in range(N_ROTATIONS)], dim=1)
    return stacked.reshape(-1, *x.shape[1:]).numpy(), np.tile(np.arange(N_ROTATIONS), len(x))


def _check_square(shape):
    if len(shape) != 4 or shape[2] != shape[3]:
        raise ConfigError(f"the rotation pretext needs square images (N, C, H, H); got shape {tuple(shape)}")


class RotatedPool:
    """The rows of :func:`rotations` of a lazily read pool ``X``, read on demand: row 4i + k is image i
    rotated by 90*k degrees. Reading rows reads their images (ascending) and rotates them; the four
    rotations of the pool are never held in memory."""

    def __init__(self, X):
        _check_square(X.shape)
        self.X = X
        self.shape = (N_ROTATIONS * len(X),) + tuple(X.shape[1:])
        self.dtype = dtype_of(X)

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, key):
        index = np.arange(len(self))[key] if isinstance(key, slice) else np.asarray(key, dtype=np.intp)
        images = torch.as_tensor(read_in_order(self.X, index // N_ROTATIONS))
        turns = torch.as_tensor(index % N_ROTATIONS)
        out = images.clone()
        for k in range(1, N_ROTATIONS):
            out[turns == k] = torch.rot90(images[turns == k], k, dims=(2, 3))
        return out.numpy()


def rotated(X):
    """``(X_rot, labels)`` as :func:`rotations`; for a lazily read pool, ``X_rot`` is a :class:`RotatedPool`."""
    if not is_lazy(X):
        return rotations(X)
    return RotatedPool(X), np.tile(np.arange(N_ROTATIONS), len(X))


class RotationPretextNet(ALNetClassifier):
    """An ``ALNetClassifier`` whose training step is the references' rotation step.

    ``fit(X)`` takes images only. Each batch of B images is augmented once per image (the net's
    ``crop_padding`` / ``hflip``), then its rotations by 0, 90, 180, 270 degrees are stacked into
    4B rows labeled 0..3; the loss is their mean cross-entropy (= the mean of the four per-rotation
    means). Prediction, scoring and features work on whatever rows they are given, as for any net.
    """

    def fit(self, X, y=None, **fit_params):
        """Train on the images ``X`` (N, C, H, H); ``y`` is ignored (the rotations are the labels)."""
        _check_square(X.shape if hasattr(X, "shape") else np.shape(X))  # a lazy pool: its shape, no read
        return super().fit(X, np.zeros(len(X), dtype=np.int64), **fit_params)

    def train_step_single(self, batch, **fit_params):
        self._set_training(True)
        images, _ = unpack_data(batch)
        stacked = torch.cat([torch.rot90(images, k, dims=(2, 3)) for k in range(N_ROTATIONS)])
        labels = torch.arange(N_ROTATIONS, device=stacked.device).repeat_interleave(len(images))
        with self.autocast():
            logits = self.infer(stacked, **fit_params)
            loss = F.cross_entropy(logits.float(), labels)
        loss.backward()
        return {"loss": loss, "y_pred": logits}


def pretext_net(task_net, module=None, epochs=15, lr=0.1, batch_size=256, random_state=None,
                milestones=REFERENCE_MILESTONES, augment=True):
    """An unfitted :class:`RotationPretextNet` (4 classes) set up like ``task_net``.

    ``module`` defaults to the task net's module class and its ``module__*`` parameters (with
    ``num_classes=4``); device, normalisation and evaluation batch size are the task net's, and so
    are crop padding and flips when ``augment`` (a flip happens before the rotations, so it never
    turns 90 degrees into 270). SGD (momentum 0.9, weight decay 5e-4), ``batch_size`` images per
    step, ``lr`` x0.1 at each of ``milestones`` (absolute epochs; those past ``epochs`` never fire).
    """
    module_params = {}
    if module is None:
        module = task_net.module
        if isinstance(module, torch.nn.Module):
            raise ConfigError("the task net's module is an instance; give the sampler module=<a module class> "
                              "for the rotation pretext network")
        module_params = {f"module__{k}": v for k, v in task_net.get_params_for("module").items() if k != "num_classes"}
    schedule = lr_scheduler("multistep", epochs, list(milestones))
    return RotationPretextNet(
        module,
        **module_params,
        module__num_classes=N_ROTATIONS,
        classes=np.arange(N_ROTATIONS),
        max_epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        random_state=random_state,
        device=task_net.device,
        normalize=task_net.normalize,
        crop_padding=task_net.crop_padding if augment else 0,
        hflip=bool(task_net.hflip) if augment else False,
        eval_batch_size=task_net.eval_batch_size,
        callbacks=[("lr_schedule", schedule)] if schedule is not None else [],
    )


def rotation_losses(net, X):
    """Per-image pretext loss: the mean of its 4 rotations' cross-entropies (eval mode), float64 (N,)."""
    X_rot, labels = rotated(X)
    logits = net.forward(X_rot)
    losses = F.cross_entropy(logits.float(), torch.as_tensor(labels), reduction="none")
    return losses.reshape(-1, N_ROTATIONS).mean(dim=1).double().numpy()


def fit_rotation_pretext(net, X):
    """Train ``net`` (see :func:`pretext_net`) on the images of ``X``; returns it."""
    return net.fit(X)


def pretext_features(net, X):
    """Penultimate features of the UNROTATED images (the reference's random rotation is noise), (N, F) CPU."""
    return net.penultimate_features(X).cpu()
