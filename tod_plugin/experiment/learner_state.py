"""A modAL learner's fitted state as data (``state_codec``), and put back into a learner rebuilt
from the run's settings.

Saved: the net's fitted attributes (``name_``: weights, the LL4AL module, the COD reference, the
RNG, the history, ...; not the optimizer, which every fit makes anew, nor what ``initialize``
rebuilds), the fitted attributes of the plugin's hooks (snapshots, EMA teacher, ...; skorch's own
callbacks are rebuilt) and of a stateful query strategy (BAL / PT4AL: the pool order; a
:class:`~tod_plugin.strategies.CODSampler`: its output cache, ``state_dict()``). The labeled rows
come from the run's queries, in the order ``teach`` received them. Samplers given to the query
strategy as parameters (``BudgetAwareSampler(low_budget=...)``) are saved the same way.
"""
import functools
import types

import numpy as np
import torch
from sklearn.base import BaseEstimator

from ..hooks.ema import unwrap
from ..inference import same_state
from ..strategies import CODSampler
from ..validation import is_int
from .state_codec import StateFormatError, decode, encode, restore_attributes

REBUILT = {"callbacks_", "optimizer_", "virtual_params_", "prefixes_", "cuda_dependent_attributes_", "init_context_",
           "initialized_", "auxiliary_loss_"}
SHAPE = ("input_shape_", "n_features_in_", "classes_inferred_")  # what initialize() needs to build the module
_CODE = (type, types.FunctionType, types.MethodType, types.BuiltinFunctionType, functools.partial)
_PER_FIT = (torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler)  # made anew by every fit


def fitted_attributes(obj, skip=()):
    """``obj``'s attributes set by fitting (``name_``); code (classes, functions) and the optimizer and
    LR scheduler (made anew by every fit) left out."""
    return {k: v for k, v in vars(obj).items()
            if k.endswith("_") and not k.startswith("_") and k not in skip and not isinstance(v, _CODE + _PER_FIT)}


def _own_hooks(net):
    return [(name, cb) for name, cb in net.callbacks_ if not type(cb).__module__.startswith("skorch.")]


def learner_state(learner, tensors):
    """The encoded state of ``learner`` (tensors are added to ``tensors``)."""
    net, query = learner.estimator, learner.query_strategy
    return {
        "net": encode(fitted_attributes(net, REBUILT), tensors),
        "hooks": {name: encode(fitted_attributes(cb), tensors) for name, cb in _own_hooks(net)},
        **sampler_state(query, tensors),
        "cod_cache": _cod_cache(query, net, tensors) if isinstance(query, CODSampler) else None,
    }


def sampler_state(query, tensors):
    """The encoded fitted state of a query strategy: ``{"sampler", "sampler_params"}`` (``sampler`` None
    for a plain function); also used by the labeling projects to keep a sampler between queries."""
    return {
        "sampler": encode(fitted_attributes(query), tensors) if isinstance(query, BaseEstimator) else None,
        "sampler_params": {name: encode(fitted_attributes(value), tensors) for name, value in _nested_samplers(query)},
    }


def restore_sampler(query, state, tensors, template=None):
    """Put ``state`` (from :func:`sampler_state`) into ``query``, freshly built with the same settings;
    :class:`StateFormatError` when it does not fit."""
    if not isinstance(state, dict) or (state.get("sampler") is None) == isinstance(query, BaseEstimator):
        raise StateFormatError("the saved query strategy differs from this one")
    if state["sampler"] is not None:
        restore_attributes(query, state["sampler"], tensors, template)
    nested = dict(_nested_samplers(query))
    params = state.get("sampler_params", {})
    if not isinstance(params, dict):
        raise StateFormatError("malformed sampler state (sampler_params)")
    for name, tree in params.items():
        if name not in nested:
            raise StateFormatError(f"the checkpoint's query strategy has a sampler {name!r} the run's has not")
        restore_attributes(nested[name], tree, tensors, template)
    return query


def _nested_samplers(query):
    """``(name, sampler)`` of the query strategy's parameters that are stateful samplers themselves
    (``BudgetAwareSampler(low_budget=TypiClustSampler(...))``)."""
    if not isinstance(query, BaseEstimator):
        return []
    return [(name, value) for name, value in query.get_params(deep=False).items() if isinstance(value, BaseEstimator)]


def training_rows(queries, n_pool):
    """The rows the learner was taught, in order: each cycle's queried indices; :class:`StateFormatError`
    unless they are distinct rows of a pool of ``n_pool``."""
    try:
        rows = [row for record in queries for row in record["indices"]]
        valid = all(is_int(row) for row in rows)
    except (KeyError, TypeError):
        valid = False
    if not valid or not all(0 <= row < n_pool for row in rows) or len(set(rows)) != len(rows):
        raise StateFormatError(f"the queried rows are not distinct rows of the pool (0..{n_pool - 1})")
    return np.asarray(rows, dtype=np.intp)


def restore_learner(learner, state, tensors, X, y, rows):
    """Put ``state`` (from :func:`learner_state`) into ``learner``, freshly built with the same settings
    and not fitted; its training set becomes ``X[rows], y[rows]``. :class:`StateFormatError` when
    the state does not fit the learner."""
    net, query = learner.estimator, learner.query_strategy
    try:
        saved = dict(state["net"]["__dict__"])
        restore_attributes(net, {"__dict__": [[k, saved[k]] for k in SHAPE if k in saved]}, tensors)
        net.initialize()
        hooks = dict(_own_hooks(net))
        missing = [name for name, tree in state["hooks"].items() if name not in hooks and tree["__dict__"]]
        if missing or (state["sampler"] is None) == isinstance(query, BaseEstimator):
            raise StateFormatError("the checkpoint's hooks or query strategy differ from the run's")
    except StateFormatError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise StateFormatError(f"malformed learner state ({type(exc).__name__})") from None
    template = unwrap(net.module_)
    restore_attributes(net, state["net"], tensors, template)
    for name, tree in state["hooks"].items():
        if name in hooks:
            restore_attributes(hooks[name], tree, tensors, template)
    restore_sampler(query, state, tensors, template)
    _restore_cod_cache(query, state.get("cod_cache"), tensors, net)
    learner.X_training, learner.y_training = X[rows], y[rows]
    return learner




def _cod_cache(query, net, tensors):
    """A :class:`CODSampler`'s ``state_dict()`` encoded, less the weights of its outputs: the next query
    reuses the cache only when those are the net's COD reference (``reference_state_``, saved with the
    net), as they are after ``teach`` (the fit started from them); any other cache is not saved ({})."""
    cache = query.state_dict()
    weights = {name[len("state."):]: tensor for name, tensor in cache.items() if name.startswith("state.")}
    if not (weights and same_state(weights, getattr(net, "reference_state_", {}))):
        return encode({}, tensors)
    return encode({name: tensor for name, tensor in cache.items() if not name.startswith("state.")}, tensors)


def _restore_cod_cache(query, tree, tensors, net):
    """Load into a :class:`CODSampler` the output cache of :func:`learner_state` (its weights: the net's
    restored COD reference); None: none saved (checkpoints before it). :class:`StateFormatError` for
    a cache that is not one it saved."""
    if tree is None:
        return
    if not isinstance(query, CODSampler):
        raise StateFormatError("the checkpoint holds a COD output cache, the run's query strategy is not COD")
    cache = decode(tree, tensors)
    if not isinstance(cache, dict) or not all(isinstance(name, str) and not name.startswith("state.")
                                              for name in cache):
        raise StateFormatError("malformed COD output cache")
    outputs, n_classes = cache.get("outputs"), len(net.classes_)
    if isinstance(outputs, torch.Tensor) and (not outputs.is_floating_point() or outputs.shape[1:] != (n_classes,)):
        raise StateFormatError(f"the COD output cache's outputs are not (N, {n_classes}) floats")
    if cache:
        if not isinstance(getattr(net, "reference_state_", None), dict):
            raise StateFormatError("the checkpoint holds a COD output cache but no COD reference")
        cache.update({f"state.{name}": tensor for name, tensor in net.reference_state_.items()})
    try:
        query.load_state_dict(cache)
    except ValueError as exc:
        raise StateFormatError(f"the COD output cache does not load ({exc})") from None
