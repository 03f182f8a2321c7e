"""Scoring functions: model outputs in, one score per sample out. No I/O, no modAL."""
import torch


def output_discrepancy(logits, reference_logits):
    """COD / TOD score: s(x) = 1/2 * || softmax(z(x)) - softmax(z_ref(x)) ||_2^2.

    Huang et al., "Semi-Supervised Active Learning with Temporal Output Discrepancy", ICCV 2021.
    ``logits`` and ``reference_logits`` are (N, C); returns (N,) in float32.
    """
    p = torch.softmax(logits.float(), dim=1)
    q = torch.softmax(reference_logits.float(), dim=1)
    return 0.5 * (p - q).pow(2).sum(dim=1)
