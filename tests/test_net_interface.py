"""The net's scoring interface (tod_plugin.net_interface): the only way strategies reach the net."""
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from nets import indices, make_net
from tod_plugin.errors import MissingHookError
from tod_plugin.hooks import EpochSnapshots, StepSnapshot
from tod_plugin.inference import score_pool
from tod_plugin.scoring import output_discrepancy, predictive_entropy

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "tod_plugin"
INTERNALS = r"\bmodule_\b|copy_module_with|reference_state_|loss_module_|teacher_|students_|snapshot_"


@pytest.fixture(scope="module")
def snapshot_net(digits):
    net = make_net(callbacks=[StepSnapshot(), EpochSnapshots(start=1, every=1)])
    return net.fit(digits.X_train[:60], digits.y_train[:60]), digits.X_train[60:160]


def test_no_strategy_reaches_into_the_net():
    files = [*(PACKAGE / "strategies").glob("*.py"), *(PACKAGE / "pretext").glob("*.py")]
    offending = [f"{f.name}:{i}" for f in files for i, line in enumerate(f.read_text().splitlines(), 1)
                 if re.search(INTERNALS, line)]
    assert files and not offending


def test_score_pool_runs_the_current_model_and_models_from_states(snapshot_net):
    net, pool = snapshot_net
    expected = score_pool(net, pool, [net.module_], predictive_entropy)
    np.testing.assert_array_equal(net.score_pool(pool, predictive_entropy), expected)
    [snapshot] = net.recorded_states(StepSnapshot, "unused")
    against_snapshot = net.score_pool(pool, output_discrepancy, ("current", snapshot))
    np.testing.assert_array_equal(
        against_snapshot, score_pool(net, pool, [net.module_, net.copy_module_with(snapshot)], output_discrepancy))
    assert against_snapshot.dtype == np.float64 and against_snapshot.max() > 0
    with pytest.raises(TypeError, match="a scoring model is 'current', a state dict"):
        net.score_pool(pool, predictive_entropy, ["previous"])


def test_recorded_states_are_the_hooks_weights_or_a_named_error(snapshot_net, digits):
    net, _ = snapshot_net
    teacher, *students = net.recorded_states(EpochSnapshots, "unused")
    hook = net.hook(EpochSnapshots)
    assert teacher is hook.teacher_ and len(students) == len(hook.students_) > 0
    bare = make_net().fit(digits.X_train[:60], digits.y_train[:60])
    with pytest.raises(MissingHookError, match="add the hook"):
        bare.recorded_states(StepSnapshot, "add the hook")
    with pytest.raises(TypeError, match="hook_type must be one of"):
        bare.recorded_states(torch.nn.Module, "unused")
    with pytest.raises(MissingHookError, match="auxiliary='ll4al'"):
        bare.predicted_loss(digits.X_train[:5])


def test_penultimate_features_and_cod_reference(snapshot_net):
    net, pool = snapshot_net
    features = net.penultimate_features(pool[:7], dtype=torch.float16)
    assert features.shape[0] == 7 and features.dtype == torch.float16
    reference = net.cod_reference()
    assert reference.keys() == net.current_state().keys()
    with pytest.raises(ValueError, match="needs a trained net"):
        make_net().cod_reference()


def test_the_readme_strategy_example_runs(snapshot_net):
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### Writing a strategy"):]
    code = section[section.index("```python") + len("```python"):section.index("```\n", section.index("```python") + 9)]
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)
    net, pool = snapshot_net
    picked = indices(namespace["entropy_vs_snapshot"](net, pool, 4, random_state=0))
    assert len(set(picked.tolist())) == 4 and picked.max() < len(pool)


def test_input_setting_is_what_decides_an_evaluation_output(snapshot_net):
    net, pool = snapshot_net
    setting = net.input_setting(pool)
    assert isinstance(setting, bytes) and len(setting) == 16
    net.set_params(crop_padding=2, hflip=True)  # training batches only
    try:
        assert net.input_setting(pool) == setting
        net.set_params(normalize=((0.5,), (0.25,)))
        assert net.input_setting(pool) != setting
        assert net.input_setting(pool.astype(np.float32)) != net.input_setting(pool)
    finally:
        net.set_params(crop_padding=0, hflip=False, normalize=None)
