import pytest
import torch

from tod_plugin.hooks import StepSnapshot

from nets import RecordSteps, make_net


def same(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("steps_before_end", [None, 1, 5])
def test_snapshot_is_T_steps_before_the_end(small_split, steps_before_end):
    X, y, *_ = small_split
    recorder = RecordSteps()
    net = make_net(batch_size=16, max_epochs=3, callbacks=[StepSnapshot(steps_before_end), recorder])
    net.fit(X, y)
    steps = len(recorder.states_) - 1
    assert steps == 3 * 4
    T = steps_before_end or 4
    hook = net.hook(StepSnapshot)
    assert same(hook.snapshot_, recorder.states_[steps - T])
    assert not same(hook.snapshot_, recorder.states_[steps - T + 1])
    assert hook.snapshot_steps_before_end_ == T


def test_snapshot_longer_than_the_fit_is_the_start_with_a_warning(small_split):
    X, y, *_ = small_split
    recorder = RecordSteps()
    net = make_net(batch_size=30, max_epochs=1, callbacks=[StepSnapshot(10), recorder])
    with pytest.warns(UserWarning, match="2 steps before the end, not 10"):
        net.fit(X, y)
    assert same(net.hook(StepSnapshot).snapshot_, recorder.states_[0])


def test_bad_steps_before_end():
    with pytest.raises(ValueError, match="steps_before_end"):
        make_net(callbacks=[StepSnapshot(0)]).initialize()


def test_clone_gives_a_fresh_hook(small_split):
    from sklearn.base import clone

    X, y, *_ = small_split
    net = make_net(callbacks=[StepSnapshot(2)]).fit(X, y)
    twin = clone(net)
    twin.initialize()
    assert twin.hook(StepSnapshot).steps_before_end == 2
    assert twin.hook(StepSnapshot).snapshot_ is None
