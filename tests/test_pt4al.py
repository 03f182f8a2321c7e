"""PT4AL and the rotation pretext: rotations, per-image pretext losses, the loss order cut into batches."""
import copy

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback
from torch.nn import functional as F

from tod_plugin import ALNetClassifier
from tod_plugin.errors import ConfigError
from tod_plugin.inference import score_pool
from tod_plugin.modal_compat import indices_and_scores
from tod_plugin.models import SmallCNN
from tod_plugin.pretext import RotationPretextNet, fit_rotation_pretext, pretext_net, rotation_losses, rotations
from tod_plugin.scoring import normalized_confidence
from tod_plugin.strategies import PT4ALSampler

from nets import indices


def test_rotations_are_rot90_image_major():
    X = np.arange(2 * 1 * 3 * 3, dtype=np.uint8).reshape(2, 1, 3, 3)
    X_rot, labels = rotations(X)
    assert X_rot.shape == (8, 1, 3, 3) and X_rot.dtype == np.uint8
    np.testing.assert_array_equal(labels, [0, 1, 2, 3, 0, 1, 2, 3])
    for i in range(2):
        for k in range(4):
            np.testing.assert_array_equal(X_rot[4 * i + k], np.rot90(X[i], k, axes=(1, 2)))
    # by hand: [[0,1,2],[3,4,5],[6,7,8]] turned 90 degrees counter-clockwise
    np.testing.assert_array_equal(X_rot[1, 0], [[2, 5, 8], [1, 4, 7], [0, 3, 6]])


def test_rotations_need_square_images():
    with pytest.raises(ConfigError, match="square images"):
        rotations(np.zeros((2, 1, 4, 6), dtype=np.uint8))


def test_pretext_net_is_the_task_net_with_four_classes(learner):
    net = pretext_net(learner.estimator, epochs=15, random_state=0)
    assert isinstance(net, RotationPretextNet) and net.module is SmallCNN
    assert net.module__in_channels == 1 and net.module__num_classes == 4
    assert list(net.classes) == [0, 1, 2, 3] and net.lr == 0.1 and net.batch_size == 256 and net.max_epochs == 15
    assert net.normalize == learner.estimator.normalize
    # the references' absolute milestones: 15 epochs (PT4AL) never reach the first drop
    assert dict(net.callbacks)["lr_schedule"].milestones == [30, 60, 90]


def test_pretext_takes_the_task_augmentation_when_asked():
    task = ALNetClassifier(SmallCNN, classes=np.arange(10), crop_padding=2, hflip=True, device="cpu")
    augmented, plain = pretext_net(task), pretext_net(task, augment=False)
    assert (augmented.crop_padding, augmented.hflip) == (2, True)
    assert (plain.crop_padding, plain.hflip) == (0, False)


class RecordInputs(Callback):
    """The module's state when training starts and every input batch it sees in training mode."""

    def on_train_begin(self, net, **kwargs):
        self.state_, self.seen_ = copy.deepcopy(net.module_.state_dict()), []
        net.module_.register_forward_pre_hook(self.record)

    def record(self, module, args):
        if module.training:
            self.seen_.append(args[0].detach().clone())


def test_a_step_stacks_the_four_rotations_of_one_augmented_image_batch(digits):
    """The references' step: B images, one crop and flip each, then their 4 rotations (4B rows),
    loss = mean of the four rotations' cross-entropies; an epoch has ceil(N / B) steps."""
    X = digits.X_train[:40]
    task = ALNetClassifier(SmallCNN, classes=np.arange(10), crop_padding=2, hflip=True, device="cpu")
    net = pretext_net(task, epochs=1, batch_size=16, random_state=0)
    recorder = RecordInputs()
    net.callbacks.append(("record", recorder))
    net.fit(X)
    assert len(net.history[-1]["batches"]) == 3 and [len(x) for x in recorder.seen_] == [64, 64, 32]
    for x in recorder.seen_:
        b = len(x) // 4
        for k in range(4):
            torch.testing.assert_close(x[k * b:(k + 1) * b], torch.rot90(x[:b], k, dims=(2, 3)))
    module = copy.deepcopy(net.module_)
    module.load_state_dict(recorder.state_)
    with torch.no_grad():
        logits = module.train()(recorder.seen_[0])
    terms = [F.cross_entropy(logits[k * 16:(k + 1) * 16], torch.full((16,), k)) for k in range(4)]
    assert net.history[-1]["batches"][0]["train_loss"] == pytest.approx(float(sum(terms) / 4), rel=1e-4)


def test_rotation_pretext_needs_square_images():
    net = pretext_net(ALNetClassifier(SmallCNN, classes=np.arange(10), device="cpu"), epochs=1)
    with pytest.raises(ConfigError, match="square images"):
        net.fit(np.zeros((4, 1, 4, 6), dtype=np.uint8))


def test_rotation_losses_are_the_mean_of_four_cross_entropies(learner, digits):
    X = digits.X_train[60:100]
    net = fit_rotation_pretext(pretext_net(learner.estimator, epochs=1, random_state=0), X)
    proba = net.predict_proba(rotations(X)[0]).astype(np.float64)
    expected = -np.log(proba[np.arange(len(proba)), np.tile(np.arange(4), len(X))]).reshape(-1, 4).mean(axis=1)
    np.testing.assert_allclose(rotation_losses(net, X), expected, rtol=1e-4)


def with_order(monkeypatch, order):
    def fixed(self, net, X):
        losses = np.empty(len(order))
        losses[order] = np.arange(len(order))[::-1]  # descending along P
        return np.asarray(order), losses

    monkeypatch.setattr(PT4ALSampler, "_order", fixed)


def test_batches_of_the_loss_order(learner, digits, monkeypatch):
    pool = digits.X_train[60:80]
    order = np.random.RandomState(0).permutation(20)
    with_order(monkeypatch, order)
    sampler = PT4ALSampler(n_batches=4)  # batches P[0:5], P[5:10], P[10:15], P[15:20]
    first = sampler.initial_indices(learner, pool, 2)
    np.testing.assert_array_equal(first, order[[0, 2]])  # cycle 0: evenly spaced ranks 0, 2 of batch 0
    rows = np.arange(20)
    for cycle in (1, 2, 3):
        batch = order[5 * cycle:5 * cycle + 5]
        conf = score_pool(learner.estimator, pool[batch], [learner.estimator.module_], normalized_confidence)
        # the user keeps the pool whole: earlier picks are skipped
        idx, scores = indices_and_scores(sampler(learner, pool, 2))
        np.testing.assert_array_equal(rows[idx], batch[np.argsort(conf, kind="stable")[:2]])
        np.testing.assert_allclose(scores, np.sort(conf)[:2], rtol=1e-6)
    # past the last batch (window P[20:20]): the nearest unlabeled ranks, the last two left, fill in
    left = [rank for rank in range(20) if not sampler.queried_[order[rank]]]
    idx, _ = indices_and_scores(sampler(learner, pool, 2))
    assert sorted(idx.tolist()) == sorted(order[left[-2:]].tolist()) and min(left[-2:]) >= 15


def test_queries_take_the_lowest_normalized_confidence_not_the_plain_one(learner, digits, monkeypatch):
    """PT4AL's reference scores softmax(z / ||z||) as BAL's, which ranks the pool differently from softmax(z)."""
    pool = digits.X_train[60:260]
    order = np.arange(200)
    with_order(monkeypatch, order)
    sampler = PT4ALSampler(n_batches=2)
    sampler.initial_indices(learner, pool, 10)
    picked = np.sort(indices(sampler(learner, pool, 20)))
    logits = torch.as_tensor(learner.estimator.forward(pool[100:]))
    normalized = 100 + np.sort(np.argsort(normalized_confidence(logits).numpy(), kind="stable")[:20])
    plain = 100 + np.sort(np.argsort(torch.softmax(logits, 1).amax(1).numpy(), kind="stable")[:20])
    np.testing.assert_array_equal(picked, normalized)
    assert not np.array_equal(normalized, plain)


def test_the_initial_set_is_cycle_0_once(learner, digits, monkeypatch):
    with_order(monkeypatch, np.arange(20))
    sampler = PT4ALSampler(n_batches=2)
    assert len(sampler.initial_indices(learner, digits.X_train[60:80], 4)) == 4
    with pytest.raises(ConfigError, match="initial set is cycle 0"):
        sampler.initial_indices(learner, digits.X_train[60:80], 4)


def test_real_order_is_loss_descending(learner, digits):
    sampler = PT4ALSampler(pretext_epochs=1, random_state=0)
    sampler(learner, digits.X_train[60:160], 3)
    assert np.all(np.diff(sampler.order_score_[sampler.order_]) <= 0)


def test_bad_n_batches(learner, digits):
    with pytest.raises(ConfigError, match="n_batches must be None or a positive int"):
        PT4ALSampler(n_batches=0)(learner, digits.X_train[60:80], 2)


def test_n_batches_none_gives_chunks_of_the_query_size_after_the_initial_set(learner, digits, monkeypatch):
    order = np.arange(20)[::-1]
    with_order(monkeypatch, order)
    sampler = PT4ALSampler(n_batches=None)
    first = sorted(sampler.initial_indices(learner, digits.X_train[60:80], 4).tolist())
    picks = [sorted(indices(sampler(learner, digits.X_train[60:80], 3)).tolist()) for _ in range(2)]
    assert [first, *picks] == [sorted(order[:4].tolist()), sorted(order[4:7].tolist()), sorted(order[7:10].tolist())]


def test_rotation_pretext_needs_a_module_class():
    net = ALNetClassifier(SmallCNN(1, 10), classes=np.arange(10), device="cpu")
    with pytest.raises(ConfigError, match="module=<a module class>"):
        pretext_net(net)
    assert pretext_net(net, module=SmallCNN).module is SmallCNN
