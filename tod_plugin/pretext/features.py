"""Penultimate features of a network over an array, in the net's evaluation batches."""
import torch


def penultimate_features(net, X, module=None):
    """``module.forward_features`` of every row of ``X`` as one float32 tensor on the net's device.

    ``module`` defaults to ``net.module_``; it runs in eval mode (its mode is restored after).
    Inputs are prepared exactly as for ``net.predict_proba`` (no augmentation).
    """
    module = net.module_ if module is None else module
    if not hasattr(module, "forward_features"):
        raise TypeError(f"{type(module).__name__} has no forward_features(x) giving penultimate features")
    was_training = module.training
    module.eval()
    try:
        with torch.inference_mode():
            return torch.cat([module.forward_features(x).float().flatten(1) for x in net.iter_batches(X)])
    finally:
        module.train(was_training)
