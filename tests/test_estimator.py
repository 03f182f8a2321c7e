import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from tod_plugin import ALNetClassifier
from tod_plugin.errors import ConfigError
from tod_plugin.hooks import EpochSnapshots, StepSnapshot
from tod_plugin.models import MLP, SmallCNN
from tod_plugin.states import module_state
from tod_plugin.strategies import cod_sampling

from nets import RecordSteps, make_net


def weights(net):
    return torch.cat([p.detach().flatten() for p in net.module_.parameters()])


def test_defaults_learn_on_a_small_labeled_set(digits):
    X, y = digits.X_train[:150], digits.y_train[:150]
    net = ALNetClassifier(SmallCNN, random_state=0, device="cpu").fit(X, y)
    assert net.score(digits.X_test, digits.y_test) > 0.8
    assert isinstance(net.criterion_, torch.nn.CrossEntropyLoss)
    assert net.optimizer_.param_groups[0]["momentum"] == 0.9
    assert net.optimizer_.param_groups[0]["weight_decay"] == 5e-4
    assert net.steps_per_epoch(150) >= 10


def test_module_sizes_are_inferred_from_the_data(digits):
    net = ALNetClassifier(SmallCNN, max_epochs=1, device="cpu").fit(digits.X_train[:40], digits.y_train[:40])
    assert net.module_.fc.out_features == len(np.unique(digits.y_train[:40]))
    assert net.module_.stages[0][0].in_channels == 1


def test_hw_and_chw_uint8_and_float_inputs_agree(small_split):
    X, y, *_ = small_split
    a = make_net().fit(X[:, 0], y).predict_proba(X[:, 0])
    b = make_net().fit(X, y).predict_proba(X)
    c = make_net().fit(X.astype(np.float32) / 255.0, y).predict_proba(X.astype(np.float32) / 255.0)
    np.testing.assert_allclose(a, b, atol=1e-6)
    np.testing.assert_allclose(b, c, atol=1e-5)


def test_string_labels_and_explicit_classes(small_split):
    X, y, *_ = small_split
    names = np.array(list("abcdefghij"))
    net = make_net(classes=names).fit(X, names[y])
    assert set(net.predict(X)) <= set(names)
    with pytest.raises(ConfigError, match="not in classes"):
        make_net(classes=names[:5]).fit(X, names[y])


def test_same_random_state_gives_the_same_model(small_split):
    X, y, Xp, *_ = small_split
    p1 = make_net(crop_padding=1).fit(X, y).predict_proba(Xp)
    p2 = make_net(crop_padding=1).fit(X, y).predict_proba(Xp)
    p3 = make_net(crop_padding=1, random_state=1).fit(X, y).predict_proba(Xp)
    np.testing.assert_array_equal(p1, p2)
    assert not np.allclose(p1, p3)


def test_fit_leaves_global_torch_rng_alone(small_split):
    X, y, *_ = small_split
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    make_net().fit(X, y)
    np.testing.assert_array_equal(torch.rand(3), expected)


def test_reference_state_is_initial_then_previous_final(small_split):
    X, y, Xp, yp, *_ = small_split
    net = make_net(warm_start=True).initialize()
    initial = {k: v.clone() for k, v in net.module_.state_dict().items()}
    net.fit(X, y)
    assert all(torch.equal(initial[k], net.reference_state_[k]) for k in initial)
    assert net.reference_is_initial_
    final_1 = {k: v.clone() for k, v in net.module_.state_dict().items()}
    assert not all(torch.equal(final_1[k], net.reference_state_[k]) for k in final_1)
    net.fit(np.concatenate([X, Xp[:20]]), np.concatenate([y, yp[:20]]))
    assert not net.reference_is_initial_
    assert all(torch.equal(final_1[k], net.reference_state_[k]) for k in final_1)


def test_warm_start_continues_weights_and_restarts_optimizer(small_split):
    X, y, *_ = small_split
    net = make_net(warm_start=True).fit(X, y)
    before = weights(net).clone()
    optimizer = net.optimizer_
    net.fit(X, y)
    assert net.optimizer_ is not optimizer
    assert net.optimizer_.param_groups[0]["lr"] == 0.05
    assert torch.equal(net.reference_state_["fc.weight"], before[-(10 * 64 + 10):-10].view(10, 64))


def test_cold_start_reinitialises_but_keeps_previous_final_as_reference(small_split):
    X, y, *_ = small_split
    net = make_net(warm_start=False).fit(X, y)
    final = net.module_.state_dict()["fc.weight"].clone()
    net.fit(X, y)
    assert torch.equal(net.reference_state_["fc.weight"], final)


def test_device_auto_is_kept_verbatim(small_split):
    X, y, *_ = small_split
    net = make_net(device="auto").fit(X, y)
    assert net.get_params()["device"] == "auto"
    assert next(net.module_.parameters()).device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    restored = pickle.loads(pickle.dumps(net))
    assert restored.device == "auto"
    np.testing.assert_allclose(restored.predict_proba(X), net.predict_proba(X), atol=1e-6)


def test_clone_get_set_params_and_pickle(small_split):
    X, y, *_ = small_split
    net = make_net(crop_padding=1, hflip=False, normalize=((0.3,), (0.3,)))
    twin = clone(net)
    assert twin.get_params()["crop_padding"] == 1 and twin.get_params()["normalize"] == ((0.3,), (0.3,))
    twin.set_params(lr=0.01, max_epochs=1)
    assert twin.lr == 0.01 and net.lr == 0.05
    net.fit(X, y)
    restored = pickle.loads(pickle.dumps(net))
    np.testing.assert_array_equal(restored.predict(X), net.predict(X))


def test_pipeline_with_function_transformer_and_strategy(small_split):
    X, y, Xp, *_ = small_split
    flat = FunctionTransformer(lambda a: a.reshape(len(a), -1).astype(np.float32) / 255.0)
    pipe = make_pipeline(flat, ALNetClassifier(MLP, max_epochs=3, random_state=0, device="cpu",
                                               classes=np.arange(10)))
    pipe.fit(X, y)
    assert pipe.predict(Xp).shape == (len(Xp),)
    picked = cod_sampling(pipe, Xp, n_instances=5, random_state=0)
    picked = picked[0] if isinstance(picked, tuple) else picked
    assert len(set(picked.tolist())) == 5


def test_grid_search_over_lr(small_split):
    X, y, *_ = small_split
    search = GridSearchCV(make_net(max_epochs=1), {"lr": [0.01, 0.05]}, cv=2)
    search.fit(X, y)
    assert search.best_params_["lr"] in (0.01, 0.05)


@pytest.mark.parametrize(
    "X, message",
    [
        (np.zeros(10), "1-D"),
        (np.full((4, 1, 8, 8), np.nan), "NaN"),
        (np.zeros((0, 1, 8, 8)), "0 sample"),
        (np.array([["a"]] * 4, dtype=object), "could not convert"),
    ],
)
def test_bad_X_is_a_clear_error(X, message):
    with pytest.raises(ConfigError, match=message):
        make_net().fit(X, np.zeros(len(X), dtype=int))


def test_predict_on_other_image_shape_is_a_clear_error(small_split):
    X, y, *_ = small_split
    net = make_net().fit(X, y)
    with pytest.raises(ConfigError, match="shape"):
        net.predict(np.zeros((2, 3, 8, 8), dtype=np.uint8))


@pytest.mark.parametrize("batch_size", [0, -2, "big", 2.5])
def test_bad_batch_size(small_split, batch_size):
    X, y, *_ = small_split
    with pytest.raises(ConfigError, match="batch_size"):
        make_net(batch_size=batch_size).fit(X, y)


def states_equal(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("warm_start", [True, False])
def test_partial_fit_keeps_the_reference_at_the_weights_it_started_from(small_split, warm_start):
    X, y, Xp, yp, *_ = small_split
    net = make_net(warm_start=warm_start)
    net.partial_fit(X, y)  # modAL's DeepActiveLearner.teach trains this way
    assert net.reference_is_initial_ and net.n_fits_ == 1
    for train in (lambda: net.partial_fit(Xp[:30], yp[:30]), lambda: net.fit(X, y), lambda: net.partial_fit(X, y)):
        before = module_state(net.module_)
        train()
        assert states_equal(net.reference_state_, before)
        assert not net.reference_is_initial_
    assert net.n_fits_ == 4


def test_a_reinitialised_fit_draws_new_weights_reproducibly(small_split):
    X, y, *_ = small_split
    starts = []
    for _ in range(2):
        recorder = RecordSteps()
        net = make_net(warm_start=False, callbacks=[recorder])
        fits = []
        for _ in range(2):
            net.fit(X, y)
            fits.append(recorder.states_[0])
        starts.append(fits)
    assert not states_equal(starts[0][0], starts[0][1])  # cycle 2 starts from new weights
    assert all(states_equal(a, b) for a, b in zip(*starts))  # the same seed: the same weights


def test_set_params_random_state_restarts_the_seed_stream(small_split):
    X, y, *_ = small_split
    net = make_net(warm_start=False).fit(X, y)
    first = net.predict_proba(X)
    net.set_params(random_state=0).fit(X, y)
    np.testing.assert_array_equal(net.predict_proba(X), first)


def test_a_module_rebuilt_by_set_params_keeps_the_previous_fit_as_reference(small_split):
    X, y, *_ = small_split
    net = make_net(warm_start=False).fit(X, y)
    final = module_state(net.module_)
    net.set_params(module__width=16)  # skorch re-initialises the module now
    assert not states_equal(module_state(net.module_), final)
    net.fit(X, y)
    assert states_equal(net.reference_state_, final)


@pytest.mark.parametrize("steps_before_end", [None, 3])
def test_step_snapshot_plans_from_partial_fits_epochs(small_split, steps_before_end):
    X, y, *_ = small_split
    recorder = RecordSteps()
    net = make_net(batch_size=16, max_epochs=10, callbacks=[StepSnapshot(steps_before_end), recorder])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        net.partial_fit(X, y, epochs=2)
    T = steps_before_end or 4
    hook = net.hook(StepSnapshot)
    assert len(recorder.states_) - 1 == 2 * 4 and net.planned_epochs_ == 2
    assert states_equal(hook.snapshot_, recorder.states_[-1 - T]) and hook.snapshot_steps_before_end_ == T
    assert not states_equal(hook.snapshot_, recorder.states_[-1])  # TOD compares two different states


def test_epoch_snapshots_follow_partial_fits_epochs(small_split):
    X, y, *_ = small_split
    net = make_net(max_epochs=1, callbacks=[EpochSnapshots(start=2, every=1)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        net.partial_fit(X, y, epochs=3)
    assert net.hook(EpochSnapshots).snapshot_epochs_ == [2, 3]


def test_initialize_before_data_defers_the_sizes_the_data_give(small_split):
    X, y, *_ = small_split
    net = ALNetClassifier(SmallCNN, max_epochs=1, random_state=0, device="cpu")
    assert not net.initialize().initialized_  # modAL's DeepActiveLearner calls this in __init__
    net.partial_fit(X, y)
    assert net.module_.stages[0][0].in_channels == 1 and net.module_.fc.out_features == len(np.unique(y))


class NeedsHidden(torch.nn.Module):
    def __init__(self, hidden, num_classes):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.LazyLinear(hidden), torch.nn.Linear(hidden, num_classes))

    def forward(self, x):
        return self.net(x)


def test_a_module_parameter_the_data_cannot_give_is_named():
    net = ALNetClassifier(NeedsHidden, classes=np.arange(10), device="cpu")
    with pytest.raises(ConfigError, match=r"module__hidden=\.\.\."):
        net.initialize()


def test_growing_labels_without_classes_ask_for_classes(small_split):
    X, y, *_ = small_split
    two = np.isin(y, [0, 1])
    net = ALNetClassifier(SmallCNN, max_epochs=2, random_state=0, device="cpu", warm_start=True).fit(X[two], y[two])
    with pytest.raises(ConfigError, match=r"y has labels \[2, .*pass classes=<every label of the task>"):
        net.partial_fit(X, y)
    cold = ALNetClassifier(SmallCNN, max_epochs=2, random_state=0, device="cpu").fit(X[two], y[two])
    cold.fit(X, y)  # a new fit on more classes trains; COD cannot compare a 2-class reference with it
    with pytest.raises(ConfigError, match="label set grew .* pass classes=<every label of the task>"):
        cod_sampling(cold, X, n_instances=2)


def test_default_lr_follows_the_optimizer(small_split, digits):
    X, y = digits.X_train[:150], digits.y_train[:150]
    adam = ALNetClassifier(SmallCNN, optimizer=torch.optim.Adam, max_epochs=10, random_state=0, device="cpu").fit(X, y)
    assert adam.optimizer_.param_groups[0]["lr"] == 1e-3
    assert adam.score(digits.X_test, digits.y_test) > 0.7  # lr=0.05 (SGD's) leaves Adam near chance
    sgd = ALNetClassifier(SmallCNN, max_epochs=1, device="cpu").fit(X, y)
    assert sgd.optimizer_.param_groups[0]["lr"] == 0.05 and sgd.optimizer_.param_groups[0]["momentum"] == 0.9


def test_lr_auto_needs_an_optimizer_default(small_split):
    X, y, *_ = small_split

    def no_default(params, lr):
        return torch.optim.SGD(params, lr=lr)

    with pytest.raises(ConfigError, match="no_default has none: give lr="):
        make_net(optimizer=no_default, lr="auto").fit(X, y)
    with pytest.raises(ConfigError, match="lr must be a positive number"):
        make_net(lr=0).fit(X, y)
