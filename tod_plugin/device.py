"""The ``device="auto"`` parameter: resolved where tensors are placed, kept verbatim as a parameter."""
import functools
from contextlib import contextmanager

import torch


def resolve_device(device):
    """``"auto"`` means CUDA when available, else CPU; anything else is returned unchanged."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


@contextmanager
def resolved_device(net):
    """``net.device`` resolved inside the block; the parameter keeps its verbatim value outside."""
    requested = net.__dict__.get("device")
    if requested != "auto":
        yield
        return
    net.__dict__["device"] = resolve_device(requested)
    try:
        yield
    finally:
        net.__dict__["device"] = requested


def on_resolved_device(method):
    """Run a net's ``method`` under :func:`resolved_device`."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with resolved_device(self):
            return method(self, *args, **kwargs)

    return wrapper
