"""LL4AL sampling (Yoo & Kweon, CVPR 2019): the highest predicted losses."""
from ..auxiliary import LossPredictor
from ..errors import MissingHookError
from ..inference import score_pool
from ._common import rank_pool


def _predicted_loss(loss):
    return loss


def ll4al_sampling(classifier, X_pool, n_instances=1, *, subset=None, random_state=None):
    """Pick the ``n_instances`` pool rows with the highest predicted loss l^(x) (eval mode).

    Needs a net trained with ``auxiliary="ll4al"`` (its ``loss_module_``).
    """

    def score(net, X):
        if net.auxiliary != "ll4al" or getattr(net, "loss_module_", None) is None:
            raise MissingHookError(
                "ll4al_sampling needs the loss-prediction module: train the net with auxiliary='ll4al'"
            )
        return score_pool(net, X, [LossPredictor(net.module_, net.loss_module_)], _predicted_loss)

    return rank_pool(classifier, X_pool, n_instances, subset, random_state, score)
