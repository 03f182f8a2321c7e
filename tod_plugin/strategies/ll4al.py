"""LL4AL sampling (Yoo & Kweon, CVPR 2019): the highest predicted losses."""
from ._common import rank_pool


def ll4al_sampling(classifier, X_pool, n_instances=1, *, subset=None, random_state=None):
    """Pick the ``n_instances`` pool rows with the highest predicted loss l^(x) (eval mode).

    Needs a net trained with ``auxiliary="ll4al"`` (``net.predicted_loss``).
    """
    return rank_pool(classifier, X_pool, n_instances, subset, random_state, lambda net, X: net.predicted_loss(X))
