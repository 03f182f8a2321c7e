"""One batched pass over a pool that feeds several models per batch.

Each batch is prepared once (to the device, float, normalised) and given to every model; a
scoring function reduces the models' logits to one score per sample straight away, so memory
beyond the pool itself is one batch of activations plus the score vector.
"""
import numpy as np
import torch

from .estimator import main_output


def score_pool(net, X, models, score_fn):
    """Scores of ``score_fn(*[model(x) for model in models])`` over ``X``, as a float64 array.

    ``models`` are eval-mode modules on the net's device (``net.module_`` and copies made with
    ``net.copy_module_with``); inputs are prepared exactly as for ``net.predict_proba``.
    """
    was_training = [m.training for m in models]
    for m in models:
        m.eval()
    scores = []
    try:
        with torch.inference_mode():
            for x in net.iter_batches(X):
                outputs = [main_output(m(x)) for m in models]
                scores.append(score_fn(*outputs).float().cpu())
    finally:
        for m, mode in zip(models, was_training):
            m.train(mode)
    return torch.cat(scores).numpy().astype(np.float64)
