"""TypiClust: the most typical point of each large cluster that holds no labeled point.

Hacohen, Dekel, Weinshall, "Active Learning on a Budget: Opposite Strategies Suit High and Low
Budgets", ICML 2022.
"""
import numpy as np
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.neighbors import NearestNeighbors

from ..scoring import typicality
from .feature_space import FeatureSpaceSampler
from ._common import check_sampler_param

TYPICALITY_NEIGHBOURS = 20


def typicality_in(features, k=TYPICALITY_NEIGHBOURS):
    """Typicality of each row of ``features`` (n, F) among those rows, over its min(k, n // 2) nearest others."""
    if len(features) < 2:
        return np.ones(len(features))
    k = max(1, min(k, len(features) // 2))
    distances, _ = NearestNeighbors(n_neighbors=k + 1).fit(features).kneighbors(features)
    return typicality(distances[:, 1:])


class TypiClustSampler(FeatureSpaceSampler):
    """TypiClust as a modAL query strategy: ``ActiveLearner(..., query_strategy=TypiClustSampler(random_state=0))``.

    Each call clusters the features of every row (labeled and unlabeled; see
    :class:`FeatureSpaceSampler` for where they come from) into K = min(|L| + b, ``max_clusters``)
    clusters (scikit-learn ``KMeans``, or ``MiniBatchKMeans`` above 50 clusters as the paper does;
    seeded). Clusters are visited by fewest labeled points, then largest (those of at most
    ``min_cluster_size`` rows, which the paper drops, come last); b times (cycling through them if
    b exceeds their number) the visited cluster gives its most typical unlabeled row,
    typicality(x) = ( (1/k) sum_{x' in kNN(x)} ||f(x) - f(x')|| )^(-1), k = min(20, cluster size / 2),
    among the cluster's rows not labeled or picked yet. A ``subset`` restricts the picks to
    candidates. Returned scores: the pick order, b for the first pick down to 1.
    """

    owner = "TypiClustSampler"

    def __init__(self, max_clusters=500, min_cluster_size=5, feature_extractor=None, pretext_epochs=15,
                 pretext_lr=0.1, pretext_batch_size=256, module=None, cache=None, random_state=None):
        self.max_clusters = max_clusters
        self.min_cluster_size = min_cluster_size
        self.feature_extractor = feature_extractor
        self.pretext_epochs = pretext_epochs
        self.pretext_lr = pretext_lr
        self.pretext_batch_size = pretext_batch_size
        self.module = module
        self.cache = cache
        self.random_state = random_state

    def _check_params(self):
        super()._check_params()
        check_sampler_param(self.owner, "max_clusters", self.max_clusters, integral=True)
        check_sampler_param(self.owner, "min_cluster_size", self.min_cluster_size, integral=True, minimum=0)

    def _select(self, labeled, candidates, n_instances, rng):
        n_clusters = min(len(labeled) + n_instances, self.max_clusters, len(self.features_))
        kmeans = (KMeans(n_clusters, n_init=1, random_state=rng.randint(2**31 - 1)) if n_clusters <= 50 else
                  MiniBatchKMeans(n_clusters, n_init=3, batch_size=4096, random_state=rng.randint(2**31 - 1)))
        clusters = kmeans.fit_predict(self.features_.astype(np.float64))
        sizes = np.bincount(clusters, minlength=n_clusters)
        labeled_counts = np.bincount(clusters[labeled], minlength=n_clusters)
        order = np.lexsort((np.arange(n_clusters), -sizes, labeled_counts))
        large = sizes[order] > self.min_cluster_size
        order = np.concatenate([order[large], order[~large]])
        available = np.ones(len(self.features_), dtype=bool)
        available[labeled] = False
        is_candidate = np.zeros(len(self.features_), dtype=bool)
        is_candidate[candidates] = True
        position_in_candidates = np.full(len(self.features_), -1, dtype=np.intp)
        position_in_candidates[candidates] = np.arange(len(candidates))
        chosen, visit, misses = [], 0, 0
        while len(chosen) < n_instances and misses < n_clusters:
            cluster = order[visit % n_clusters]
            visit += 1
            members = np.flatnonzero((clusters == cluster) & available)
            if not is_candidate[members].any():
                misses += 1
                continue
            misses = 0
            scores = np.where(is_candidate[members], typicality_in(self.features_[members]), -np.inf)
            pick = members[int(np.argmax(scores))]
            available[pick] = False
            chosen.append(position_in_candidates[pick])
        return np.asarray(chosen, dtype=np.intp), np.arange(n_instances, 0, -1)[:len(chosen)]
