"""What every query strategy shares: finding the net, checking arguments, picking, returning."""
import warnings

import numpy as np
from sklearn.pipeline import Pipeline

from ..errors import ConfigError
from ..estimator import ALNetClassifier
from ..modal_compat import query_result
from ..validation import check_number, check_random_state
from ..pool import PoolView


def split_pipeline(classifier):
    """``(transform, estimator)`` of a modAL learner, an estimator or a ``Pipeline`` ending in one.

    A learner's ``estimator`` is unwrapped; for a Pipeline, ``estimator`` is its last step and
    ``transform`` its steps before (a function of rows; None when it has no other step). Every
    strategy unwraps Pipelines here.
    """
    estimator = getattr(classifier, "estimator", classifier)
    if not isinstance(estimator, Pipeline):
        return None, estimator
    return (estimator[:-1].transform if len(estimator.steps) > 1 else None), estimator.steps[-1][1]


def resolve_net(classifier, X_pool):
    """``(net, X)`` from a modAL learner, an ``ALNetClassifier`` or a ``Pipeline`` ending in one.

    For a Pipeline, ``X`` is ``X_pool`` passed through the steps before the net.
    """
    transform, estimator = split_pipeline(classifier)
    if transform is not None:
        X_pool = transform(X_pool)
    if not isinstance(estimator, ALNetClassifier):
        raise TypeError(
            "classifier must be a modAL learner, an ALNetClassifier or a Pipeline ending in one; "
            f"got {type(estimator).__name__}"
        )
    if not estimator.initialized_:
        raise ConfigError("the classifier is not fitted yet: fit it (or give the learner X_training) before querying")
    return estimator, X_pool


def check_n_instances(n_instances, n_pool):
    """A positive int; more than the pool gives the whole pool with a warning."""
    n_instances = check_number(n_instances, "n_instances", integral=True, low=0, low_open=True)
    if n_pool == 0:
        raise ConfigError("X_pool is empty: there is nothing left to query")
    if n_instances > n_pool:
        warnings.warn(f"n_instances={n_instances} is more than the pool ({n_pool}); returning the whole pool", stacklevel=3)
        return n_pool
    return int(n_instances)


def pool_size(X_pool):
    if not hasattr(X_pool, "__len__") or not hasattr(X_pool, "shape"):
        raise ConfigError(f"X_pool must be an array, got {type(X_pool).__name__}")
    return len(X_pool)


def candidates(n_pool, n_instances, subset, rng):
    """Sorted indices of the random subset S of the pool that gets scored (all when ``subset`` is None).

    A subset smaller than ``n_instances`` is enlarged to ``n_instances`` with a warning.
    """
    subset = check_number(subset, "subset", integral=True, low=0, low_open=True, none_ok=True)
    if subset is None or subset >= n_pool:
        return np.arange(n_pool)
    if subset < n_instances:
        warnings.warn(f"subset={subset} is smaller than n_instances={n_instances}; scoring {n_instances}", stacklevel=3)
        subset = n_instances
    return np.sort(rng.choice(n_pool, size=subset, replace=False))


def top(scores, n_instances, highest=True):
    """Positions of the ``n_instances`` best scores, best first; ties keep pool order. NaN scores
    (a network whose outputs are not finite) are refused: no order of them means anything."""
    scores = np.asarray(scores)
    if np.isnan(scores).any():
        raise ConfigError(
            f"{int(np.isnan(scores).sum())} of {len(scores)} scores are NaN: the network's outputs are not finite "
            "(training diverged? lower lr / aux_weight, check normalize); refit before querying"
        )
    order = np.argsort(-scores if highest else scores, kind="stable")
    return order[:n_instances]


def rank_pool(classifier, X_pool, n_instances, subset, random_state, score, highest=True):
    """The template of every scoring strategy: subset, score, take the best, return for modAL.

    ``score(net, X_subset)`` returns one float per row of ``X_subset``; ``highest`` is a bool or
    a function of the net giving one.
    """
    n_pool = pool_size(X_pool)
    n_instances = check_n_instances(n_instances, n_pool)
    net, X = resolve_net(classifier, X_pool)
    rng = check_random_state(random_state)
    rows = candidates(n_pool, n_instances, subset, rng)
    scores = score(net, PoolView(X, rows) if len(rows) < n_pool else X)  # the subset, read lazily
    best = top(scores, n_instances, highest(net) if callable(highest) else highest)
    return query_result(rows[best], scores[best])


def check_sampler_param(owner, name, value, integral=False, minimum=None, high=None, none_ok=False):
    """``validation.check_number`` for a sampler's parameter: > 0, or >= ``minimum`` when given; <= ``high``."""
    check_number(value, name, integral=integral, low=0 if minimum is None else minimum,
                 low_open=minimum is None, high=high, none_ok=none_ok, owner=owner)
