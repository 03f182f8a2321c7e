"""BADGE: k-means++ seeding on the last layer's gradient embeddings, without forming them.

Ash, Zhang, Krishnamurthy, Langford, Agarwal, "Deep Batch Active Learning by Diverse, Uncertain
Gradient Lower Bounds", ICLR 2020.
"""
import torch
from sklearn.utils import check_random_state
from torch import nn

from ..modal_compat import query_result
from ..scoring import predicted_label_residual
from ._common import candidates, check_n_instances, pool_size, resolve_net


class LogitsAndFeatures(nn.Module):
    """``[fc(h) | h]`` (B, C + D) from one pass: h = ``module.forward_features(x)``, ``fc`` its linear head."""

    def __init__(self, module):
        super().__init__()
        if not (hasattr(module, "forward_features") and isinstance(getattr(module, "fc", None), nn.Linear)):
            raise TypeError(f"badge_sampling needs a network with forward_features(x) and a linear head fc "
                            f"(the plugin's networks); {type(module).__name__} lacks one")
        self.module = module
        self.train(module.training)  # score_pool restores this mode on the whole module afterwards

    def forward(self, x):
        features = self.module.forward_features(x).flatten(1)
        return torch.cat([self.module.fc(features), features], dim=1)


def _first_column(outputs):
    return outputs[:, 0]


def kmeans_pp_on_gradients(residual, features, n_instances, rng):
    """Positions of ``n_instances`` k-means++ seeds of g_i = r_i ⊗ h_i, in pick order.

    ``residual`` (N, C) and ``features`` (N, D) are float64 tensors. The first seed is the largest
    ||g||^2 = ||r||^2 ||h||^2 (ties: lowest position); each next one is drawn with probability
    proportional to its squared distance to the nearest seed so far,
    ||g_i - g_j||^2 = ||g_i||^2 + ||g_j||^2 - 2 <r_i, r_j> <h_i, h_j>. Memory O(N (C + D)): no
    (N, C D) embedding and no N x N matrix. When every remaining distance is 0 (duplicates), the
    next seed is uniform among the rows not picked yet.
    """
    squared_norms = residual.pow(2).sum(1) * features.pow(2).sum(1)
    picks = [int(torch.argmax(squared_norms))]
    nearest = torch.full_like(squared_norms, float("inf"))
    picked = torch.zeros(len(squared_norms), dtype=torch.bool, device=squared_norms.device)
    for _ in range(n_instances - 1):
        j = picks[-1]
        picked[j] = True
        distance = squared_norms + squared_norms[j] - 2 * (residual @ residual[j]) * (features @ features[j])
        nearest = torch.minimum(nearest, distance.clamp_min(0.0))
        weights = torch.where(picked, torch.zeros_like(nearest), nearest).cpu().numpy()
        if weights.sum() <= 0:
            weights = (~picked).cpu().numpy().astype(float)
        picks.append(int(rng.choice(len(weights), p=weights / weights.sum())))
    return picks


def badge_sampling(classifier, X_pool, n_instances=1, *, subset=None, random_state=None):
    """BADGE: k-means++ seeds of the gradient embeddings g(x) = (p - e_y^) ⊗ h(x) of the candidates.

    y^ = argmax p is the predicted label, h the penultimate features; g is the gradient of
    CE(z, y^) with respect to the last linear layer's weights (:func:`~tod_plugin.scoring.gradient_embedding`).
    Large ||g|| means uncertain (p far from one-hot) and distant seeds mean diverse;
    :func:`kmeans_pp_on_gradients` seeds without forming g. One pass over the candidates (a random
    ``subset`` of the pool, None: all), then O(n_instances x N (C + D)) work. The seeding draws
    from ``random_state``. k-means++ gives no per-row score: the returned scores are the pick
    order, ``n_instances`` for the first pick down to 1.
    """
    n_pool = pool_size(X_pool)
    n_instances = check_n_instances(n_instances, n_pool)
    net, X = resolve_net(classifier, X_pool)
    rng = check_random_state(random_state)
    rows = candidates(n_pool, n_instances, subset, rng)
    [model] = net.scoring_models([LogitsAndFeatures])
    _, outputs = net.score_pool(X[rows] if len(rows) < n_pool else X, _first_column, [model], keep=0)
    n_classes = model.module.fc.out_features
    outputs = outputs.double()
    positions = kmeans_pp_on_gradients(predicted_label_residual(outputs[:, :n_classes]), outputs[:, n_classes:],
                                       n_instances, rng)
    return query_result(rows[positions], range(n_instances, 0, -1))
