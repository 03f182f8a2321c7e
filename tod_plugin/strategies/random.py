"""Random sampling: uniform without replacement over the pool."""
from ..modal_compat import query_result
from ..validation import check_random_state
from ._common import candidates, check_n_instances, pool_size, top


def random_sampling(classifier, X_pool, n_instances=1, *, subset=None, random_state=None):
    """Pick ``n_instances`` pool rows uniformly at random, without replacement.

    Each candidate gets a U(0, 1) key and the largest keys win, which is a uniform draw without
    replacement; the keys are returned as scores. ``classifier`` is not used (any model works),
    ``subset`` only restricts the candidates.
    """
    n_pool = pool_size(X_pool)
    n_instances = check_n_instances(n_instances, n_pool)
    rng = check_random_state(random_state)
    rows = candidates(n_pool, n_instances, subset, rng)
    keys = rng.random_sample(len(rows))
    best = top(keys, n_instances)
    return query_result(rows[best], keys[best])
