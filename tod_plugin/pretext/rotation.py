"""Self-supervised rotation pretext (PT4AL, Yi et al., ECCV 2022; BAL, Li et al., TPAMI 2023).

Every pool image is shown at 0, 90, 180 and 270 degrees and a network learns to predict which
(4-way cross-entropy, no labels needed). Its per-image loss orders the pool for PT4AL, its
penultimate features are clustered for BAL.
"""
import numpy as np
import torch
from torch.nn import functional as F

from ..errors import ConfigError
from ..estimator import ALNetClassifier
from ..inference import penultimate_features
from ..lr_schedules import lr_scheduler
from ..pool import dtype_of, is_lazy, read_in_order

N_ROTATIONS = 4
MILESTONE_FRACTIONS = (0.25, 0.5, 0.75)  # 30 / 60 / 90 of the reference's 120 epochs


def rotations(X):
    """``(X_rot, labels)``: image i rotated by 90*k degrees (``torch.rot90`` over H, W) is row 4i + k.

    ``X`` is (N, C, H, W) with H == W, any dtype (uint8 stays uint8); ``labels`` are 0..3.
    """
    x = torch.as_tensor(np.ascontiguousarray(X))
    if x.ndim != 4 or x.shape[2] != x.shape[3]:
        raise ConfigError(f"the rotation pretext needs square images (N, C, H, H); got shape {tuple(x.shape)}")
    stacked = torch.stack([torch.rot90(x, k, dims=(2, 3)) for k in range(N_ROTATIONS)], dim=1)
    return stacked.reshape(-1, *x.shape[1:]).numpy(), np.tile(np.arange(N_ROTATIONS), len(x))


class RotatedPool:
    """The rows of :func:`rotations` of a lazily read pool ``X``, read on demand: row 4i + k is image i
    rotated by 90*k degrees. Reading rows reads their images (ascending) and rotates them; the four
    rotations of the pool are never held in memory."""

    def __init__(self, X):
        if len(X.shape) != 4 or X.shape[2] != X.shape[3]:
            raise ConfigError(f"the rotation pretext needs square images (N, C, H, H); got shape {tuple(X.shape)}")
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


def pretext_net(task_net, module=None, epochs=15, lr=0.1, batch_size=256, random_state=None):
    """An unfitted 4-way ``ALNetClassifier`` for the rotation task, set up like ``task_net``.

    ``module`` defaults to the task net's module class and its ``module__*`` parameters (with
    ``num_classes=4``); device, normalisation, crop padding and evaluation batch size are the task
    net's. No flips (a flip turns 90 degrees into 270). SGD (momentum 0.9, weight decay 5e-4),
    ``lr`` x0.1 at 25/50/75% of ``epochs`` (30/60/90 of 120 in the reference).
    """
    module_params = {}
    if module is None:
        module = task_net.module
        if isinstance(module, torch.nn.Module):
            raise ConfigError("the task net's module is an instance; give the sampler module=<a module class> "
                              "for the rotation pretext network")
        module_params = {f"module__{k}": v for k, v in task_net.get_params_for("module").items() if k != "num_classes"}
    milestones = sorted({max(1, int(round(f * epochs))) for f in MILESTONE_FRACTIONS})
    return ALNetClassifier(
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
        crop_padding=task_net.crop_padding,
        eval_batch_size=task_net.eval_batch_size,
        callbacks=[("lr_schedule", lr_scheduler("multistep", epochs, milestones))],
    )


def rotation_losses(net, X):
    """Per-image pretext loss: the mean of its 4 rotations' cross-entropies (eval mode), float64 (N,)."""
    X_rot, labels = rotated(X)
    logits = net.forward(X_rot)
    losses = F.cross_entropy(logits.float(), torch.as_tensor(labels), reduction="none")
    return losses.reshape(-1, N_ROTATIONS).mean(dim=1).double().numpy()


def fit_rotation_pretext(net, X):
    """Train ``net`` (see :func:`pretext_net`) on the 4 rotations of every image of ``X``; returns it."""
    X_rot, labels = rotated(X)
    return net.fit(X_rot, labels)


def pretext_features(net, X):
    """Penultimate features of the UNROTATED images (the reference's random rotation is noise), (N, F) CPU."""
    return penultimate_features(net, X).cpu()
