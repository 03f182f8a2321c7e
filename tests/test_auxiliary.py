"""The TOD auxiliary loss, the EMA teacher and LL4AL: mathematics pinned by hand computations."""
import pickle

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from torch.nn import functional as F

from tod_plugin import ALNetClassifier
from tod_plugin.auxiliary import (AUXILIARIES, LL4ALLoss, LossPredictionModule, NoAuxiliary, TODLoss,
                                  TOD_AUX_WEIGHTS, ranking_loss, resolve_auxiliary, tod_consistency_loss)
from tod_plugin.batching import UnlabeledStream
from tod_plugin.errors import ConfigError, MissingHookError
from tod_plugin.hooks import EMATeacher, ema_weight
from tod_plugin.hooks.ema import EMAAverager
from tod_plugin.modal_compat import indices_and_scores
from tod_plugin.models import MLP, CifarResNet18, SmallCNN
from tod_plugin.strategies import ll4al_sampling
from tod_plugin.training_calls import FitContext

from nets import make_net


class RecordParams(Callback):
    """The student's parameters at the start and after every optimizer step."""

    def on_train_begin(self, net, **kwargs):
        if not hasattr(self, "states_"):
            self.states_ = [[p.detach().clone() for p in net.module_.parameters()]]

    def on_batch_end(self, net, training=False, **kwargs):
        if training:
            self.states_.append([p.detach().clone() for p in net.module_.parameters()])


def tod_net(**overrides):
    params = dict(auxiliary="tod", callbacks=[EMATeacher(decay=0.9)], batch_size=20, warm_start=True)
    params.update(overrides)
    return make_net(**params)


def test_ema_weight_rule():
    assert ema_weight(1, 0.999) == pytest.approx(0.5)
    assert ema_weight(3, 0.999) == pytest.approx(0.75)
    assert ema_weight(10**6, 0.999) == 0.999


def test_teacher_is_the_hand_computed_average_across_fits(small_split):
    X, y, Xp, *_ = small_split
    recorder = RecordParams()
    net = tod_net(callbacks=[EMATeacher(decay=0.9), recorder], max_epochs=2)
    net.fit(X, y, X_unlabeled=Xp)
    net.fit(X, y, X_unlabeled=Xp)  # warm start: the step counter k carries on
    states = recorder.states_
    expected = [p.clone() for p in states[0]]
    for k, params in enumerate(states[1:], start=1):
        a = ema_weight(k, 0.9)
        expected = [a * e + (1 - a) * p for e, p in zip(expected, params)]
    teacher = net.hook(EMATeacher)
    assert teacher.steps_ == len(states) - 1 == 12
    for got, want in zip(teacher.teacher_.parameters(), expected):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_reinitialising_resets_the_teacher(small_split):
    X, y, Xp, *_ = small_split
    net = tod_net(warm_start=False, max_epochs=1)
    net.fit(X, y, X_unlabeled=Xp)
    net.fit(X, y, X_unlabeled=Xp)
    assert net.hook(EMATeacher).steps_ == 3


def test_teacher_gets_no_gradient(small_split):
    X, y, Xp, *_ = small_split
    net = tod_net(max_epochs=1).fit(X, y, X_unlabeled=Xp)
    for p in net.hook(EMATeacher).teacher_.parameters():
        assert not p.requires_grad and p.grad is None


def test_ema_works_with_a_compiled_module():
    module = torch.nn.Linear(3, 2)
    averager = EMAAverager(0.5)
    averager.update(torch.compile(module))
    assert type(averager.module) is torch.nn.Linear
    torch.testing.assert_close(averager.module.weight, module.weight)


def test_tod_consistency_loss_by_hand():
    main_l, aux_l, teacher_l = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 0.0]]), torch.tensor([[0.0, 2.0]])
    main_u, aux_u, teacher_u = torch.tensor([[2.0, 2.0]]), torch.tensor([[0.0, 2.0]]), torch.tensor([[0.0, 2.0]])
    # (1 + 0)/2 + (0 + 4)/2 + (4 + 0)/2 + (0 + 0)/2 = 0.5 + 2 + 2 + 0
    loss = tod_consistency_loss(main_l, aux_l, teacher_l, main_u, aux_u, teacher_u)
    assert loss.item() == pytest.approx(4.5)
    assert tod_consistency_loss(main_l, aux_l, teacher_l).item() == pytest.approx(2.5)


def test_tod_loss_sends_no_gradient_to_the_teacher_logits():
    teacher = torch.ones(2, 3, requires_grad=True)
    main, aux = torch.zeros(2, 3, requires_grad=True), torch.zeros(2, 3, requires_grad=True)
    tod_consistency_loss(main, aux, teacher).backward()
    assert teacher.grad is None and aux.grad is not None


def test_every_step_draws_a_fresh_unlabeled_batch_of_the_labeled_size(small_split, monkeypatch):
    X, y, Xp, *_ = small_split
    drawn = []
    original = UnlabeledStream.next

    def record(self, size):
        batch = original(self, size)
        drawn.append(batch)
        return batch

    monkeypatch.setattr(UnlabeledStream, "next", record)
    tod_net(batch_size=16, max_epochs=2).fit(X, y, X_unlabeled=Xp)
    assert [len(b) for b in drawn] == [16, 16, 16, 12] * 2
    assert len({b.sum().item() for b in drawn}) == len(drawn)


def test_unlabeled_stream_walks_the_pool_without_repeats():
    data = type("D", (), {"X": torch.arange(10), "__len__": lambda self: 10})()
    stream = UnlabeledStream(data, lambda x, training, generator: x, torch.Generator().manual_seed(0))
    seen = torch.cat([stream.next(5), stream.next(5)])
    assert sorted(seen.tolist()) == list(range(10))


def test_tod_needs_the_pool_and_the_teacher(small_split):
    X, y, Xp, *_ = small_split
    with pytest.raises(ConfigError, match="X_unlabeled"):
        tod_net().fit(X, y)
    with pytest.raises(MissingHookError, match="EMATeacher"):
        make_net(auxiliary="tod").fit(X, y, X_unlabeled=Xp)
    with pytest.warns(UserWarning, match="only used with auxiliary='tod'"):
        make_net().fit(X, y, X_unlabeled=Xp)


def test_second_head_is_added_and_predictions_use_the_main_head(small_split):
    X, y, Xp, *_ = small_split
    net = tod_net(max_epochs=1).fit(X, y, X_unlabeled=Xp)
    assert net.module_.fc_aux is not None
    x = torch.as_tensor(Xp[:5]).float() / 255.0
    net.module_.eval()
    with torch.no_grad():
        expected = torch.softmax(net.module_.fc(net.module_.forward_features(x)), 1).numpy()
    np.testing.assert_allclose(net.predict_proba(Xp[:5]), expected, atol=1e-6)


@pytest.mark.parametrize("model", [SmallCNN(3, 4, aux_head=True), CifarResNet18(4, aux_head=True)])
def test_models_have_two_heads_and_stages(model):
    x = torch.randn(2, 3, 32, 32)
    main, aux = model.forward_heads(x)
    assert main.shape == aux.shape == (2, 4)
    logits, stages = model.forward_with_stages(x)
    assert [s.shape[1] for s in stages] == list(model.stage_channels)
    torch.testing.assert_close(logits, main)


def test_ranking_loss_by_hand():
    predicted = torch.tensor([3.0, 1.0, 2.0, 0.0])
    target = torch.tensor([0.5, 2.0, 1.0, 0.1])
    # pairs (0, 3): d = 3, t = +1 -> 0; (1, 2): d = -1, t = +1 -> 2; mean = 1
    assert ranking_loss(predicted, target).item() == pytest.approx(1.0)
    # odd batch: the middle element (index 2) is left out; pair (1, 3): d = 1, t = +1 -> 0
    odd_pred, odd_target = torch.tensor([3.0, 1.0, 9.0, 0.0, 0.0]), torch.tensor([0.5, 2.0, 5.0, 0.1, 1.0])
    # pairs (0, 4): d = 3, t = -1 -> 4; (1, 3): d = 1, t = +1 -> 0; mean = 2
    assert ranking_loss(odd_pred, odd_target).item() == pytest.approx(2.0)
    assert ranking_loss(torch.tensor([1.0]), torch.tensor([1.0])).item() == 0.0


def test_loss_module_accepts_any_input_size():
    module = LossPredictionModule((8, 16))
    out = module([torch.randn(3, 8, 7, 7), torch.randn(3, 16, 3, 3)])
    assert out.shape == (3,)


def backbone_grads(net, x, y, epoch):
    net.module_.zero_grad()
    net.loss_module_.zero_grad()
    logits, aux = net.auxiliary_loss_.forward(net, x, y, FitContext(epoch=epoch))
    (F.cross_entropy(logits, y) + aux).backward()
    return [p.grad.clone() for p in net.module_.stages.parameters()]


def test_after_the_stop_epoch_the_module_leaves_the_backbone_alone(small_split):
    """The reference detaches when ``epoch > epoch_loss`` (0-based): the stop epoch itself still shapes it."""
    X, y, *_ = small_split
    net = make_net(auxiliary="ll4al", ll4al_stop_epoch=1, max_epochs=1).fit(X, y)
    net.module_.train()
    x, target = torch.as_tensor(X[:16]).float() / 255.0, torch.as_tensor(y[:16])
    net.module_.zero_grad()
    F.cross_entropy(net.module_(x), target).backward()
    ce_only = [p.grad.clone() for p in net.module_.stages.parameters()]
    after = backbone_grads(net, x, target, epoch=2)
    for before in (backbone_grads(net, x, target, epoch=0), backbone_grads(net, x, target, epoch=1)):
        assert any(not torch.allclose(b, c) for b, c in zip(before, ce_only))
    for a, c in zip(after, ce_only):
        torch.testing.assert_close(a, c)
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in net.loss_module_.parameters())


def test_loss_module_is_optimized_and_sampling_picks_highest_predicted_loss(small_split, monkeypatch):
    X, y, Xp, *_ = small_split
    net = make_net(auxiliary="ll4al", max_epochs=2).fit(X, y)
    optimized = {id(p) for group in net.optimizer_.param_groups for p in group["params"]}
    assert all(id(p) in optimized for p in net.loss_module_.parameters())
    idx, scores = indices_and_scores(ll4al_sampling(net, Xp, 5))
    net.module_.eval()
    net.loss_module_.eval()
    with torch.no_grad():
        x = torch.as_tensor(Xp).float() / 255.0
        expected = net.loss_module_(net.module_.stage_features(x)).numpy()
    np.testing.assert_array_equal(idx, np.argsort(-expected, kind="stable")[:5])
    assert net.module_.training is False


def test_ll4al_errors(small_split):
    X, y, *_ = small_split
    with pytest.raises(ConfigError, match="stage features"):
        ALNetClassifier(MLP, auxiliary="ll4al", max_epochs=1).fit(X.reshape(len(X), -1), y)
    net = make_net().fit(X, y)
    with pytest.raises(MissingHookError, match="auxiliary='ll4al'"):
        ll4al_sampling(net, X, 2)
    with pytest.raises(ConfigError, match="auxiliary must be one of"):
        make_net(auxiliary="vat").fit(X, y)


def test_clone_and_pickle_keep_hooks_and_modules(small_split):
    X, y, Xp, *_ = small_split
    net = tod_net(max_epochs=1).fit(X, y, X_unlabeled=Xp)
    twin = clone(net)
    assert twin.auxiliary == "tod" and twin.callbacks[0].decay == 0.9
    restored = pickle.loads(pickle.dumps(net))
    for a, b in zip(restored.hook(EMATeacher).teacher_.parameters(), net.hook(EMATeacher).teacher_.parameters()):
        torch.testing.assert_close(a, b)
    assert restored.hook(EMATeacher).steps_ == net.hook(EMATeacher).steps_
    restored.fit(X, y, X_unlabeled=Xp)
    ll = make_net(auxiliary="ll4al", max_epochs=1).fit(X, y)
    again = pickle.loads(pickle.dumps(ll))
    torch.testing.assert_close(again.loss_module_.out.weight, ll.loss_module_.out.weight)


@pytest.mark.parametrize("name, kind, weight, uses_pool, module_params, hooks", [
    ("none", NoAuxiliary, None, False, {}, []),
    ("tod", TODLoss, 0.02, True, {"aux_head": True}, [EMATeacher]),
    ("ll4al", LL4ALLoss, 1.0, False, {}, []),
])
def test_each_auxiliary_object_says_what_it_needs(name, kind, weight, uses_pool, module_params, hooks):
    loss = resolve_auxiliary(name)
    assert type(loss) is kind and loss.name == name and name in AUXILIARIES
    assert loss.default_weight == weight and make_net(auxiliary=name).effective_aux_weight == weight
    assert make_net(auxiliary=name, aux_weight=0.5).effective_aux_weight == 0.5
    assert loss.uses_pool is uses_pool and loss.module_params == module_params
    made = loss.make_hooks()
    assert [type(h) for h in made] == hooks and all(h.decay == 0.999 for h in made)
    assert loss.dataset_weights == (TOD_AUX_WEIGHTS if name == "tod" else {})


@pytest.mark.parametrize("bad", ["vat", "TOD", None, ["tod"]])
def test_the_resolver_names_the_parameter_and_the_accepted_values(bad):
    with pytest.raises(ConfigError, match=r"auxiliary must be one of none, tod, ll4al, got"):
        resolve_auxiliary(bad)


def test_the_fitted_net_asks_its_auxiliary_object(small_split):
    X, y, Xp, *_ = small_split
    net = tod_net(max_epochs=1)
    with pytest.raises(MissingHookError, match=r"auxiliary='tod' needs an EMA teacher: .*EMATeacher\(\)"):
        TODLoss().check_hooks(make_net(auxiliary="tod").initialize())
    net.fit(X, y, X_unlabeled=Xp)
    assert isinstance(net.auxiliary_loss_, TODLoss) and net.auxiliary == "tod"
    net.set_params(auxiliary="none")  # the next training call trains without the auxiliary term
    assert isinstance(net.auxiliary_loss_, NoAuxiliary)
    steps = net.hook(EMATeacher).steps_
    with pytest.warns(UserWarning, match="only used with auxiliary='tod'"):
        net.partial_fit(X, y, X_unlabeled=Xp)
    assert net.hook(EMATeacher).steps_ == steps + 3  # the hook still averages; no teacher loss is asked for


def test_clone_and_grid_search_keep_auxiliary_a_string(small_split):
    X, y, *_ = small_split
    net = make_net(auxiliary="ll4al", max_epochs=1, batch_size=10)
    twin = clone(net.fit(X, y))
    assert twin.get_params()["auxiliary"] == "ll4al" and not hasattr(twin, "auxiliary_loss_")
    search = GridSearchCV(make_net(auxiliary="ll4al", max_epochs=1, batch_size=10),
                          {"aux_weight": [0.5, 1.0]}, cv=2).fit(X, y)
    best = search.best_estimator_
    assert best.auxiliary == "ll4al" and isinstance(best.auxiliary_loss_, LL4ALLoss)
    assert isinstance(best.loss_module_, LossPredictionModule)


class RecordContext(Callback):
    """The fit context's epoch and generator as each epoch ends."""

    def on_epoch_end(self, net, **kwargs):
        self.seen_ = [*getattr(self, "seen_", []), (net.fit_context_.epoch, net.fit_context_.generator)]


def test_the_fit_context_lives_for_one_training_call(small_split):
    X, y, Xp, *_ = small_split
    recorder = RecordContext()
    net = tod_net(callbacks=[EMATeacher(decay=0.9), recorder], max_epochs=3).fit(X, y, X_unlabeled=Xp)
    assert [epoch for epoch, _ in recorder.seen_] == [0, 1, 2]
    assert all(isinstance(g, torch.Generator) for _, g in recorder.seen_)
    net.partial_fit(X, y, X_unlabeled=Xp, epochs=2)
    assert [epoch for epoch, _ in recorder.seen_[3:]] == [0, 1]
    assert recorder.seen_[3][1] is not recorder.seen_[0][1]  # a new generator per call
    assert net.fit_context_ is None and "fit_context_" not in vars(net)
    assert not {"fit_epoch_", "fit_generator_", "unlabeled_stream_", "interrupted_"} & set(vars(net))
