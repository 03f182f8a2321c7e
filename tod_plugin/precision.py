"""Numeric precision and memory layout of the forward passes.

``precision="bf16"`` runs forward passes and losses under ``torch.autocast(dtype=bfloat16)``
(matmuls and convolutions in bf16, reductions and losses in fp32; weights, gradients and the
optimizer stay fp32, so no loss scaling is needed). ``"auto"`` is bf16 on a CUDA device that
supports it and fp32 elsewhere; on CPU bf16 is an explicit opt-in.

``channels_last="auto"`` is the NHWC layout on CUDA (where cuDNN's bf16 convolutions want it) and
on CPU (oneDNN: 1.2-1.5x faster training of the small CNN and the CIFAR ResNet-18 on a 2-core Xeon,
see benchmarks/) for modules that declare ``supports_channels_last = True`` (the plugin's own
networks, ``models.StagedNet``), NCHW otherwise. A module of the user's may call ``.view()`` on a
feature map, which fails on an NHWC tensor, so the fast layout is never imposed on a module that
did not ask for it; ``channels_last=True`` applies it to any module.
"""
import contextlib

import torch

from .errors import ConfigError

PRECISIONS = ("auto", "fp32", "bf16")


def check_precision(precision):
    if precision not in PRECISIONS:
        raise ConfigError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    return precision


def check_channels_last(channels_last):
    if not (isinstance(channels_last, bool) or channels_last == "auto"):
        raise ConfigError(f"channels_last must be 'auto', True or False, got {channels_last!r}")
    return channels_last


def resolve_precision(precision, device):
    """``"fp32"`` or ``"bf16"``: what ``precision`` means on ``device`` (a resolved device, not "auto")."""
    check_precision(precision)
    if precision == "auto":
        return "bf16" if torch.device(device).type == "cuda" and torch.cuda.is_bf16_supported() else "fp32"
    return precision


def resolve_channels_last(channels_last, device, module):
    """Whether 4-D inputs and weights use the channels-last layout for ``module`` (a class or an
    instance) on ``device``: ``"auto"`` only for a module declaring ``supports_channels_last``."""
    check_channels_last(channels_last)
    if channels_last != "auto":
        return channels_last
    return torch.device(device).type in ("cuda", "cpu") and getattr(module, "supports_channels_last", False) is True


def autocast(precision, device):
    """The autocast context of ``precision`` on ``device`` (a no-op context for fp32)."""
    if resolve_precision(precision, device) == "bf16":
        return torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
