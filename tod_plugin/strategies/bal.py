"""BAL: a window over the pool ordered by cluster-distance difference, balancing diversity and novelty.

Li, Chen, Yu, Liu, Jia, "Balancing Diversity and Novelty for Active Learning", TPAMI 2023.
"""
import numpy as np
import torch
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.utils import check_random_state

from ..errors import ConfigError
from ..pretext import pretext_features
from ..scoring import cluster_distance_difference
from ._common import check_sampler_param
from .pt4al import PretextOrderSampler

#: How cycle 0 (the initial set) picks from W_0, as the reference's ``--first``.
FIRST_LABELS = ("high1st", "uni", "low1st", "rand")
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



def bal_window(cycle, stride, beta, n, initial=None):
    """``[lo, hi)`` of window W_c in the CDD order P (length ``n``), clipped to [0, n].

    A = ``stride``, n0 = ``initial`` (the size of the cycle-0 pick; default A),
    h = (beta - 1) A / 2 rounded half up (negative for beta < 1):

    * W_0 = P[0 : max(n0, A + 2h)], the reference's first window of length beta A;
    * W_c = P[n0 + (c - 1) A - h : n0 + c A + h] for c >= 1: length beta A, centre advancing by A
      from the end of the initial set. With n0 = A this is W_c = P[c A - h : (c + 1) A + h].

    For beta >= 1 consecutive windows overlap or touch: no range of P is skipped, and the last
    cycles simply run into the end of P (no jump to the tail, unlike the reference code).
    """
    initial = stride if initial is None else initial
    h = int(np.floor((beta - 1.0) * stride / 2.0 + 0.5))
    if cycle == 0:
        lo, hi = 0, max(initial, stride + 2 * h)
    else:
        lo, hi = initial + (cycle - 1) * stride - h, initial + cycle * stride + h
    return min(max(lo, 0), n), min(max(hi, 0), n)


class BALSampler(PretextOrderSampler):
    """BAL as a modAL query strategy: ``ActiveLearner(..., query_strategy=BALSampler(beta=1.2, random_state=0))``.

    On its first call (once per trial) it trains the rotation pretext network on the pool (no
    labels; ``module``, ``pretext_epochs`` (120 as the reference), ``pretext_lr``,
    ``pretext_batch_size``, ``pretext_augment``; see ``tod_plugin.pretext``), clusters the
    penultimate features of the unrotated images with k-means (k = ``n_clusters``, default the
    task's number of classes; scikit-learn ``KMeans``, 10 initialisations, seeded;
    ``MiniBatchKMeans`` beyond :data:`MINIBATCH_KMEANS_ABOVE` rows, see :func:`cluster_centres`) and
    orders the pool by CDD = d2 - d1 ASCENDING -> P of length N.

    Cycle 0 is the initial labeled set (:meth:`initial_indices`): n0 items of W_0 chosen by
    ``first`` as the reference's ``--first``: ``"high1st"`` the first n0 (the default),
    ``"low1st"`` the last n0, ``"uni"`` n0 evenly spaced, ``"rand"`` n0 at random
    (``random_state``). Cycle c >= 1 takes the ``n_instances`` LOWEST
    conf(x) = max softmax(z / ||z||_2) under the current model among W_c (:func:`bal_window`)
    minus the labeled rows. The window's stride A (``stride``; default: each call's
    ``n_instances``, the per-cycle budget) and the budget are separate numbers, as the
    reference's ``--addendum`` and per-cycle sample count: beta = 1 gives pure CDD-order chunks
    (diversity), larger beta wider overlapping windows where uncertainty decides (novelty), beta
    < 1 the centre beta A of each stride. A window with fewer unlabeled rows than the budget (the
    end of P, beta A below the budget) is filled with the nearest unlabeled ranks outside it.

    Returned scores: CDD in cycle 0, the confidence later. Fitted state: ``order_``,
    ``order_score_`` (CDD per first-pool position), ``queried_``, ``n_queries_``,
    ``first_size_``, ``index_``.
    """

    owner = "BALSampler"

    def __init__(self, beta=1.2, stride=None, first="high1st", pretext_epochs=120, pretext_lr=0.1,
                 pretext_batch_size=256, pretext_augment=True, n_clusters=None, module=None, cache=None,
                 random_state=None):
        self.beta = beta
        self.stride = stride
        self.first = first
        self.pretext_epochs = pretext_epochs
        self.pretext_lr = pretext_lr
        self.pretext_batch_size = pretext_batch_size
        self.pretext_augment = pretext_augment
        self.n_clusters = n_clusters
        self.module = module
        self.cache = cache
        self.random_state = random_state

    def _check_params(self):
        super()._check_params()
        check_sampler_param(self.owner, "beta", self.beta)
        check_sampler_param(self.owner, "stride", self.stride, integral=True, none_ok=True)
        check_sampler_param(self.owner, "n_clusters", self.n_clusters, integral=True, minimum=2, none_ok=True)
        if self.first not in FIRST_LABELS:
            raise ConfigError(f"{self.owner}: first must be one of {', '.join(FIRST_LABELS)}, got {self.first!r}")

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
        stride = n_instances if self.stride is None else int(self.stride)
        return bal_window(cycle, stride, self.beta, len(self.index_), self.first_size_)

    def _first(self, ranks, n_instances):
        if self.first == "high1st":
            return ranks[:n_instances]
        if self.first == "low1st":
            return ranks[len(ranks) - n_instances:]
        if self.first == "uni":
            return ranks[np.arange(n_instances) * len(ranks) // n_instances]
        rng = check_random_state(self._seeds(3)[2])
        return np.sort(rng.choice(ranks, size=n_instances, replace=False))
