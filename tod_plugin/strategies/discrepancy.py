"""COD and TOD: output discrepancy between the current model and an earlier state of it.

Huang et al., ICCV 2021 / TNNLS 2022. s(x) = 1/2 * || softmax(z_now(x)) - softmax(z_ref(x)) ||^2.
"""
import weakref

from ..estimator import module_state
from ..hooks import StepSnapshot
from ..inference import OutputCache, RowKeys, cached_outputs, input_setting, score_pool
from ..scoring import output_discrepancy
from ._common import ConfigError, fitted_hook, rank_pool

FIRST_CYCLE_RULES = ("highest", "lowest")

#: net -> OutputCache of the current model's outputs at the net's latest COD query (per process:
#: not pickled, not cloned, dropped with the net).
_LAST_OUTPUTS = weakref.WeakKeyDictionary()


def _discrepancy(net, X, reference_state):
    reference = net.copy_module_with(reference_state)
    return score_pool(net, X, [net.module_, reference], output_discrepancy)


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
    known = cached_outputs(_LAST_OUTPUTS.get(net), net.reference_state_, setting, keys)
    reference = net.copy_module_with(net.reference_state_)
    scores, current = score_pool(net, X, [net.module_, reference], output_discrepancy, known={1: known}, keep=0)
    _LAST_OUTPUTS[net] = OutputCache(module_state(net.module_), setting, keys.all(), current)
    return scores


def cod_sampling(classifier, X_pool, n_instances=1, *, subset=None, random_state=None, first_cycle="highest"):
    """Cyclic output discrepancy: the current model against the previous fit's final weights.

    The reference is ``net.reference_state_``: the weights before the latest fit when
    warm-starting, the previous fit's final weights in general, the initial (untrained) weights
    after the first fit. Picks the ``n_instances`` highest scores on a random ``subset`` of the pool.
    ``first_cycle="lowest"`` takes the LOWEST scores while the reference is the untrained network,
    as the reference implementation does in cycle 0 (for exact replication of the paper).
    """
    if first_cycle not in FIRST_CYCLE_RULES:
        raise ConfigError(f"first_cycle must be one of {FIRST_CYCLE_RULES}, got {first_cycle!r}")

    def highest(net):
        return not (first_cycle == "lowest" and net.reference_is_initial_)

    return rank_pool(classifier, X_pool, n_instances, subset, random_state, _cod_scores, highest=highest)


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

