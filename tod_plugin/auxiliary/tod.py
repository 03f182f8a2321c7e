"""The TOD unsupervised auxiliary loss (Huang et al., ICCV 2021, section 3.3).

With h the main head, h' the second head and h_ema the EMA teacher's main head, and
MSE = mean over batch and classes of squared logit differences:

    L_aux = MSE(h(x_l), h'(x_l)) + MSE(h(x_u), h'(x_u)) + MSE(h'(x_l), h_ema(x_l)) + MSE(h'(x_u), h_ema(x_u))

The total loss is CE(h(x_l), y) + lambda * L_aux. The teacher's logits carry no gradient.
"""
import torch
from torch.nn import functional as F

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
