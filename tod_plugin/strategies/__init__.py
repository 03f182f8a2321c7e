"""Query strategies for modAL's ``ActiveLearner(query_strategy=...)``.

Signature: ``strategy(classifier, X_pool, n_instances=1, *, subset=None, random_state=None, ...)``
where ``classifier`` is a modAL learner, an ``ALNetClassifier`` or a ``Pipeline`` ending in one.
They return indices into ``X_pool``, best first (modAL 0.4.1), or ``(indices, scores)`` where the
installed modAL's ``query`` unpacks that (0.4.2 and later).
"""
from .discrepancy import cod_sampling, tod_sampling
from .ll4al import ll4al_sampling
from .random import random_sampling

__all__ = ["cod_sampling", "ll4al_sampling", "random_sampling", "tod_sampling"]
