"""Deep active learning for modAL: a skorch estimator with training hooks and the query
strategies of TOD/COD, ST-CoNAL, BAL/PT4AL, LL4AL, Core-Set and random.

Importing the package makes modAL 0.4.x work on current scikit-learn (see ``modal_compat``).
"""
from . import modal_compat  # noqa: F401  (applies the modAL compatibility layer)
from .estimator import ALNetClassifier
from .pool import PoolView

__version__ = "0.1.0"
__all__ = ["ALNetClassifier", "PoolView", "__version__"]
