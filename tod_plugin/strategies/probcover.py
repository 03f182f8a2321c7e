"""ProbCover: greedy maximum coverage of the pool by balls of radius delta in a self-supervised space.

Yehuda, Dekel, Hacohen, Weinshall, "Active Learning Through a Covering Lens", NeurIPS 2022.
"""
import numpy as np
import scipy.sparse
from sklearn.cluster import KMeans
from sklearn.neighbors import NearestNeighbors
from sklearn.utils import check_random_state

from ..errors import ConfigError
from ._common import check_sampler_param, split_pipeline
from .feature_space import FeatureSpaceSampler

GRAPH_BLOCK_ROWS = 2048


def purity_radius(features, pseudo_labels, purity=0.95):
    """The largest delta whose ball purity is at least ``purity``.

    A ball B(x, delta) is pure when every point closer than delta to x has x's pseudo-label, i.e.
    when delta <= d_other(x), the distance from x to the nearest point of another label. So the
    purity of delta is the share of points with d_other(x) >= delta, and the largest delta with
    purity >= alpha is the floor((1 - alpha) N)-th smallest d_other (0-based). Float64.
    """
    d_other = np.full(len(features), np.inf)
    for label in np.unique(pseudo_labels):
        inside = pseudo_labels == label
        if inside.all():
            continue
        distances, _ = NearestNeighbors(n_neighbors=1).fit(features[inside]).kneighbors(features[~inside])
        d_other[~inside] = np.minimum(d_other[~inside], distances[:, 0])
    return float(np.sort(d_other)[int(np.floor((1.0 - purity) * len(features)))])


def radius_graph(features, delta, block_rows=GRAPH_BLOCK_ROWS):
    """Sparse 0/1 (N, N) int32 graph with an edge x -> x' when ||f(x) - f(x')|| < delta (x -> x included).

    Built ``block_rows`` query rows at a time (scikit-learn ``NearestNeighbors``): memory is the edges.
    """
    neighbours = NearestNeighbors(radius=np.nextafter(delta, 0.0)).fit(features)
    blocks = [neighbours.radius_neighbors_graph(features[start:start + block_rows], mode="connectivity")
              for start in range(0, len(features), block_rows)]
    return scipy.sparse.vstack(blocks, format="csr").astype(np.int32)


class ProbCoverSampler(FeatureSpaceSampler):
    """ProbCover as a modAL query strategy: ``ActiveLearner(..., query_strategy=ProbCoverSampler(random_state=0))``.

    On its first call it computes the features of every row (labeled and unlabeled; see
    :class:`FeatureSpaceSampler`), the radius ``delta`` (None: :func:`purity_radius` of k-means
    pseudo-labels, k = ``n_clusters`` or the task's number of classes, at ``purity`` 0.95) and the
    graph with an edge x -> x' when ||f(x) - f(x')|| < delta (:func:`radius_graph`). Each call marks
    the points within delta of a labeled point covered, then b times picks the candidate with the
    most uncovered neighbours (ties: lowest position; when none is left, a random candidate) and
    marks them covered. Returned scores: how many points each pick newly covered (non-increasing).
    Fitted state: ``delta_``, ``graph_`` besides the features.
    """

    owner = "ProbCoverSampler"

    def __init__(self, delta=None, purity=0.95, n_clusters=None, feature_extractor=None, pretext_epochs=15,
                 pretext_lr=0.1, pretext_batch_size=256, module=None, cache=None, random_state=None):
        self.delta = delta
        self.purity = purity
        self.n_clusters = n_clusters
        self.feature_extractor = feature_extractor
        self.pretext_epochs = pretext_epochs
        self.pretext_lr = pretext_lr
        self.pretext_batch_size = pretext_batch_size
        self.module = module
        self.cache = cache
        self.random_state = random_state

    def _check_params(self):
        super()._check_params()
        check_sampler_param(self.owner, "delta", self.delta, none_ok=True)
        check_sampler_param(self.owner, "n_clusters", self.n_clusters, integral=True, minimum=2, none_ok=True)
        check_sampler_param(self.owner, "purity", self.purity, high=1)

    def fit(self, classifier, X):
        super().fit(classifier, X)
        features = self.features_.astype(np.float64)
        self.delta_ = self.delta
        if self.delta_ is None:
            k = self.n_clusters or _n_classes(classifier)
            seed = check_random_state(self.random_state).randint(2**31 - 1, size=2)[1]  # [0] seeds the pretext
            pseudo_labels = KMeans(k, n_init=10, random_state=seed).fit_predict(features)
            self.delta_ = purity_radius(features, pseudo_labels, self.purity)
        self._graph = radius_graph(features, self.delta_)
        return self

    @property
    def graph_(self):
        """The delta-radius graph over ``features_`` (scipy CSR). Derived from ``features_`` and
        ``delta_``, so it is not part of the saved state: a restored sampler rebuilds it on first use."""
        if getattr(self, "_graph", None) is None:
            self._graph = radius_graph(self.features_.astype(np.float64), self.delta_)
        return self._graph

    def _select(self, labeled, candidates, n_instances, rng):
        uncovered = np.ones(self.graph_.shape[0], dtype=bool)
        uncovered[self.graph_[labeled].indices] = False
        degree = (self.graph_[candidates] @ uncovered.astype(np.int64)).astype(np.int64)  # the graph is symmetric
        chosen, gains = [], []
        for _ in range(n_instances):
            best = int(np.argmax(degree))
            if degree[best] <= 0:
                best = int(rng.choice(np.setdiff1d(np.arange(len(candidates)), chosen)))
            neighbours = self.graph_[candidates[best]].indices
            newly = neighbours[uncovered[neighbours]]
            uncovered[newly] = False
            degree -= np.asarray(self.graph_[newly].sum(axis=0)).ravel()[candidates].astype(np.int64)
            degree[[*chosen, best]] = -1
            chosen.append(best)
            gains.append(len(newly))
        return np.asarray(chosen, dtype=np.intp), np.asarray(gains, dtype=np.float64)


def _n_classes(classifier):
    estimator = split_pipeline(classifier)[1]
    classes = getattr(estimator, "classes_", None)
    classes = classes if classes is not None else getattr(estimator, "classes", None)
    if classes is None or len(classes) < 2:
        raise ConfigError("ProbCoverSampler needs n_clusters (the pseudo-labels for delta): give it, or give the net "
                          "classes=... with at least 2 classes")
    return len(classes)
