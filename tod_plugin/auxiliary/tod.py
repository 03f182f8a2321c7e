"""The TOD unsupervised auxiliary loss (Huang et al., ICCV 2021, section 3.3).

With h the main head, h' the second head and h_ema the EMA teacher's main head, and
MSE = mean over batch and classes of squared logit differences:

    L_aux = MSE(h(x_l), h'(x_l)) + MSE(h(x_u), h'(x_u)) + MSE(h'(x_l), h_ema(x_l)) + MSE(h'(x_u), h_ema(x_u))

The total loss is CE(h(x_l), y) + lambda * L_aux. The teacher's logits carry no gradient.
"""
import torch
from torch.nn import functional as F

from ..hooks.ema import EMATeacher
from .base import AuxiliaryLoss

#: lambda per dataset (METHODS section 3).
TOD_AUX_WEIGHTS = {"cifar10": 0.02, "cifar100": 0.05, "svhn": 0.005, "caltech101": 0.1}


def tod_consistency_loss(main_l, aux_l, teacher_l, main_u=None, aux_u=None, teacher_u=None):
    """L_aux above; the unlabeled terms are left out when ``main_u`` is None (empty pool)."""
    loss = F.mse_loss(main_l, aux_l) + F.mse_loss(aux_l, teacher_l.detach())
    if main_u is not None:
        loss = loss + F.mse_loss(main_u, aux_u) + F.mse_loss(aux_u, teacher_u.detach())
    return loss


def teacher_logits(teacher, x):
    """The teacher's main-head logits with train-mode BatchNorm (as the reference), no gradient."""
    teacher.train()
    with torch.no_grad():
        return teacher(x)


class TODLoss(AuxiliaryLoss):
    """``auxiliary="tod"`` (Huang et al. 2021, eq. 6): L_aux of the labeled batch and of a fresh
    unlabeled batch of the same size from the fit's pool (left out when the fit has none), with the
    teacher of the net's ``EMATeacher`` hook; the module gets its second head (``aux_head=True``)."""

    name = "tod"
    default_weight = 0.02  # CIFAR-10's lambda
    dataset_weights = TOD_AUX_WEIGHTS
    uses_pool = True
    module_params = {"aux_head": True}
    required_hooks = {EMATeacher: "an EMA teacher"}

    def forward(self, net, x, y, fit):
        teacher = net.hook(EMATeacher).teacher_
        main_l, aux_l = net.module_.forward_heads(x)
        unlabeled = {}
        if fit.unlabeled is not None:
            x_u = fit.unlabeled.next(len(x))
            main_u, aux_u = net.module_.forward_heads(x_u)
            unlabeled = {"main_u": main_u, "aux_u": aux_u, "teacher_u": teacher_logits(teacher, x_u)}
        return main_l, tod_consistency_loss(main_l, aux_l, teacher_logits(teacher, x), **unlabeled)
