"""Query strategies for modAL's ``ActiveLearner(query_strategy=...)``.

Signature: ``strategy(classifier, X_pool, n_instances=1, *, subset=None, random_state=None, ...)``
where ``classifier`` is a modAL learner, an ``ALNetClassifier`` or a ``Pipeline`` ending in one.
They return indices into ``X_pool``, best first (modAL 0.4.1), or ``(indices, scores)`` where the
installed modAL's ``query`` unpacks that (0.4.2 and later). ``BALSampler`` and ``PT4ALSampler``
are stateful: make one per trial (pool), it orders that pool on its first call, which should be
``initial_indices`` (the first labels, chosen by the method as in its reference).
"""
from .bal import BALSampler
from .coreset import coreset_sampling
from .discrepancy import cod_sampling, tod_sampling
from .ll4al import ll4al_sampling
from .pt4al import PT4ALSampler
from .random import random_sampling
from .stconal import stconal_sampling

__all__ = ["BALSampler", "PT4ALSampler", "cod_sampling", "coreset_sampling", "ll4al_sampling", "random_sampling",
           "stconal_sampling", "tod_sampling"]
