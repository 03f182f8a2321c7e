"""Uncertainty of one prediction: entropy, margin and least confidence of the current model's softmax.

The three classic scores (Settles, "Active Learning Literature Survey", 2009), the baselines of the
TOD, ST-CoNAL and BAL papers' tables, ranked by the plugin's template (:func:`rank_pool`): the net's
scoring pass, subset, ties in pool order, both modAL contracts, Pipelines. modAL's own
``entropy_sampling`` etc. work with the net too; these add the template's batched pass and subset.
"""
from ..scoring import least_confidence, predictive_entropy, probability_margin
from ._common import rank_pool


def _rank(classifier, X_pool, n_instances, subset, random_state, score_fn, highest):
    """:func:`rank_pool` of ``score_fn`` on the current model's logits (one pass over the candidates)."""

    return rank_pool(classifier, X_pool, n_instances, subset, random_state, lambda net, X: net.score_pool(X, score_fn),
                     highest=highest)


def entropy_sampling(classifier, X_pool, n_instances=1, *, subset=None, random_state=None):
    """The ``n_instances`` highest H(p) = -sum_c p_c log p_c (:func:`~tod_plugin.scoring.predictive_entropy`)."""
    return _rank(classifier, X_pool, n_instances, subset, random_state, predictive_entropy, highest=True)


def margin_sampling(classifier, X_pool, n_instances=1, *, subset=None, random_state=None):
    """The ``n_instances`` smallest p_(1) - p_(2) (:func:`~tod_plugin.scoring.probability_margin`).

    Returned scores are the margins, smallest (most uncertain) first.
    """
    return _rank(classifier, X_pool, n_instances, subset, random_state, probability_margin, highest=False)


def least_confidence_sampling(classifier, X_pool, n_instances=1, *, subset=None, random_state=None):
    """The ``n_instances`` highest 1 - max_c p_c (:func:`~tod_plugin.scoring.least_confidence`)."""
    return _rank(classifier, X_pool, n_instances, subset, random_state, least_confidence, highest=True)
