"""The modAL quick start on whatever scikit-learn / modAL versions are importable; one line per check.

For each query strategy (tod_plugin's cod/tod/random, modAL's uncertainty/margin/entropy) it runs
``ActiveLearner(ALNetClassifier(SmallCNN, ...), X_training=X0)``, then query -> teach -> query on
the 8x8 digits as uint8 (N, 8, 8) images, and checks that

* nothing raises (e.g. the ``check_X_y(force_all_finite=)`` TypeError of scikit-learn >= 1.8),
* no FutureWarning / DeprecationWarning is emitted,
* the strategy is called exactly once per query (modAL 0.4.2 calls it a second time when
  unpacking ``(indices, scores)`` fails),
* each query returns ``n_instances`` distinct indices into the pool.

It installs nothing. To try other versions, install them into overlay folders without touching
the environment and put those first on ``PYTHONPATH``::

    pip install --no-deps --target /tmp/ov/sk16 scikit-learn==1.6.1
    pip install --no-deps --target /tmp/ov/sk17 scikit-learn==1.7.2
    pip install --no-deps --target /tmp/ov/modal0421 modAL-python==0.4.2.1
    PYTHONPATH=/tmp/ov/sk16:/tmp/ov/modal0421 python benchmarks/modal_sklearn_matrix.py

The first line shows the versions actually imported (and where from); exit status 1 when a check fails.
"""
import functools
import importlib
import os
import sys
import time
import traceback
import warnings
from importlib.metadata import PackageNotFoundError, version

import numpy as np

N_INITIAL, N_INSTANCES, EPOCHS, SEED = 100, 20, 3, 0


def package_version(dist, module):
    try:
        return f"{version(dist)} ({os.path.dirname(os.path.dirname(module.__file__))})"
    except PackageNotFoundError:
        return getattr(module, "__version__", "?")


def counting(strategy):
    """``strategy`` with a call counter in ``.calls``."""

    @functools.wraps(strategy)
    def wrapped(*args, **kwargs):
        wrapped.calls += 1
        return strategy(*args, **kwargs)

    wrapped.calls = 0
    return wrapped


def digits():
    from sklearn.datasets import load_digits

    data = load_digits()
    images = np.rint(data.images * (255.0 / 16.0)).astype(np.uint8)  # (N, 8, 8)
    start = np.random.RandomState(SEED).choice(len(images), size=N_INITIAL, replace=False)
    rest = np.setdiff1d(np.arange(len(images)), start)
    return images[start], data.target[start], images[rest], data.target[rest]


def run_check(strategy, callbacks=None):
    """query -> teach -> query; returns a list of problems (empty when all is well) and a summary."""
    from modAL.models import ActiveLearner

    from tod_plugin import ALNetClassifier
    from tod_plugin.models import SmallCNN

    X0, y0, X_pool, y_pool = digits()
    counted = counting(strategy)
    problems, calls = [], []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        net = ALNetClassifier(SmallCNN, module__in_channels=1, module__num_classes=10, max_epochs=EPOCHS,
                              lr=0.05, random_state=SEED, callbacks=callbacks)
        learner = ActiveLearner(estimator=net, query_strategy=counted, X_training=X0, y_training=y0)
        for cycle in range(2):
            before = counted.calls
            idx, _ = learner.query(X_pool, n_instances=N_INSTANCES)
            calls.append(counted.calls - before)
            idx = np.asarray(idx)
            if idx.shape != (N_INSTANCES,) or len(np.unique(idx)) != N_INSTANCES or not (
                0 <= idx.min() and idx.max() < len(X_pool)
            ):
                problems.append(f"query {cycle} returned indices of shape {idx.shape}: {idx!r}"[:200])
                break
            learner.teach(X_pool[idx], y_pool[idx])
            X_pool, y_pool = np.delete(X_pool, idx, axis=0), np.delete(y_pool, idx)
    if any(c != 1 for c in calls):
        problems.append(f"strategy calls per query {calls}, expected 1 each")
    flagged = [w for w in caught if issubclass(w.category, (FutureWarning, DeprecationWarning))]
    if flagged:
        first = flagged[0]
        problems.append(
            f"{len(flagged)} Future/DeprecationWarning(s), first: {first.category.__name__} "
            f"{os.path.basename(first.filename)}:{first.lineno}: {str(first.message)[:120]}"
        )
    summary = f"calls/query={calls} labels={len(learner.y_training)} other warnings={len(caught) - len(flagged)}"
    return problems, summary


def main():
    import modAL
    import skorch
    import sklearn
    import torch

    from tod_plugin import modal_compat

    torch.set_num_threads(1)

    versions = (
        f"scikit-learn {package_version('scikit-learn', sklearn)} | modAL {package_version('modAL-python', modAL)} "
        f"| numpy {np.__version__} | scipy {version('scipy')} | skorch {skorch.__version__} | torch {torch.__version__}"
    )
    print(versions)
    tag = f"sklearn={sklearn.__version__} modAL={version('modAL-python')}"
    patched = [
        name for name in modal_compat._MODAL_MODULES
        if getattr(getattr(importlib.import_module(name), "check_X_y", None), "translates_force_all_finite", False)
    ]
    print(f"{tag} compat: check_X_y translated in {patched or 'none'}; "
          f"QUERY_RETURNS_SCORES={modal_compat.QUERY_RETURNS_SCORES}")

    from modAL.uncertainty import entropy_sampling, margin_sampling, uncertainty_sampling

    from tod_plugin.hooks import StepSnapshot
    from tod_plugin.strategies import cod_sampling, random_sampling, tod_sampling

    checks = [
        ("cod_sampling (quick start)", cod_sampling, None),
        ("tod_sampling", tod_sampling, [StepSnapshot()]),
        ("random_sampling", random_sampling, None),
        ("modAL uncertainty_sampling", uncertainty_sampling, None),
        ("modAL margin_sampling", margin_sampling, None),
        ("modAL entropy_sampling", entropy_sampling, None),
    ]
    failed = 0
    for name, strategy, callbacks in checks:
        start = time.perf_counter()
        try:
            problems, summary = run_check(strategy, callbacks)
        except Exception as exc:  # report and go on with the next check
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            problems = [f"{type(exc).__name__}: {str(exc)[:160]} ({os.path.basename(frame.filename)}:{frame.lineno})"]
            summary = ""
        status = "OK  " if not problems else "FAIL"
        failed += bool(problems)
        print(f"{tag} {status} {name:<27} {summary} [{time.perf_counter() - start:.1f}s]"
              + "".join(f"\n    - {p}" for p in problems))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
