"""Run under modAL 0.4.2.1 (``PYTHONPATH=<its folder>``) by test_modal_dropin.py: modAL's
DeepActiveLearner loop with cod_sampling and tod_sampling; prints what the test asserts, as JSON."""
import json
import runpy
import sys
from pathlib import Path

import modAL
import numpy as np
from modAL.models import DeepActiveLearner

from tod_plugin import ALNetClassifier
from tod_plugin.data import load_dataset
from tod_plugin.hooks import StepSnapshot
from tod_plugin.models import SmallCNN
from tod_plugin.states import module_state
from tod_plugin.strategies import cod_sampling, tod_sampling

from modal_usage import states_equal


def counted(strategy, calls):
    def wrapped(*args, **kwargs):
        calls.append(strategy.__name__)
        return strategy(*args, **kwargs)

    return wrapped


def main():
    data = load_dataset("digits")
    X, y = data.X_train[:160], data.y_train[:160]
    facts = {"modal": modAL.__file__}
    calls = []
    net = ALNetClassifier(SmallCNN, max_epochs=3, random_state=0, device="cpu", callbacks=[StepSnapshot(2)])
    learner = DeepActiveLearner(estimator=net, query_strategy=counted(cod_sampling, calls))
    facts["initialized_before_data"] = bool(net.initialized_)
    learner.teach(X[:60], y[:60])  # partial_fit builds the module from the data
    facts["in_channels"] = net.module_.stages[0][0].in_channels
    facts["first_reference_is_initial"] = bool(net.reference_is_initial_)
    references = []
    for cycle in range(2):
        idx, _ = learner.query(X[60:], n_instances=10, random_state=cycle)
        facts.setdefault("cod_indices", []).append(np.asarray(idx).tolist())
        before = module_state(net.module_)
        learner.teach(X[60:][idx], y[60:][idx], epochs=2)
        references.append(states_equal(net.reference_state_, before))
    facts["reference_is_weights_before_teach"] = references
    before = module_state(net.module_)
    learner.fit(X[:80], y[:80])  # DeepActiveLearner.fit: ALNetClassifier.fit (warm_start=False: re-initialised)
    facts["fit_reference_is_previous_final"] = states_equal(net.reference_state_, before)
    facts["cod_calls_per_query"] = len(calls) / 2

    learner.query_strategy = counted(tod_sampling, calls)
    learner.teach(X[80:120], y[80:120], epochs=2)
    hook = net.hook(StepSnapshot)
    facts["tod_snapshot_steps_before_end"] = hook.snapshot_steps_before_end_
    idx, _, scores = learner.query(X[120:], n_instances=5, return_metrics=True)
    facts["tod_indices"] = np.asarray(idx).tolist()
    facts["tod_scores_min"] = float(np.min(scores))
    facts["tod_calls"] = calls.count("tod_sampling")

    example = Path(__file__).resolve().parent.parent / "examples" / "deep_active_learner.py"
    facts["example_accuracy"] = runpy.run_path(str(example))["main"](epochs=2, cycles=1, query_size=10)
    json.dump(facts, sys.stdout)


if __name__ == "__main__":
    main()
