"""The papers' baselines and the low-budget strategies: their scores by hand and their mathematics."""
import numpy as np
import pytest
import torch
from modAL.models import ActiveLearner
from torch import nn
from torch.nn import functional as F

from tod_plugin import modal_compat
from tod_plugin import ALNetClassifier
from tod_plugin.errors import ConfigError
from tod_plugin.inference import score_pool
from tod_plugin.models import MLP, SmallCNN
from tod_plugin.scoring import (gradient_embedding, least_confidence, mutual_information, predicted_label_residual,
                                predictive_entropy, probability_margin, typicality)
from tod_plugin.strategies import (BudgetAwareSampler, ProbCoverSampler, TypiClustSampler, VAALSampler,
                                   badge_sampling, bald_sampling, margin_sampling)
from tod_plugin.strategies.badge import kmeans_pp_on_gradients
from tod_plugin.strategies.bald import MCDropout
from tod_plugin.strategies.probcover import purity_radius, radius_graph
from tod_plugin.strategies.typiclust import typicality_in

from nets import indices, make_net

LOG2 = float(np.log(2.0))


def test_uncertainty_scores_by_hand():
    z = np.log(np.array([[0.5, 0.5, 1e-30], [0.7, 0.2, 0.1]]))
    second = -(0.7 * np.log(0.7) + 0.2 * np.log(0.2) + 0.1 * np.log(0.1))
    np.testing.assert_allclose(predictive_entropy(z), [LOG2, second], rtol=1e-5)
    np.testing.assert_allclose(probability_margin(z), [0.0, 0.5], atol=1e-6)
    np.testing.assert_allclose(least_confidence(z), [0.5, 0.3], atol=1e-6)


@pytest.mark.parametrize("score", [predictive_entropy, probability_margin, least_confidence, mutual_information])
def test_scores_take_numpy_or_torch_and_give_the_same_kind(score):
    z = np.random.RandomState(0).randn(4, 3, 5).astype(np.float32)
    z = z if score is mutual_information else z[:, 0]
    from_numpy, from_torch = score(z), score(torch.from_numpy(z))
    assert isinstance(from_numpy, np.ndarray) and isinstance(from_torch, torch.Tensor)
    np.testing.assert_allclose(from_numpy, from_torch.numpy())


def test_mutual_information_by_hand():
    sure = np.log(np.array([[1.0, 1e-30], [1e-30, 1.0]]))  # two confident passes that disagree
    same = np.tile(np.log(np.array([[0.6, 0.4]])), (3, 1))  # three identical passes
    np.testing.assert_allclose(mutual_information(np.stack([sure])), [LOG2], rtol=1e-5)
    np.testing.assert_allclose(mutual_information(np.stack([same])), [0.0], atol=1e-7)


def test_typicality_by_hand():
    np.testing.assert_allclose(typicality(np.array([[1.0, 3.0], [0.5, 0.5]])), [0.5, 2.0])
    features = np.array([[0.0], [1.0], [2.0], [10.0]])
    assert int(np.argmax(typicality_in(features))) == 1  # the middle of the dense run


# ---------------------------------------------------------------- BALD
class ZeroDropoutCNN(SmallCNN):
    """A SmallCNN with a dropout layer of p = 0."""

    def __init__(self, in_channels, num_classes):
        super().__init__(in_channels, num_classes)
        self.dropout = nn.Dropout(0.0)


@pytest.fixture(scope="module")
def dropout_net(digits):
    return make_net(module__dropout=0.3).fit(digits.X_train[:60], digits.y_train[:60])


def test_bald_with_dropout_zero_gives_zero_information(digits):
    net = make_net().set_params(module=ZeroDropoutCNN).fit(digits.X_train[:60], digits.y_train[:60])
    pool = digits.X_train[60:120]
    information = score_pool(net, pool, [MCDropout(net.module_, 5)], mutual_information)
    np.testing.assert_allclose(information, 0.0, atol=1e-6)
    np.testing.assert_array_equal(indices(bald_sampling(net, pool, 4, random_state=0)), [0, 1, 2, 3])


def test_bald_repeats_each_batch_in_one_pass_and_is_reproducible(dropout_net, digits, monkeypatch):
    pool = digits.X_train[60:160]
    net = dropout_net.set_params(eval_batch_size=40)
    sizes, mode = [], net.module_.training
    handle = net.module_.register_forward_pre_hook(lambda module, args: sizes.append(len(args[0])))
    monkeypatch.setattr(modal_compat, "QUERY_RETURNS_SCORES", True)
    try:
        idx, scores = bald_sampling(net, pool, 5, n_samples=7, random_state=3)
    finally:
        handle.remove()
    assert sizes == [7 * 40, 7 * 40, 7 * 20]  # one forward per pool batch, T copies in it
    assert np.all(scores > 0)
    again = bald_sampling(net, pool, 5, n_samples=7, random_state=3)
    np.testing.assert_array_equal(again[0], idx)
    assert net.module_.training == mode


def test_bald_without_dropout_names_the_parameter(digits):
    net = make_net().fit(digits.X_train[:40], digits.y_train[:40])
    with pytest.raises(ConfigError, match="module__dropout"):
        bald_sampling(net, digits.X_train[40:60], 2)
    with pytest.raises(ValueError, match="n_samples"):
        bald_sampling(net, digits.X_train[40:60], 2, n_samples=1)
    with pytest.raises(ValueError, match="n_samples must be an int >= 2, got True"):  # a bool is not a count
        bald_sampling(net, digits.X_train[40:60], 2, n_samples=True)


@pytest.mark.parametrize("bad", [-0.1, 1.0, "0.3", True])
def test_dropout_parameter_is_checked(bad):
    with pytest.raises(ValueError, match=r"module__dropout"):
        SmallCNN(1, 10, dropout=bad)


def test_dropout_is_active_in_training_only():
    module = MLP(4, 3, dropout=0.5).eval()
    x = torch.ones(8, 4)
    torch.testing.assert_close(module(x), module(x))
    module.train()
    assert not torch.equal(module(x), module(x))


# ---------------------------------------------------------------- BADGE
def test_badge_closed_form_equals_autograd():
    torch.manual_seed(0)
    module = MLP(6, 4, hidden=5)
    x = torch.randn(7, 6)
    features = module.forward_features(x).detach()
    logits = module.fc(features)
    expected = []
    for row in range(len(x)):
        module.zero_grad()
        loss = F.cross_entropy(module.fc(features[row:row + 1]), logits[row:row + 1].argmax(dim=1))
        loss.backward()
        expected.append(module.fc.weight.grad.flatten().clone())
    torch.testing.assert_close(gradient_embedding(logits.detach(), features), torch.stack(expected))


def test_kmeans_pp_on_factors_equals_kmeans_pp_on_embeddings():
    logits, features = torch.randn(40, 3, dtype=torch.float64), torch.randn(40, 6, dtype=torch.float64)
    residual = predicted_label_residual(logits).double()
    picks = kmeans_pp_on_gradients(residual, features, 6, np.random.RandomState(1))
    # the same seeding on the explicit (40, 18) embeddings
    embedding, draw = gradient_embedding(logits, features).double(), np.random.RandomState(1)
    reference, nearest = [int(embedding.norm(dim=1).argmax())], torch.full((40,), float("inf"), dtype=torch.float64)
    for _ in range(5):
        nearest = torch.minimum(nearest, (embedding - embedding[reference[-1]]).pow(2).sum(1))
        nearest[reference] = 0
        weights = nearest.numpy()
        reference.append(int(draw.choice(40, p=weights / weights.sum())))
    assert picks == reference and len(set(picks)) == 6


def test_badge_picks_are_distinct_and_reproducible(dropout_net, digits):
    pool = digits.X_train[60:160]
    a = indices(badge_sampling(dropout_net, pool, 8, random_state=1))
    np.testing.assert_array_equal(a, indices(badge_sampling(dropout_net, pool, 8, random_state=1)))
    assert len(set(a.tolist())) == 8


# ---------------------------------------------------------------- TypiClust, ProbCover (on given features)
def blobs():
    """Three separated 2-d blobs of 30, 20 and 10 points, each with its exact centre as a point."""
    rng = np.random.RandomState(0)
    parts = []
    for centre, size in (((0, 0), 30), ((20, 0), 20), ((0, 20), 10)):
        points = rng.uniform(-1, 1, (size, 2)) + centre
        points[0] = centre
        parts.append(points)
    return np.concatenate(parts).astype(np.float32)


def identity(rows):
    return rows


def bare_net():
    return ALNetClassifier(MLP, module__in_features=2, module__num_classes=3, classes=np.arange(3))


def blob_of(rows):
    return np.searchsorted([30, 50], rows, side="right")


def test_typiclust_takes_the_typical_point_of_each_uncovered_cluster():
    X = blobs()
    sampler = TypiClustSampler(feature_extractor=identity, min_cluster_size=0, random_state=0)
    picks = indices(sampler(bare_net(), X, 3))
    assert sorted(blob_of(picks).tolist()) == [0, 1, 2]  # one from each blob, largest first
    assert blob_of(picks[0]) == 0
    later = indices(sampler(bare_net(), X[30:], 2, X_labeled=X[:30]))
    assert blob_of(later + 30).min() >= 1  # K = 32 clusters: the ones without labels are in blobs 1 and 2


def test_purity_radius_and_graph_by_hand():
    features = np.array([[0.0], [1.0], [2.0], [10.0], [11.0]])
    labels = np.array([0, 0, 0, 1, 1])  # distance to the other label: 10, 9, 8, 8, 9
    assert purity_radius(features, labels, 0.95) == 8.0
    assert purity_radius(features, labels, 0.6) == 9.0
    graph = radius_graph(features, 1.5, block_rows=2).toarray()
    assert graph[1].tolist() == [1, 1, 1, 0, 0] and graph[3].tolist() == [0, 0, 0, 1, 1]
    assert radius_graph(features, 1.0).toarray()[0].tolist() == [1, 0, 0, 0, 0]  # strictly closer than delta


def test_probcover_covers_the_largest_uncovered_balls_first(monkeypatch):
    X = blobs()
    sampler = ProbCoverSampler(delta=5.0, feature_extractor=identity, random_state=0)
    later = indices(sampler(bare_net(), X[30:], 2, X_labeled=X[:30]))
    assert sorted(blob_of(later + 30).tolist()) == [1, 2]
    monkeypatch.setattr(modal_compat, "QUERY_RETURNS_SCORES", True)
    picks, gains = sampler(bare_net(), X, 4, random_state=0)
    np.testing.assert_array_equal(gains, [30, 20, 10, 0])  # all covered after three: a random fourth
    assert blob_of(picks[:3]).tolist() == [0, 1, 2]


def test_probcover_chooses_delta_by_purity():
    sampler = ProbCoverSampler(feature_extractor=identity, n_clusters=3, random_state=0)
    sampler(bare_net(), blobs(), 3)
    assert 0 < sampler.delta_ < 20


@pytest.mark.parametrize("purity", [True, 0, 1.5, "0.9"])
def test_probcover_purity_is_a_number_in_0_1(purity):
    with pytest.raises(ValueError, match=f"ProbCoverSampler: purity must be a positive number <= 1, got {purity!r}"):
        ProbCoverSampler(feature_extractor=identity, purity=purity)(bare_net(), blobs(), 3)


# ---------------------------------------------------------------- VAAL
def test_vaal_reuses_its_cached_networks(tmp_path, digits, monkeypatch):
    X, y = digits.X_train, digits.y_train
    learner = ActiveLearner(estimator=make_net(max_epochs=1), X_training=X[:40], y_training=y[:40])
    pool, cache = X[40:140], tmp_path / "vaal.pt"
    monkeypatch.setattr(modal_compat, "QUERY_RETURNS_SCORES", True)
    picks, scores = VAALSampler(epochs=1, cache=cache)(learner, pool, 5, random_state=0)
    uncached = VAALSampler(epochs=1)(learner, pool, 5, random_state=0)
    np.testing.assert_array_equal(uncached[0], picks)
    saved = torch.load(cache, weights_only=True)
    saved["discriminator"]["net.4.bias"] += 50.0  # D would now call every row labeled: 1 - D = 0
    torch.save(saved, cache)
    _, reused = VAALSampler(epochs=1, cache=cache)(learner, pool, 5, random_state=0)
    np.testing.assert_allclose(reused, 0.0, atol=1e-12)
    _, retrained = VAALSampler(epochs=1, cache=cache)(learner, pool[:90], 5, random_state=0)  # other rows
    assert retrained.max() > 1e-6
    assert scores.max() > 1e-6


def test_vaal_needs_labeled_images(digits):
    net = make_net().fit(digits.X_train[:40], digits.y_train[:40])
    with pytest.raises(ConfigError, match="labeled images"):
        VAALSampler(epochs=1)(net, digits.X_train[40:80], 2)
    with pytest.raises(ValueError, match="epochs"):
        VAALSampler(epochs=0)(net, digits.X_train[40:80], 2, X_labeled=digits.X_train[:40])


# ---------------------------------------------------------------- budget-aware
def test_budget_aware_sampler_switches_at_labels_per_class(digits):
    X, y = digits.X_train, digits.y_train
    learner = ActiveLearner(estimator=make_net(warm_start=True), X_training=X[:40], y_training=y[:40])
    pool = X[40:140]
    low = TypiClustSampler(pretext_epochs=1, random_state=0)
    below = BudgetAwareSampler(low, labels_per_class=5)  # 40 labels < 5 x 10 classes
    np.testing.assert_array_equal(indices(below(learner, pool, 3, random_state=0)),
                                  indices(low(learner, pool, 3, random_state=0)))
    assert below.last_choice_ == "TypiClustSampler"
    above = BudgetAwareSampler(low, margin_sampling, labels_per_class=4)  # 40 labels = 4 x 10: switched
    np.testing.assert_array_equal(indices(above(learner, pool, 3)), indices(margin_sampling(learner, pool, 3)))
    assert above.last_choice_ == "margin_sampling"
    default = BudgetAwareSampler(low, labels_per_class=4)  # no high_budget: BADGE
    np.testing.assert_array_equal(indices(default(learner, pool, 3, random_state=1)),
                                  indices(badge_sampling(learner, pool, 3, random_state=1)))
    assert default.last_choice_ == "badge_sampling"
    with pytest.raises(ValueError, match="labels_per_class"):
        BudgetAwareSampler(labels_per_class=-1)(learner, pool, 3)
    with pytest.raises(ValueError, match="labels_per_class must be a number >= 0, got True"):
        BudgetAwareSampler(labels_per_class=True)(learner, pool, 3)
