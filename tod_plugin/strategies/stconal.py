"""ST-CoNAL: disagreement between a sharpened self-ensemble teacher and its student snapshots.

Baik, Yoon, Choi, ACCV 2022. score(x) = (1/K) * sum_k KL(q(x) || p_k(x)), q the teacher's softmax
sharpened with temperature tau (q = softmax(z_T / tau)), p_k the K students' softmax.
"""
import functools

from ..hooks import EpochSnapshots
from ..scoring import sharpened_kl
from ..validation import check_number
from ._common import rank_pool


def stconal_sampling(classifier, X_pool, n_instances=1, *, subset=None, random_state=None, temperature=0.7):
    """Pick the ``n_instances`` highest sharpened-KL scores on a random ``subset`` of the pool.

    Needs the net to be trained with ``tod_plugin.hooks.EpochSnapshots(...)`` (teacher ``"mean"``
    for ST-CoNAL, ``"ema"`` for ST-CoNAL-EMA); the paper re-initialises the net each cycle
    (``warm_start=False``). ``temperature`` is tau > 0 (0.7 in the paper; < 1 sharpens).
    """
    temperature = check_number(temperature, "temperature", low=0, low_open=True)

    def score(net, X):
        states = net.recorded_states(EpochSnapshots, "stconal_sampling needs a teacher and student snapshots: train "
                                     "the net with callbacks=[tod_plugin.hooks.EpochSnapshots(start=..., every=...)] "
                                     "(then fit it again)")
        return net.score_pool(X, functools.partial(sharpened_kl, temperature=temperature), states)

    return rank_pool(classifier, X_pool, n_instances, subset, random_state, score)
