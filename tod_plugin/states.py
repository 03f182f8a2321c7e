"""Copies of a module's weights that outlive the module: CPU, detached, picklable without CUDA."""


def module_state(module):
    """A detached CPU copy of a module's ``state_dict`` (picklable without CUDA)."""
    return {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}
