"""ST-CoNAL: epoch snapshots, the averaged / EMA teacher with recalibrated BN, the sharpened-KL score, LR schedules."""
import json
import math
import pickle

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

from tod_plugin import modal_compat
from tod_plugin.errors import ConfigError, MissingHookError
from tod_plugin.states import module_state
from tod_plugin.hooks import EpochSnapshots, ema_weight, snapshot_plan
from tod_plugin.lr_schedules import CosineRestarts, lr_scheduler
from tod_plugin.scoring import sharpened_kl
from tod_plugin.strategies import stconal_sampling

from nets import RecordSteps, make_net


class RecordEpochs(Callback):
    """The weights after every epoch of the latest fit (1-based keys)."""

    def on_train_begin(self, net, **kwargs):
        self.states_ = {}

    def on_epoch_end(self, net, **kwargs):
        self.states_[len(self.states_) + 1] = module_state(net.module_)


def parameter_names(net):
    return [name for name, _ in net.module_.named_parameters()]


def first_bn(module):
    return next(m for m in module.modules() if isinstance(m, torch.nn.BatchNorm2d))


# ---------------------------------------------------------------- the score
def test_sharpened_kl_by_hand():
    # p_T = [.25, .75]; tau = 0.5 squares it: [.0625, .5625] / .625 = q = [.1, .9]
    teacher = torch.tensor([[0.0, math.log(3.0)]])
    students = (torch.tensor([[0.0, 0.0]]), torch.tensor([[0.0, math.log(3.0)]]))  # p = [.5, .5], [.25, .75]
    kl_1 = 0.1 * math.log(0.1 / 0.5) + 0.9 * math.log(0.9 / 0.5)  # 0.3680642
    kl_2 = 0.1 * math.log(0.1 / 0.25) + 0.9 * math.log(0.9 / 0.75)  # 0.0724603
    score = sharpened_kl(teacher, *students, temperature=0.5)
    np.testing.assert_allclose(score.numpy(), [(kl_1 + kl_2) / 2], rtol=1e-6)
    np.testing.assert_allclose(score.numpy(), [0.2202623], rtol=1e-6)


def test_sharpened_kl_is_finite_when_the_sharpened_teacher_underflows():
    teacher = torch.tensor([[0.0, 200.0]])  # q_0 = exp(-200 / 0.7) underflows to exactly 0 in float32
    student = torch.tensor([[200.0, 0.0]])  # log p_1 = -200
    assert torch.softmax(teacher / 0.7, dim=1)[0, 0] == 0
    naive = (torch.softmax(teacher / 0.7, 1) * torch.log(torch.softmax(teacher / 0.7, 1))).sum()
    assert torch.isnan(naive)  # what 0 * log 0 gives without log space
    score = sharpened_kl(teacher, student)
    assert torch.isfinite(score).all()
    np.testing.assert_allclose(score.numpy(), [200.0], rtol=1e-5)


def test_sharpened_kl_of_a_model_with_itself_at_tau_1_is_zero():
    z = torch.randn(20, 5, generator=torch.Generator().manual_seed(0)) * 4
    np.testing.assert_allclose(sharpened_kl(z, z, temperature=1.0).numpy(), 0.0, atol=1e-6)


# ---------------------------------------------------------------- the hook
def test_snapshot_plan_scales_the_paper():
    assert snapshot_plan(200) == (160, 10)
    assert snapshot_plan(20) == (16, 1)
    assert snapshot_plan(3) == (2, 1)


@pytest.fixture(scope="module")
def mean_fit(digits):
    recorder = RecordEpochs()
    net = make_net(max_epochs=8, batch_size=16, callbacks=[EpochSnapshots(start=4, every=2, n_students=2), recorder])
    net.fit(digits.X_train[:60], digits.y_train[:60])
    return net, recorder


def test_snapshots_after_the_planned_epochs_and_students_are_the_last_k(mean_fit):
    net, recorder = mean_fit
    hook = net.hook(EpochSnapshots)
    assert hook.snapshot_epochs_ == [4, 6, 8]
    assert hook.student_epochs_ == [8, 6]
    for state, epoch in zip(hook.students_, [8, 6]):
        assert all(torch.equal(state[k], recorder.states_[epoch][k]) for k in state)


def test_teacher_parameters_are_the_mean_of_the_snapshots(mean_fit):
    net, recorder = mean_fit
    teacher = net.hook(EpochSnapshots).teacher_
    for name in parameter_names(net):
        mean = sum(recorder.states_[e][name] for e in (4, 6, 8)) / 3
        torch.testing.assert_close(teacher[name], mean, rtol=1e-6, atol=1e-7)


def test_teacher_bn_statistics_are_the_labeled_datas(mean_fit, digits):
    net, recorder = mean_fit
    X = digits.X_train[:60]
    teacher = net.copy_module_with(net.hook(EpochSnapshots).teacher_)
    seen = []
    first_bn(teacher).register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    with torch.no_grad():
        teacher(next(net.iter_batches(X)))  # one batch: eval_batch_size >= 60
    inputs = seen[0].transpose(0, 1).flatten(1)  # (channels, N * H * W)
    bn = first_bn(teacher)
    torch.testing.assert_close(bn.running_mean, inputs.mean(dim=1), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(bn.running_var, inputs.var(dim=1, unbiased=True), rtol=1e-4, atol=1e-6)
    averaged = sum(recorder.states_[e][next(k for k in recorder.states_[8] if k.endswith("running_mean"))]
                   for e in (4, 6, 8)) / 3
    assert not torch.allclose(bn.running_mean, averaged, atol=1e-4)  # recalibration changed them


def test_ema_teacher_follows_the_warm_up_rule(digits):
    steps = RecordSteps()
    net = make_net(max_epochs=2, batch_size=20, callbacks=[EpochSnapshots(start=1, every=1, teacher="ema",
                                                                          ema_decay=0.6), steps])
    net.fit(digits.X_train[:60], digits.y_train[:60])
    names = parameter_names(net)
    ema = {k: steps.states_[0][k].clone() for k in names}
    for k, state in enumerate(steps.states_[1:], start=1):
        a = ema_weight(k, 0.6)
        ema = {n: a * ema[n] + (1 - a) * state[n] for n in names}
    assert ema_weight(1, 0.6) == 0.5 and ema_weight(2, 0.6) == 0.6  # 1 - 1/2, then capped at the decay
    teacher = net.hook(EpochSnapshots).teacher_
    for name in names:
        torch.testing.assert_close(teacher[name], ema[name], rtol=1e-5, atol=1e-6)


def test_epochs_are_counted_within_each_warm_started_fit(digits):
    recorder = RecordEpochs()
    net = make_net(max_epochs=3, warm_start=True, callbacks=[EpochSnapshots(start=2, every=1), recorder])
    X, y = digits.X_train, digits.y_train
    net.fit(X[:40], y[:40])
    net.fit(X[:60], y[:60])
    hook = net.hook(EpochSnapshots)
    assert len(net.history) == 6 and hook.snapshot_epochs_ == [2, 3]
    assert all(torch.equal(hook.students_[0][k], recorder.states_[3][k]) for k in hook.students_[0])


def test_a_fit_shorter_than_start_uses_its_final_weights_with_a_warning(digits):
    net = make_net(max_epochs=2)
    net.set_params(callbacks=[EpochSnapshots()])
    with pytest.warns(UserWarning, match=r"max_epochs \(2\) < start \(160\)"):
        net.fit(digits.X_train[:40], digits.y_train[:40])
    hook = net.hook(EpochSnapshots)
    assert hook.snapshot_epochs_ == [2] and len(hook.students_) == 1
    final = module_state(net.module_)
    for name in parameter_names(net):
        assert torch.equal(hook.teacher_[name], final[name])


@pytest.mark.parametrize("params, message", [
    ({"start": 0}, "start must be a positive int"),
    ({"every": 2.5}, "every must be a positive int"),
    ({"teacher": "median"}, "teacher must be one of"),
    ({"ema_decay": 1.0}, "ema_decay must be in"),
    ({"n_students": 0}, "n_students must be a positive int"),
])
def test_bad_hook_parameters(params, message):
    with pytest.raises(ValueError, match=message):
        make_net(callbacks=[EpochSnapshots(**params)]).initialize()


# ---------------------------------------------------------------- the strategy
def test_stconal_scores_equal_the_formula(mean_fit, digits, monkeypatch):
    net, _ = mean_fit
    pool = digits.X_train[100:180]
    hook = net.hook(EpochSnapshots)
    proba = [net.copy_module_with(s)(torch.cat(list(net.iter_batches(pool)))).softmax(1).detach().double().numpy()
             for s in (hook.teacher_, *hook.students_)]
    q = proba[0] ** (1 / 0.7)
    q /= q.sum(axis=1, keepdims=True)
    expected = np.mean([(q * (np.log(q) - np.log(p))).sum(axis=1) for p in proba[1:]], axis=0)
    monkeypatch.setattr(modal_compat, "QUERY_RETURNS_SCORES", True)
    idx, scores = stconal_sampling(net, pool, 6)
    np.testing.assert_array_equal(idx, np.argsort(-expected, kind="stable")[:6])
    np.testing.assert_allclose(scores, expected[idx], rtol=1e-4, atol=1e-6)


def test_stconal_without_the_hook_says_which_hook(digits):
    net = make_net(max_epochs=1).fit(digits.X_train[:40], digits.y_train[:40])
    with pytest.raises(MissingHookError, match="EpochSnapshots"):
        stconal_sampling(net, digits.X_train[40:80], 2)


@pytest.mark.parametrize("bad", [0, -1.0, "0.7", True])
def test_bad_temperature(mean_fit, digits, bad):
    with pytest.raises(ConfigError, match="temperature must be a positive number"):
        stconal_sampling(mean_fit[0], digits.X_train[100:120], 2, temperature=bad)


# ---------------------------------------------------------------- LR schedules
def test_cosine_restarts_end_each_cycle_on_a_snapshot_epoch():
    factors = [CosineRestarts(start=6, every=3)(e) for e in range(9)]
    # constant before epoch start - every; cycles over 0-based epochs 3-5 and 6-8, snapshots after epochs 6 and 9
    np.testing.assert_allclose(factors, [1, 1, 1, 1, 0.75, 0.25, 1, 0.75, 0.25], atol=1e-12)
    # start 5 is no multiple of every 3: the snapshots come after epochs 6 and 9, the cycles follow them
    np.testing.assert_allclose([CosineRestarts(start=5, every=3)(e) for e in range(9)],
                               [1, 1, 1, 1, 0.75, 0.25, 1, 0.75, 0.25], atol=1e-12)


class RecordLR(Callback):
    def on_train_begin(self, net, **kwargs):
        self.lrs_ = []

    def on_epoch_begin(self, net, **kwargs):
        self.lrs_.append(net.optimizer_.param_groups[0]["lr"])


@pytest.mark.parametrize("name, expected", [
    ("constant", [0.1] * 6),
    ("multistep", [0.1] * 5 + [0.01]),
    ("cosine-restarts", [0.1, 0.1, 0.1, 0.05, 0.1, 0.05]),  # snapshots after epochs 4 and 6
])
def test_lr_schedules_in_training(digits, name, expected):
    schedule = lr_scheduler(name, 6, start=4, every=2)
    recorder = RecordLR()
    net = make_net(max_epochs=6, lr=0.1, callbacks=([("lr_schedule", schedule)] if schedule else []) + [recorder])
    net.fit(digits.X_train[:20], digits.y_train[:20])
    net.fit(digits.X_train[:20], digits.y_train[:20])  # the schedule restarts with each fit
    np.testing.assert_allclose(recorder.lrs_, expected, rtol=1e-9)


@pytest.mark.parametrize("name, expected", [("multistep", [0.1, 0.1, 0.1, 0.01]),
                                            ("cosine-restarts", [0.1, 0.1, 0.1, 0.05])])
def test_pickled_schedule_holds_no_second_copy_of_the_weights(digits, name, expected):
    """The torch scheduler references the optimizer; it is rebuilt at every fit, so it is not pickled.
    A warm-started net restored from a pickle (a checkpoint) trains on like the original."""
    X, y = digits.X_train[:20], digits.y_train[:20]
    plain = make_net(max_epochs=4, lr=0.1, warm_start=True)
    scheduled = make_net(max_epochs=4, lr=0.1, warm_start=True, callbacks=[
        ("lr_schedule", lr_scheduler(name, 4, start=4, every=2)), ("lrs", RecordLR())])
    plain.fit(X, y)
    scheduled.fit(X, y)
    weights_and_momentum = 2 * sum(p.numel() * 4 for p in scheduled.module_.parameters())
    assert len(pickle.dumps(scheduled)) - len(pickle.dumps(plain)) < weights_and_momentum / 4
    restored = pickle.loads(pickle.dumps(scheduled))
    assert dict(restored.callbacks_)["lr_schedule"].lr_scheduler_ is None
    for net in (restored, scheduled):  # the next cycle: the schedule restarts, the weights carry on
        net.fit(X, y)
        assert dict(net.callbacks_)["lrs"].lrs_ == pytest.approx(expected)
    np.testing.assert_allclose(restored.history[:, "train_loss"], scheduled.history[:, "train_loss"])
    for a, b in zip(restored.module_.parameters(), scheduled.module_.parameters()):
        torch.testing.assert_close(a, b)


def test_unknown_lr_schedule():
    with pytest.raises(ConfigError, match="lr_schedule must be one of constant, multistep, cosine-restarts"):
        lr_scheduler("linear", 10)


# ---------------------------------------------------------------- the CLI wiring
def checkpointed_learner(out, strategy):
    from tod_plugin.experiment import load_learner

    return load_learner(out, strategy)


@pytest.mark.parametrize("reinit, expected", [(None, {"stconal": True, "stconal-ema": True, "cod": False}),
                                              (False, {"stconal": False, "stconal-ema": False, "cod": False}),
                                              (True, {"stconal": True, "stconal-ema": True, "cod": True})])
def test_reinit_defaults_to_the_strategys_protocol(reinit, expected):
    from tod_plugin.experiment import RunConfig

    config = RunConfig(strategies=tuple(expected), reinit=reinit).validate()
    assert {name: config.reinit_for(name) for name in expected} == expected


def test_cli_wires_hooks_reinit_and_schedule(tmp_path, capsys):
    from tod_plugin_cli.main import main

    out = tmp_path / "run"
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--out", str(out), "--strategy", "stconal-ema,cod", "--trials", "1", "--cycles", "1",
              "--epochs", "5", "--initial", "30", "--query-size", "10", "--lr-schedule", "cosine-restarts",
              "--device", "cpu", "--quiet"])
    assert exit_info.value.code == 0, capsys.readouterr().err
    assert json.loads((out / "config.json").read_text())["reinit"] is None
    for strategy, warm_start in {"stconal-ema": False, "cod": True}.items():
        net = checkpointed_learner(out, strategy).estimator
        assert net.warm_start is warm_start
        schedule = dict(net.callbacks_)["lr_schedule"]
        assert (schedule.lr_lambda.start, schedule.lr_lambda.every) == snapshot_plan(5) == (4, 1)
    hook = checkpointed_learner(out, "stconal-ema").estimator.hook(EpochSnapshots)
    assert (hook.start, hook.every, hook.teacher) == (4, 1, "ema")
    assert hook.snapshot_epochs_ == [4, 5] and hook.student_epochs_ == [5, 4]
