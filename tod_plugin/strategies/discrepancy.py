"""COD and TOD: output discrepancy between the current model and an earlier state of it.

Huang et al., ICCV 2021 / TNNLS 2022. s(x) = 1/2 * || softmax(z_now(x)) - softmax(z_ref(x)) ||^2.
For a modAL ``Committee``, COD of the committee's mean output (see :func:`cod_sampling`).
"""
import numpy as np
import torch

from ..errors import ConfigError
from ..hooks import StepSnapshot
from ..inference import OutputCache, RowKeys, cached_outputs
from ..scoring import output_discrepancy
from ._common import rank_pool, resolve_net

FIRST_CYCLE_RULES = ("highest", "lowest")


def _discrepancy(net, X, reference_state):
    return net.score_pool(X, output_discrepancy, ("current", reference_state))


def _committee_scores(nets, X):
    """s(x) = 1/2 || mean_m softmax(z_m(x)) - mean_m softmax(z_m,ref(x)) ||^2 over the members' nets,
    each against its own reference, in one pass (inputs prepared by the first member's net)."""
    settings = {net.input_setting(X, module_class=False) for net in nets}
    if len(settings) > 1 or len({tuple(net.classes_) for net in nets}) > 1:
        raise ConfigError("cod_sampling on a Committee needs members with the same classes_ and the same input "
                          "preparation (normalize, device, channels_last, precision)")
    references = [net.cod_reference() for net in nets]
    models = [net.scoring_models(["current"])[0] for net in nets]
    models += [net.scoring_models([reference])[0] for net, reference in zip(nets, references)]

    def mean_discrepancy(*outputs):
        p = torch.stack([torch.softmax(z.float(), dim=1) for z in outputs[:len(nets)]]).mean(0)
        q = torch.stack([torch.softmax(z.float(), dim=1) for z in outputs[len(nets):]]).mean(0)
        return output_discrepancy(p.log(), q.log())  # softmax(log p) = p for a distribution p

    return nets[0].score_pool(X, mean_discrepancy, models)


def _cod_query(classifier, X_pool, n_instances, subset, random_state, first_cycle, scores):
    """COD's query with ``scores(net, X)`` for a single net (a Committee is scored without a cache)."""
    if first_cycle not in FIRST_CYCLE_RULES:
        raise ConfigError(f"first_cycle must be one of {FIRST_CYCLE_RULES}, got {first_cycle!r}")
    members = getattr(classifier, "learner_list", None)
    if members is None:
        return rank_pool(classifier, X_pool, n_instances, subset, random_state, scores,
                         highest=lambda net: not (first_cycle == "lowest" and net.reference_is_initial_))
    if not members:
        raise ConfigError("the Committee has no learners")
    nets = [resolve_net(member, X_pool[:1])[0] for member in members]  # the nets (one row: no pool transform)
    untrained = all(getattr(net, "reference_is_initial_", True) for net in nets)  # untrained nets: see cod_reference
    return rank_pool(members[0], X_pool, n_instances, subset, random_state,
                     lambda _, X: _committee_scores(nets, X), highest=not (first_cycle == "lowest" and untrained))


class CODSampler:
    """COD (:func:`cod_sampling`) with its output cache as visible state: ``query_strategy=CODSampler()``.

    ``cache_`` holds the current model's outputs on the rows of the latest query (an
    :class:`~tod_plugin.inference.OutputCache`; None before any): the reference of the next query
    is the state the fit in between started from, the current model of this query, so its outputs
    on the rows scored again are reused instead of recomputed (:func:`cached_outputs` checks that
    it is exactly that state and input setting). With the whole pool scored, the reference costs
    no forward pass from the second query on. Memory: the outputs (C floats a row) plus 24 bytes
    a row (content key and row index). ``clear()`` drops the cache; ``state_dict()`` /
    ``load_state_dict()`` save and restore it as tensors only. ``first_cycle``: see :func:`cod_sampling`.
    """

    def __init__(self, first_cycle="highest"):
        self.first_cycle = first_cycle
        self.cache_ = None

    def __call__(self, classifier, X_pool, n_instances=1, *, subset=None, random_state=None):
        return _cod_query(classifier, X_pool, n_instances, subset, random_state, self.first_cycle, self.scores)

    def scores(self, net, X):
        """COD scores of the rows of ``X``, reusing the cached outputs where they are the reference's;
        the current model's outputs become the cache."""
        reference = net.cod_reference()
        keys, setting = RowKeys(len(X)), net.input_setting(X)
        known = cached_outputs(self.cache_, reference, setting, keys)
        scores, current = net.score_pool(X, output_discrepancy, ("current", reference), known={1: known}, keep=0)
        self.cache_ = None  # the old outputs go before the new index is sorted
        self.cache_ = OutputCache.of_rows(net.current_state(), setting, keys, current)
        return scores

    def clear(self):
        """Forget the cached outputs (the next query computes the reference's outputs)."""
        self.cache_ = None

    def state_dict(self):
        """The cache as a flat dict of CPU tensors (empty without a cache): ``setting`` (16 uint8),
        ``keys`` (M, 16) uint8 in ascending order, ``rows`` (M,) int64, ``outputs`` (N, C) and
        ``state.<name>`` the weights that computed them. ``torch.save`` it; load it back with
        ``torch.load(..., weights_only=True)`` and :meth:`load_state_dict`."""
        cache = self.cache_
        if cache is None:
            return {}
        keys = np.frombuffer(cache.sorted_keys.tobytes(), dtype=np.uint8).reshape(-1, 16)
        return {"setting": torch.frombuffer(bytearray(cache.setting), dtype=torch.uint8),
                "keys": torch.from_numpy(keys.copy()), "rows": torch.from_numpy(cache.rows.astype(np.int64)),
                "outputs": cache.outputs,
                **{f"state.{name}": tensor for name, tensor in cache.state.items()}}

    def load_state_dict(self, state_dict):
        """Restore a cache saved by :meth:`state_dict` (checked: it may come from an untrusted file)."""
        if not state_dict:
            self.cache_ = None
            return
        message = "CODSampler.load_state_dict: state_dict is not one saved by CODSampler.state_dict()"
        needed = ("setting", "keys", "rows", "outputs")
        if not isinstance(state_dict, dict) or any(not isinstance(state_dict.get(k), torch.Tensor) for k in needed) \
                or any(not (k in needed or (isinstance(k, str) and k.startswith("state.")
                                             and isinstance(v, torch.Tensor)))
                       for k, v in state_dict.items()):
            raise ValueError(f"{message}: it needs tensors {needed} and state.<name> tensors only")
        setting, keys, rows, outputs = (state_dict[k].cpu() for k in needed)
        if setting.dtype != torch.uint8 or setting.shape != (16,) or keys.dtype != torch.uint8 \
                or keys.ndim != 2 or keys.shape[1] != 16 or rows.dtype != torch.int64 or rows.shape != (len(keys),) \
                or outputs.ndim < 1 or (len(rows) and (int(rows.min()) < 0 or int(rows.max()) >= len(outputs))):
            raise ValueError(f"{message}: setting must be 16 uint8, keys (M, 16) uint8, rows (M,) int64 positions "
                             "of outputs")
        sorted_keys = np.frombuffer(keys.numpy().tobytes(), dtype="S16")
        if len(sorted_keys) > 1 and not (sorted_keys[1:] >= sorted_keys[:-1]).all():
            raise ValueError(f"{message}: keys are not in ascending order")
        state = {k[len("state."):]: v.cpu() for k, v in state_dict.items() if k.startswith("state.")}
        self.cache_ = OutputCache(state, bytes(setting.numpy()), sorted_keys, rows.numpy().astype(np.intp), outputs)


def cod_sampling(classifier, X_pool, n_instances=1, *, subset=None, random_state=None, first_cycle="highest"):
    """Cyclic output discrepancy: the current model against its weights before the latest training call.

    The reference is ``net.cod_reference()``: the weights the latest ``fit`` / ``partial_fit``
    started from (the previous call's final weights, also where the network was re-initialised),
    the initial (untrained) weights after the first. Picks the ``n_instances`` highest scores on a
    random ``subset`` of the pool. ``first_cycle="lowest"`` takes the LOWEST scores while the
    reference is the untrained network, as the reference implementation does in cycle 0 (for exact
    replication of the paper).

    ``classifier`` may also be a modAL ``Committee`` of such learners: then the score is COD of
    the committee's mean output, 1/2 || mean_m p_m(x) - mean_m p_m,ref(x) ||^2, p the softmax
    of member m now and of its own reference (all members need the same classes and input
    preparation; a Pipeline's steps are taken from the first member).

    The current model's outputs are kept for the next query by a :class:`CODSampler` held on the
    net (``net.strategy_state``, per process); use ``query_strategy=CODSampler()`` to hold (and
    checkpoint) that cache yourself.
    """
    return _cod_query(classifier, X_pool, n_instances, subset, random_state, first_cycle,
                      lambda net, X: net.strategy_state(CODSampler, CODSampler).scores(net, X))


def tod_sampling(classifier, X_pool, n_instances=1, *, subset=None, random_state=None):
    """Temporal output discrepancy: the final weights against those T optimizer steps earlier.

    Needs the net to be trained with ``tod_plugin.hooks.StepSnapshot(steps_before_end=T)``.
    """

    def score(net, X):
        [snapshot] = net.recorded_states(StepSnapshot, "tod_sampling needs the weights from T steps before the end "
                                         "of the fit: train the net with callbacks=[tod_plugin.hooks.StepSnapshot()] "
                                         "(then fit it again)")
        return _discrepancy(net, X, snapshot)

    return rank_pool(classifier, X_pool, n_instances, subset, random_state, score)

