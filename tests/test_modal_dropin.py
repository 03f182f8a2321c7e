"""modAL users' own code with the plugin swapped in: modAL's PyTorch example network and loop,
DeepActiveLearner (modAL 0.4.2.1, installed with pip into a temporary folder), Committee, numpy
scores. modAL's own test suite is not in its sdists (0.3.6 to 0.4.2.1), so its PyTorch example
loops are ported here instead."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from modAL.models import ActiveLearner, Committee

from tod_plugin import ALNetClassifier, scoring
from tod_plugin.errors import ConfigError
from tod_plugin.strategies import cod_sampling

from modal_usage import ModalExampleNet, install_modal_042

TESTS = Path(__file__).resolve().parent


def modal_example_net(**overrides):
    """modAL's ``NeuralNetClassifier(Torch_Model, criterion=CrossEntropyLoss, optimizer=Adam,
    train_split=None)`` with ALNetClassifier swapped in."""
    params = dict(criterion=torch.nn.CrossEntropyLoss, optimizer=torch.optim.Adam, train_split=None, max_epochs=10,
                  device="cpu", random_state=0)
    return ALNetClassifier(ModalExampleNet, **{**params, **overrides})


def test_modals_pytorch_example_loop_with_a_view_module(digits, net_factory):
    X, y = digits.X_train, digits.y_train
    net = modal_example_net()
    learner = ActiveLearner(estimator=net, X_training=X[:100], y_training=y[:100])
    assert learner.score(digits.X_test, digits.y_test) > 0.5  # Adam at its own lr; at SGD's 0.05 it stays at chance
    X_pool, y_pool = X[100:600], y[100:600]
    for _ in range(2):  # modAL's loop: uncertainty sampling, teach(only_new=True), delete from the pool
        query_idx, _ = learner.query(X_pool, n_instances=20)
        learner.teach(X_pool[query_idx], y_pool[query_idx], only_new=True)
        X_pool, y_pool = np.delete(X_pool, query_idx, axis=0), np.delete(y_pool, query_idx, axis=0)
    assert len(X_pool) == 460 and net.n_fits_ == 3
    assert not net.uses_channels_last and net_factory().uses_channels_last  # NHWC by default only for the plugin's nets


def test_channels_last_stays_an_opt_in_for_any_module(digits):
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        modal_example_net(channels_last=True).fit(digits.X_train[:40], digits.y_train[:40])


@pytest.mark.parametrize("function, arrays", [
    (scoring.output_discrepancy, 2),
    (scoring.sharpened_kl, 3),
    (scoring.normalized_confidence, 1),
    (scoring.cluster_distance_difference, 2),
])
def test_scoring_takes_numpy_and_returns_numpy(function, arrays):
    rng = np.random.RandomState(0)
    inputs = [rng.randn(6, 4) for _ in range(arrays)]
    result = function(*inputs)
    expected = function(*(torch.as_tensor(a) for a in inputs))
    assert isinstance(result, np.ndarray) and isinstance(expected, torch.Tensor)
    np.testing.assert_allclose(result, expected.numpy(), rtol=1e-6)
    with pytest.raises(TypeError, match="all torch tensors or all numpy arrays"):
        function(torch.as_tensor(inputs[0]), *inputs[1:]) if arrays > 1 else function(torch.zeros(2, 2), np.zeros(2))


def committee_of_two(make_net, X, y):
    return Committee(learner_list=[ActiveLearner(estimator=make_net(random_state=seed), X_training=X, y_training=y)
                                   for seed in (0, 1)], query_strategy=cod_sampling)


def test_cod_on_a_committee_scores_its_mean_output(small_split, net_factory):
    X, y, X_pool, y_pool, *_ = small_split
    committee = committee_of_two(net_factory, X, y)
    committee.teach(X_pool[:20], y_pool[:20])  # each member: new weights, its previous final ones as reference
    picked, _ = committee.query(X_pool[20:], n_instances=5)

    def proba(net, state):
        module = net.copy_module_with(state)
        with torch.no_grad():
            return torch.cat([torch.softmax(module(x), dim=1) for x in net.iter_batches(X_pool[20:])])

    nets = [learner.estimator for learner in committee.learner_list]
    now = torch.stack([proba(net, net.module_.state_dict()) for net in nets]).mean(0)
    before = torch.stack([proba(net, net.reference_state_) for net in nets]).mean(0)
    by_hand = 0.5 * (now - before).pow(2).sum(1).numpy()
    np.testing.assert_array_equal(np.sort(picked), np.sort(np.argsort(-by_hand, kind="stable")[:5]))


def test_cod_on_a_committee_of_unlike_members_says_why(small_split, net_factory):
    X, y, *_ = small_split
    committee = committee_of_two(net_factory, X, y)
    committee.learner_list[1].estimator.set_params(normalize=((0.5,), (0.5,)))
    with pytest.raises(ConfigError, match="same classes_ and the same input preparation"):
        cod_sampling(committee, X, n_instances=2)


@pytest.fixture(scope="module")
def modal_042(tmp_path_factory):
    return install_modal_042(tmp_path_factory.mktemp("modal042"))


def test_deep_active_learner_loop_with_cod_and_tod(modal_042):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(modal_042), str(TESTS)]), "OMP_NUM_THREADS": "1"}
    run = subprocess.run([sys.executable, str(TESTS / "modal042_checks.py")], env=env, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    facts = json.loads(run.stdout.strip().splitlines()[-1])
    assert facts["modal"].startswith(str(modal_042))
    assert facts["initialized_before_data"] is False and facts["in_channels"] == 1
    assert facts["first_reference_is_initial"] is True
    assert facts["reference_is_weights_before_teach"] == [True, True]
    assert facts["fit_reference_is_previous_final"] is True
    assert facts["cod_calls_per_query"] == 1 and facts["tod_calls"] == 1  # the (indices, scores) contract
    assert all(len(set(i)) == len(i) for i in facts["cod_indices"] + [facts["tod_indices"]])
    assert facts["tod_snapshot_steps_before_end"] == 2 and facts["tod_scores_min"] > 0
    assert all(0.0 <= a <= 1.0 for a in facts["example_accuracy"].values())
