"""Scoring functions: model outputs in, one score per sample out. No I/O, no modAL.

Each takes torch tensors or numpy arrays (e.g. scikit-activeml's ``predict_proba(extra_outputs=
"logits")``, baal's numpy predictions) and returns the same kind: torch in, torch out (on the
inputs' device); numpy or other array-likes in, numpy out.
"""
import functools

import numpy as np
import torch


def same_kind(function):
    """Run ``function`` on tensors; hand numpy (array-like) inputs back a numpy result."""

    @functools.wraps(function)
    def wrapper(*arrays, **kwargs):
        tensors = [isinstance(a, torch.Tensor) for a in arrays]
        if all(tensors):
            return function(*arrays, **kwargs)
        if any(tensors):
            raise TypeError(f"{function.__name__} takes all torch tensors or all numpy arrays, not a mix")
        return function(*(torch.as_tensor(np.array(a)) for a in arrays), **kwargs).numpy()  # a copy: any strides

    return wrapper


@same_kind
def output_discrepancy(logits, reference_logits):
    """COD / TOD score: s(x) = 1/2 * || softmax(z(x)) - softmax(z_ref(x)) ||_2^2.

    Huang et al., "Semi-Supervised Active Learning with Temporal Output Discrepancy", ICCV 2021.
    ``logits`` and ``reference_logits`` are (N, C); returns (N,) in float32.
    """
    p = torch.softmax(logits.float(), dim=1)
    q = torch.softmax(reference_logits.float(), dim=1)
    return 0.5 * (p - q).pow(2).sum(dim=1)


@same_kind
def sharpened_kl(teacher_logits, *student_logits, temperature=0.7):
    """ST-CoNAL score: (1/K) * sum_k KL(q || p_k), q the teacher's softmax sharpened by ``temperature``.

    Baik, Yoon, Choi, "ST-CoNAL: Consistency-Based Acquisition Criterion Using Temporal
    Self-Ensemble for Active Learning", ACCV 2022. q_c = p_T,c^(1/tau) / sum_j p_T,j^(1/tau), which
    is softmax(z_T / tau); p_k = softmax(z_k). Computed in log space, so a q_c that underflows to
    0 contributes 0 instead of 0 * log 0 = NaN. Logits are (N, C); returns (N,) in float32.
    """
    if not student_logits:
        raise ValueError("sharpened_kl needs at least one student's logits")
    log_q = torch.log_softmax(teacher_logits.float() / temperature, dim=1)
    q = log_q.exp()
    total = torch.zeros(len(log_q), dtype=log_q.dtype, device=log_q.device)
    for logits in student_logits:
        log_p = torch.log_softmax(logits.float(), dim=1)
        total += torch.where(q > 0, q * (log_q - log_p), torch.zeros_like(q)).sum(dim=1)
    return total / len(student_logits)


@same_kind
def normalized_confidence(logits):
    """BAL / PT4AL confidence: conf(x) = max_c softmax(z / ||z||_2)_c (logits L2-normalised before softmax).

    Li et al., "Balancing Diversity and Novelty for Active Learning", TPAMI 2023; the PT4AL reference
    code (Yi et al., ECCV 2022) scores the same. All-zero logits
    stay zero (uniform softmax). Logits are (N, C); returns (N,) in float32.
    """
    z = logits.float()
    z = z / z.norm(dim=1, keepdim=True).clamp_min(torch.finfo(z.dtype).tiny)
    return torch.softmax(z, dim=1).amax(dim=1)


@same_kind
def cluster_distance_difference(features, centroids):
    """BAL's CDD(x) = d2 - d1: Euclidean distances to the second-nearest and the nearest centroid.

    Small values lie between clusters (ambiguous). ``features`` is (N, F), ``centroids`` (k, F)
    with k >= 2; returns (N,) in the features' floating dtype.
    """
    if len(centroids) < 2:
        raise ValueError(f"cluster_distance_difference needs at least 2 centroids, got {len(centroids)}")
    distances = torch.cdist(features, centroids.to(features.dtype), compute_mode="donot_use_mm_for_euclid_dist")
    nearest = distances.topk(2, dim=1, largest=False).values
    return nearest[:, 1] - nearest[:, 0]
