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


# ---------------------------------------------------------------- uncertainty, BALD, BADGE, TypiClust
@same_kind
def predictive_entropy(logits):
    """Entropy of the prediction: H(p) = -sum_c p_c log p_c, p = softmax(z) (0 log 0 = 0).

    Shannon's entropy as the uncertainty of a classifier (Settles, "Active Learning Literature
    Survey", 2009). Logits are (N, C); returns (N,) in float32, in nats, between 0 and log C.
    """
    log_p = torch.log_softmax(logits.float(), dim=-1)
    return -(log_p.exp() * log_p).nan_to_num(0.0).sum(dim=-1)


@same_kind
def probability_margin(logits):
    """Margin: p_(1) - p_(2), the gap between the two largest of p = softmax(z) (small = uncertain).

    Scheffer et al., "Active Hidden Markov Models for Information Extraction", IDA 2001.
    Logits are (N, C) with C >= 2; returns (N,) in float32, in [0, 1].
    """
    top2 = torch.softmax(logits.float(), dim=-1).topk(2, dim=-1).values
    return top2[..., 0] - top2[..., 1]


@same_kind
def least_confidence(logits):
    """Least confidence: 1 - max_c p_c, p = softmax(z) (Lewis & Gale, SIGIR 1994).

    Logits are (N, C); returns (N,) in float32, in [0, 1 - 1/C].
    """
    return 1.0 - torch.softmax(logits.float(), dim=-1).amax(dim=-1)


MI_ROUNDING = 1e-6


@same_kind
def mutual_information(logits):
    """BALD: I(x) = H(mean_t p_t) - mean_t H(p_t), the information between the prediction and the weights.

    Houlsby et al., "Bayesian Active Learning for Classification and Preference Learning", 2011;
    Gal, Islam, Ghahramani, "Deep Bayesian Active Learning with Image Data", ICML 2017. ``logits``
    are (N, T, C): T stochastic (MC dropout) passes; p_t = softmax(z_t). Returns (N,) float32 >= 0;
    T identical passes give 0: values under ``MI_ROUNDING`` nats (what float32 rounding of equal
    passes computed at different rows of a batch leaves) are reported as 0.
    """
    log_p = torch.log_softmax(logits.float(), dim=-1)
    p = log_p.exp()
    mean_p = p.mean(dim=1)
    entropy_of_mean = -(mean_p * mean_p.clamp_min(torch.finfo(mean_p.dtype).tiny).log()).sum(dim=-1)
    mean_entropy = -(p * log_p).nan_to_num(0.0).sum(dim=-1).mean(dim=1)
    information = entropy_of_mean - mean_entropy
    return torch.where(information < MI_ROUNDING, torch.zeros_like(information), information)


@same_kind
def predicted_label_residual(logits):
    """BADGE's class factor: p - e_y^, y^ = argmax p, p = softmax(z). Logits (N, C); returns (N, C) float32.

    The gradient of CE(z, y^) with respect to the logits; see :func:`gradient_embedding`.
    """
    p = torch.softmax(logits.float(), dim=-1)
    return p - torch.nn.functional.one_hot(p.argmax(dim=-1), p.shape[-1]).to(p.dtype)


@same_kind
def gradient_embedding(logits, features):
    """BADGE's gradient embedding g(x) = (p - e_y^) ⊗ h, flattened to (N, C * D) float32.

    Ash et al., "Deep Batch Active Learning by Diverse, Uncertain Gradient Lower Bounds", ICLR 2020:
    the gradient of CE(W h + b, y^) with respect to the last layer's weights W (C, D), y^ the
    predicted label, h the penultimate features (N, D). ||g||^2 = ||p - e||^2 ||h||^2 and
    <g, g'> = <p - e, p' - e'> <h, h'>, so BADGE's sampler never forms g; this is for checking.
    """
    residual = predicted_label_residual(logits)
    return (residual[:, :, None] * features.float()[:, None, :]).flatten(1)


@same_kind
def typicality(neighbour_distances):
    """TypiClust's typicality: ( (1/k) sum_{x' in kNN(x)} ||f(x) - f(x')|| )^(-1).

    Hacohen, Dekel, Weinshall, "Active Learning on a Budget: Opposite Strategies Suit High and Low
    Budgets", ICML 2022. ``neighbour_distances`` is (N, k), the distances to the k nearest other
    points; returns (N,) float64 (a point whose k neighbours coincide with it gets inf).
    """
    return 1.0 / neighbour_distances.double().mean(dim=-1)
