"""BAL: a window over the pool ordered by cluster-distance difference, balancing diversity and novelty.

Li, Chen, Yu, Liu, Jia, "Balancing Diversity and Novelty for Active Learning", TPAMI 2023.
"""
import numpy as np
import torch
from sklearn.cluster import KMeans, MiniBatchKMeans

from ..errors import ConfigError
from ..pretext import pretext_features
from ..scoring import cluster_distance_difference, normalized_confidence
from .pt4al import PretextOrderSampler, check_number

#: Pools beyond this many rows are clustered with MiniBatchKMeans on float32 features.
MINIBATCH_KMEANS_ABOVE = 50_000
MINIBATCH_SIZE = 4096


def cluster_centres(features, n_clusters, seed, minibatch_above=MINIBATCH_KMEANS_ABOVE):
    """k-means centroids (k, F) of ``features`` (N, F), float64: scikit-learn's ``KMeans`` (10
    initialisations, float64) up to ``minibatch_above`` rows; beyond, ``MiniBatchKMeans`` (batches of
    4096 rows, 3 initialisations, float32), whose memory and time per iteration do not grow with N.
    """
    if len(features) > minibatch_above:
        kmeans = MiniBatchKMeans(n_clusters=n_clusters, n_init=3, batch_size=MINIBATCH_SIZE, random_state=seed)
        kmeans.fit(features.float().numpy())
    else:
        kmeans = KMeans(n_clusters=n_clusters, n_init=10, random_state=seed).fit(features.double().numpy())
    return torch.as_tensor(kmeans.cluster_centers_, dtype=torch.float64)


def bal_window(cycle, stride, beta, n):
    """``[lo, hi)`` of window W_c in the CDD order P (length ``n``): centre advancing by ``stride`` A.

    W_c = P[c A - h : (c + 1) A + h], h = (beta - 1) A / 2 rounded half up, clipped to [0, n].
    Consecutive windows overlap (beta > 1) or touch (beta = 1): no range of P is skipped.
    """
    h = int(np.floor((beta - 1.0) * stride / 2.0 + 0.5))
    return min(max(cycle * stride - h, 0), n), min(max((cycle + 1) * stride + h, 0), n)


class BALSampler(PretextOrderSampler):
    """BAL as a modAL query strategy: ``ActiveLearner(..., query_strategy=BALSampler(beta=1.2, random_state=0))``.

    On its first call (once per trial) it trains the rotation pretext network on the pool (no
    labels; ``module``, ``pretext_epochs``, ``pretext_lr``, ``pretext_batch_size``; see
    ``tod_plugin.pretext``), clusters the penultimate features of the unrotated images with
    k-means (k = ``n_clusters``, default the task's number of classes; scikit-learn ``KMeans``,
    10 initialisations, seeded; ``MiniBatchKMeans`` beyond :data:`MINIBATCH_KMEANS_ABOVE` rows, see
    :func:`cluster_centres`) and orders the pool by CDD = d2 - d1 ASCENDING -> P of length N.
    Cycle c (the c-th call) with stride A = ``n_instances`` chooses from W_c (:func:`bal_window`)
    minus the labeled rows: cycle 0 takes its first A; later cycles the A LOWEST
    conf(x) = max softmax(z / ||z||_2) under the current model. beta = 1 gives pure CDD-order
    chunks (diversity), larger beta wider overlapping windows where uncertainty decides (novelty);
    a window with fewer than A unlabeled rows (beta < 1, the end of P) is filled with the nearest
    unlabeled ranks outside it, so beta < 1 acts as beta = 1.

    Returned scores: CDD in cycle 0, the confidence later. Fitted state: ``order_``,
    ``order_score_`` (CDD per first-pool position), ``queried_``, ``n_queries_``, ``index_``.
    """

    owner = "BALSampler"

    def __init__(self, beta=1.2, pretext_epochs=120, pretext_lr=0.1, pretext_batch_size=256, n_clusters=None,
                 module=None, cache=None, random_state=None):
        self.beta = beta
        self.pretext_epochs = pretext_epochs
        self.pretext_lr = pretext_lr
        self.pretext_batch_size = pretext_batch_size
        self.n_clusters = n_clusters
        self.module = module
        self.cache = cache
        self.random_state = random_state

    def _check_params(self):
        super()._check_params()
        check_number(self.owner, "beta", self.beta)
        check_number(self.owner, "n_clusters", self.n_clusters, integral=True, minimum=2, none_ok=True)

    def _resolved(self, net):
        if self.n_clusters is not None:
            return {"n_clusters": int(self.n_clusters)}
        classes = net.classes_ if net.initialized_ else net.classes
        if classes is None:
            raise ConfigError("BALSampler needs n_clusters: give it, or give the net classes=...")
        if len(classes) < 2:
            raise ConfigError(f"BALSampler needs at least 2 clusters; the task has {len(classes)} class")
        return {"n_clusters": len(classes)}

    def _order(self, net, X):
        net_seed, kmeans_seed = self._seeds(2)
        features = pretext_features(self._pretext(net, X, net_seed), X)
        k = self._resolved(net)["n_clusters"]
        if len(features) < k:
            raise ConfigError(f"BALSampler: the pool ({len(features)} rows) is smaller than n_clusters ({k})")
        centres = cluster_centres(features, k, kmeans_seed)
        dtype = torch.float64 if len(features) <= MINIBATCH_KMEANS_ABOVE else torch.float32
        cdd = cluster_distance_difference(features.to(dtype), centres).double().numpy()
        return np.argsort(cdd, kind="stable"), cdd

    def _window(self, cycle, n_instances):
        return bal_window(cycle, n_instances, self.beta, len(self.index_))

    def _first(self, ranks, n_instances):
        return ranks[:n_instances]

    _confidence = staticmethod(normalized_confidence)
