"""Core-Set: greedy k-center on the current model's penultimate features.

Sener & Savarese, "Active Learning for Convolutional Neural Networks: A Core-Set Approach", ICLR
2018. Repeatedly add the pool point farthest (Euclidean) from the labeled + already chosen points.
"""

import torch

from ..errors import ConfigError
from ..modal_compat import query_result
from ..pool import PoolView
from ..validation import check_number, check_random_state
from ._common import candidates, check_n_instances, pool_size, resolve_net, split_pipeline

DEFAULT_BLOCK_SIZE = 4096
#: Candidates beyond which Core-Set keeps the features in float16 (``feature_dtype=None``).
FLOAT16_ABOVE = 100_000
FEATURE_DTYPES = {"float32": torch.float32, "float16": torch.float16}


def k_center_greedy(pool, labeled_blocks, n_instances, block_size=DEFAULT_BLOCK_SIZE, first=0):
    """Greedy k-center: ``(positions, distances)`` of ``n_instances`` rows of ``pool`` (S, F).

    d(x) = min distance from x to the labeled points and the points chosen so far; each step picks
    argmax_x d(x) (ties: lowest position) and reports that d. ``labeled_blocks`` yields (L_i, F)
    tensors; distances to them are taken ``block_size`` pool rows at a time, so memory beyond the
    pool's features is one block x block distance matrix plus the running minimum d (S,).
    Without any labeled point the first pick is position ``first`` (distance inf). Features kept in
    float16 are widened to float32 block by block: distances are float32 either way.
    """
    dtype = torch.promote_types(pool.dtype, torch.float32)
    min_distance = torch.full((len(pool),), float("inf"), dtype=dtype, device=pool.device)
    for labeled in labeled_blocks:
        for start in range(0, len(labeled), block_size):
            block = labeled[start:start + block_size].to(pool.device, dtype)
            for lo in range(0, len(pool), block_size):
                nearest = torch.cdist(pool[lo:lo + block_size].to(dtype), block).amin(dim=1)
                min_distance[lo:lo + block_size] = torch.minimum(min_distance[lo:lo + block_size], nearest)
    has_labeled = bool(torch.isfinite(min_distance).any())
    picks, distances = [], []
    for i in range(n_instances):
        pick = torch.argmax(min_distance) if i or has_labeled else torch.tensor(first, device=pool.device)
        picks.append(pick)
        distances.append(min_distance[pick].clone())
        center = pool[pick].to(dtype)
        for lo in range(0, len(pool), block_size):
            d = torch.linalg.vector_norm(pool[lo:lo + block_size].to(dtype) - center, dim=1)
            torch.minimum(min_distance[lo:lo + block_size], d, out=min_distance[lo:lo + block_size])
        min_distance[pick] = -float("inf")
    return torch.stack(picks).cpu().numpy(), torch.stack(distances).double().cpu().numpy()


def _labeled_features(classifier, net, X_labeled, block_size):
    """Penultimate features of the labeled rows, ``block_size`` rows at a time (through a Pipeline's steps)."""
    transform, _ = split_pipeline(classifier)
    if transform is not None:
        X_labeled = transform(X_labeled)
    for start in range(0, len(X_labeled), block_size):
        yield net.penultimate_features(X_labeled[start:start + block_size])


def coreset_sampling(classifier, X_pool, n_instances=1, *, subset=None, random_state=None, X_labeled=None,
                     block_size=DEFAULT_BLOCK_SIZE, feature_dtype=None):
    """Core-Set greedy k-center on ``forward_features`` of the current model (:func:`k_center_greedy`).

    The labeled set is the modAL learner's ``X_training``, or ``X_labeled`` (rows as ``X_pool``;
    required to use one with a bare net or Pipeline); without any, the first pick is a random pool
    row (farthest-first from there). Candidates are a random ``subset`` of the pool (None: all).
    Returns picks in greedy order with their distance to the labeled + earlier picks (non-increasing).

    Memory: the candidates' features, F x 4 bytes a row in ``feature_dtype="float32"``, F x 2 in
    ``"float16"`` (None: float32 up to :data:`FLOAT16_ABOVE` candidates, float16 beyond), plus the
    running minimum distance (4 bytes a row) and the candidate positions (8). A million rows of
    SmallCNN features (F = 64) take 134 MB in float16; of ResNet-18 (F = 512), 1.04 GB.
    """
    block_size = check_number(block_size, "block_size", integral=True, low=0, low_open=True)
    if feature_dtype is not None and feature_dtype not in FEATURE_DTYPES:
        raise ConfigError(f"feature_dtype must be None, 'float32' or 'float16', got {feature_dtype!r}")
    n_pool = pool_size(X_pool)
    n_instances = check_n_instances(n_instances, n_pool)
    net, X = resolve_net(classifier, X_pool)
    if X_labeled is None:
        X_labeled = getattr(classifier, "X_training", None)
    rng = check_random_state(random_state)
    rows = candidates(n_pool, n_instances, subset, rng)
    first = int(rng.randint(len(rows)))
    if feature_dtype is None:
        feature_dtype = "float16" if len(rows) > FLOAT16_ABOVE else "float32"
    candidates_X = PoolView(X, rows) if len(rows) < n_pool else X
    pool = net.penultimate_features(candidates_X, dtype=FEATURE_DTYPES[feature_dtype])
    labeled = () if X_labeled is None else _labeled_features(classifier, net, X_labeled, block_size)
    positions, distances = k_center_greedy(pool, labeled, n_instances, block_size, first)
    return query_result(rows[positions], distances)
