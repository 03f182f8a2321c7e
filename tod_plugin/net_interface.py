"""What query strategies may ask of the net: the one boundary between strategies and the estimator.

:class:`PoolScoring` is a base class of :class:`~tod_plugin.ALNetClassifier`. Strategies
(``tod_plugin.strategies``, ``tod_plugin.pretext``) call these methods and never the net's
internals (``module_``, ``copy_module_with``, ``reference_state_``, ``loss_module_``, hook
attributes), as baal's heuristics see predictions and never a model:

- ``score_pool(X, score_fn, models=("current",), *, known=None, keep=None)``: one batched pass
  over ``X`` feeding every model, reduced per batch to float64 scores
  (:func:`tod_plugin.inference.score_pool`);
- ``scoring_models(models)``: the modules such a pass runs, for a strategy that needs one itself
  (a Committee's members in one pass, a wrapper whose attributes it reads);
- ``penultimate_features(X, dtype)``: ``forward_features`` of every row (Core-Set, BAL, PT4AL);
- ``predicted_loss(X)``: LL4AL's predicted loss of every row;
- ``recorded_states(hook_type, message)``: the weights a hook recorded in the latest fit
  (``StepSnapshot``: the snapshot T steps before the end; ``EpochSnapshots``: teacher, students);
- ``cod_reference()``: COD's reference weights, checked against the network as it is now;
- ``current_state()``: a CPU copy of the current weights;
- ``input_setting(X)``: what besides the weights and the rows decides an output (a cache key);
- ``strategy_state(key, make)``: state a strategy keeps on this net between queries
  (``cod_sampling``'s :class:`~tod_plugin.strategies.CODSampler`); per process: not pickled, not cloned.

A model in ``models`` is ``"current"`` (the network as trained now), a state dict (a copy of the
network with those weights), a callable ``wrap(module)`` building a module on the current network
(MC dropout, logits and features), or a module as is (one made by ``scoring_models``).
"""
from collections.abc import Mapping

import torch
from torch import nn

from . import inference
from .auxiliary import LossPredictor
from .errors import ConfigError, MissingHookError
from .hooks import EpochSnapshots, StepSnapshot
from .states import module_state

#: hook type -> the weights it recorded in the latest fit (None before any).
_RECORDED = {
    StepSnapshot: lambda hook: None if getattr(hook, "snapshot_", None) is None else [hook.snapshot_],
    EpochSnapshots: lambda hook: None if getattr(hook, "teacher_", None) is None else [hook.teacher_, *hook.students_],
}


def _identity(scores):
    return scores


class PoolScoring:
    """The scoring interface of the net for query strategies (see the module's docstring)."""

    def score_pool(self, X, score_fn, models=("current",), *, known=None, keep=None):
        """Scores ``score_fn(*[model(x) for model in models])`` of the rows of ``X``, float64 (N,).

        ``known`` and ``keep``: see :func:`tod_plugin.inference.score_pool` (``keep=i`` also returns
        the outputs of ``models[i]``).
        """
        return inference.score_pool(self, X, self.scoring_models(models), score_fn, known=known, keep=keep)

    def scoring_models(self, models):
        """The modules of ``models`` (see the module's docstring), in eval mode, on the net's device."""
        built = []
        for model in models:
            if isinstance(model, str) and model == "current":
                built.append(self.module_)
            elif isinstance(model, Mapping):
                built.append(self.copy_module_with(model))
            elif isinstance(model, nn.Module):
                built.append(model)
            elif callable(model):
                built.append(model(self.module_))
            else:
                raise TypeError(f"a scoring model is 'current', a state dict, a module or a callable building one "
                                f"on the current module; got {type(model).__name__}")
        return built

    def penultimate_features(self, X, dtype=torch.float32):
        """``forward_features`` of the current network on every row of ``X``: (N, F) of ``dtype`` on
        the net's device (:func:`tod_plugin.inference.penultimate_features`)."""
        return inference.penultimate_features(self, X, dtype=dtype)

    def predicted_loss(self, X):
        """LL4AL's predicted loss l^(x) of every row of ``X`` (eval mode), float64 (N,); needs a net
        trained with ``auxiliary="ll4al"``."""
        if self.auxiliary != "ll4al" or getattr(self, "loss_module_", None) is None:
            raise MissingHookError("ll4al_sampling needs the loss-prediction module: train the net with auxiliary='ll4al'")
        return self.score_pool(X, _identity, [LossPredictor(self.module_, self.loss_module_)])

    def recorded_states(self, hook_type, message):
        """The weights the net's ``hook_type`` callback recorded in the latest fit, as CPU state dicts:
        ``[snapshot]`` for ``StepSnapshot``, ``[teacher, *students]`` for ``EpochSnapshots``.
        :class:`~tod_plugin.errors.MissingHookError` with ``message`` (what to add) without them."""
        if hook_type not in _RECORDED:
            raise TypeError(f"hook_type must be one of {[t.__name__ for t in _RECORDED]}, got {hook_type!r}")
        hook = self.hook(hook_type)
        states = None if hook is None else _RECORDED[hook_type](hook)
        if states is None:
            raise MissingHookError(message)
        return states

    def cod_reference(self):
        """``reference_state_`` (the weights the latest training call started from), after checking
        that it fits the network as it is now."""
        if not hasattr(self, "reference_state_"):
            raise ConfigError("cod_sampling needs a trained net: fit it (or teach the learner) before querying")
        now = self.module_.state_dict()
        if any(k not in now or now[k].shape != v.shape for k, v in self.reference_state_.items()):
            if self.classes is None:
                raise ConfigError(
                    "the COD reference (the previous fit's final weights) has another output size than the network: "
                    "the label set grew between fits and classes=None infers the classes from each fit's labels; pass "
                    "classes=<every label of the task> to ALNetClassifier so the output layer keeps its size"
                )
            raise ConfigError("the COD reference (the previous fit's final weights) has other shapes than the network, "
                              "rebuilt since with other module__ parameters; COD needs both of the same architecture")
        return self.reference_state_

    def current_state(self):
        """A detached CPU copy of the current network's weights (a state dict)."""
        return module_state(self.module_)

    def input_setting(self, X, module_class=True):
        """:func:`tod_plugin.inference.input_setting` of this net on ``X`` (16 bytes)."""
        return inference.input_setting(self, X, module_class)

    def strategy_state(self, key, make):
        """The state a strategy keeps on this net under ``key`` between queries: ``make()`` at first.
        Per process, like a cache: dropped when the net is pickled, cloned or copied, and neither a
        parameter nor fitted state (``_strategy_states_``: leading and trailing underscore)."""
        states = self.__dict__.setdefault("_strategy_states_", {})
        if key not in states:
            states[key] = make()
        return states[key]

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_strategy_states_", None)
        return state
