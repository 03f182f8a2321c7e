"""Query strategies for modAL's ``ActiveLearner(query_strategy=...)``.

Signature: ``strategy(classifier, X_pool, n_instances=1, *, subset=None, random_state=None, ...)``
where ``classifier`` is a modAL learner, an ``ALNetClassifier`` or a ``Pipeline`` ending in one.
They return indices into ``X_pool``, best first (modAL 0.4.1), or ``(indices, scores)`` where the
installed modAL's ``query`` unpacks that (0.4.2 and later). ``BALSampler``, ``PT4ALSampler``,
``TypiClustSampler``, ``ProbCoverSampler`` and ``BudgetAwareSampler`` are stateful: make one per
trial (pool), it learns that pool on its first call; for ``BALSampler`` and ``PT4ALSampler`` that
call should be ``initial_indices`` (the first labels, chosen by the method as in its reference).
``VAALSampler`` trains its VAE every call. ``CODSampler`` is COD with its output cache as state
(``cod_sampling`` keeps one per net).
"""
from .auto import BudgetAwareSampler
from .badge import badge_sampling
from .bal import BALSampler
from .bald import bald_sampling
from .coreset import coreset_sampling
from .discrepancy import CODSampler, cod_sampling, tod_sampling
from .ll4al import ll4al_sampling
from .probcover import ProbCoverSampler
from .pt4al import PT4ALSampler
from .random import random_sampling
from .stconal import stconal_sampling
from .typiclust import TypiClustSampler
from .uncertainty import entropy_sampling, least_confidence_sampling, margin_sampling
from .vaal import VAALSampler

__all__ = ["BALSampler", "BudgetAwareSampler", "CODSampler", "PT4ALSampler", "ProbCoverSampler", "TypiClustSampler", "VAALSampler",
           "badge_sampling", "bald_sampling", "cod_sampling", "coreset_sampling", "entropy_sampling",
           "least_confidence_sampling", "ll4al_sampling", "margin_sampling", "random_sampling", "stconal_sampling",
           "tod_sampling"]
