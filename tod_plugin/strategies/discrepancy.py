"""COD and TOD: output discrepancy between the current model and an earlier state of it.

Huang et al., ICCV 2021 / TNNLS 2022. s(x) = 1/2 * || softmax(z_now(x)) - softmax(z_ref(x)) ||^2.
For a modAL ``Committee``, COD of the committee's mean output (see :func:`cod_sampling`).
"""
import weakref

import torch

from ..states import module_state
from ..hooks import StepSnapshot
from ..inference import OutputCache, RowKeys, cached_outputs, input_setting, score_pool
from ..scoring import output_discrepancy
from ._common import ConfigError, fitted_hook, rank_pool, resolve_net

FIRST_CYCLE_RULES = ("highest", "lowest")

#: net -> OutputCache of the current model's outputs at the net's latest COD query (per process:
#: not pickled, not cloned, dropped with the net).
_LAST_OUTPUTS = weakref.WeakKeyDictionary()


def _discrepancy(net, X, reference_state):
    reference = net.copy_module_with(reference_state)
    return score_pool(net, X, [net.module_, reference], output_discrepancy)


def checked_reference(net):
    """``net.reference_state_``, after checking that it fits the network as it is now."""
    if not hasattr(net, "reference_state_"):
        raise ConfigError("cod_sampling needs a trained net: fit it (or teach the learner) before querying")
    now = net.module_.state_dict()
    if any(k not in now or now[k].shape != v.shape for k, v in net.reference_state_.items()):
        if net.classes is None:
            raise ConfigError(
                "the COD reference (the previous fit's final weights) has another output size than the network: the "
                "label set grew between fits and classes=None infers the classes from each fit's labels; pass "
                "classes=<every label of the task> to ALNetClassifier so the output layer keeps its size"
            )
        raise ConfigError("the COD reference (the previous fit's final weights) has other shapes than the network, "
                          "rebuilt since with other module__ parameters; COD needs both of the same architecture")
    return net.reference_state_


def _cod_scores(net, X):
    """COD scores, reusing the reference outputs that are already known.

    The reference of a COD query is the state the previous fit ended with, and that state was the
    current model at the previous query (after that fit, before the next one), whose outputs on
    the rows scored then were computed. They are reused for the rows scored again when the
    reference still is exactly that state (warm-started or not); anything else (another fit in
    between, changed weights or inputs) fails :func:`cached_outputs` and is recomputed.
    With the whole pool scored, the reference costs no forward pass from the second query on.
    """
    keys, setting = RowKeys(X), input_setting(net, X)
    known = cached_outputs(_LAST_OUTPUTS.get(net), checked_reference(net), setting, keys)
    reference = net.copy_module_with(net.reference_state_)
    scores, current = score_pool(net, X, [net.module_, reference], output_discrepancy, known={1: known}, keep=0)
    _LAST_OUTPUTS[net] = OutputCache(module_state(net.module_), setting, keys.all(), current)
    return scores


def _committee_scores(nets, X):
    """s(x) = 1/2 || mean_m softmax(z_m(x)) - mean_m softmax(z_m,ref(x)) ||^2 over the members' nets,
    each against its own reference, in one pass (inputs prepared by the first member's net)."""
    settings = {input_setting(net, X)[1:] for net in nets}  # all but the module's type
    if len(settings) > 1 or len({tuple(net.classes_) for net in nets}) > 1:
        raise ConfigError("cod_sampling on a Committee needs members with the same classes_ and the same input "
                          "preparation (normalize, device, channels_last, precision)")
    models = [net.module_ for net in nets] + [net.copy_module_with(checked_reference(net)) for net in nets]

    def mean_discrepancy(*outputs):
        p = torch.stack([torch.softmax(z.float(), dim=1) for z in outputs[:len(nets)]]).mean(0)
        q = torch.stack([torch.softmax(z.float(), dim=1) for z in outputs[len(nets):]]).mean(0)
        return output_discrepancy(p.log(), q.log())  # softmax(log p) = p for a distribution p

    return score_pool(nets[0], X, models, mean_discrepancy)


def cod_sampling(classifier, X_pool, n_instances=1, *, subset=None, random_state=None, first_cycle="highest"):
    """Cyclic output discrepancy: the current model against its weights before the latest training call.

    The reference is ``net.reference_state_``: the weights the latest ``fit`` / ``partial_fit``
    started from (the previous call's final weights, also where the network was re-initialised),
    the initial (untrained) weights after the first. Picks the ``n_instances`` highest scores on a
    random ``subset`` of the pool. ``first_cycle="lowest"`` takes the LOWEST scores while the
    reference is the untrained network, as the reference implementation does in cycle 0 (for exact
    replication of the paper).

    ``classifier`` may also be a modAL ``Committee`` of such learners: then the score is COD of
    the committee's mean output, 1/2 || mean_m p_m(x) - mean_m p_m,ref(x) ||^2, p the softmax
    of member m now and of its own reference (all members need the same classes and input
    preparation; a Pipeline's steps are taken from the first member).
    """
    if first_cycle not in FIRST_CYCLE_RULES:
        raise ConfigError(f"first_cycle must be one of {FIRST_CYCLE_RULES}, got {first_cycle!r}")
    members = getattr(classifier, "learner_list", None)
    if members is None:
        return rank_pool(classifier, X_pool, n_instances, subset, random_state, _cod_scores,
                         highest=lambda net: not (first_cycle == "lowest" and net.reference_is_initial_))
    if not members:
        raise ConfigError("the Committee has no learners")
    nets = [resolve_net(member, X_pool[:1])[0] for member in members]  # the nets (one row: no pool transform)
    untrained = all(getattr(net, "reference_is_initial_", True) for net in nets)  # untrained nets: see checked_reference
    return rank_pool(members[0], X_pool, n_instances, subset, random_state,
                     lambda _, X: _committee_scores(nets, X), highest=not (first_cycle == "lowest" and untrained))


def tod_sampling(classifier, X_pool, n_instances=1, *, subset=None, random_state=None):
    """Temporal output discrepancy: the final weights against those T optimizer steps earlier.

    Needs the net to be trained with ``tod_plugin.hooks.StepSnapshot(steps_before_end=T)``.
    """

    def score(net, X):
        hook = fitted_hook(net, StepSnapshot, "snapshot_",
                           "tod_sampling needs the weights from T steps before the end of the fit: train the net "
                           "with callbacks=[tod_plugin.hooks.StepSnapshot()] (then fit it again)")
        return _discrepancy(net, X, hook.snapshot_)

    return rank_pool(classifier, X_pool, n_instances, subset, random_state, score)

