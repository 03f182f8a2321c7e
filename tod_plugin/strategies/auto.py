"""A budget-aware choice: a low-budget strategy while the labeled set is small, then BADGE.

At small budgets uncertainty-based methods lose to random and typicality / coverage methods beat it
(the cold start; Hacohen, Dekel, Weinshall, ICML 2022: "TypiClust then margin"); at larger budgets
uncertainty wins. The switch is stated in labels per class. The high-budget default is BADGE, not
COD: in this project's "which method at which budget" runs (README; digits and real CIFAR-10 images,
3 trials, two budgets) BADGE was in the top three at every budget, while COD finished below random
on CIFAR-10 at both budgets and far below it on digits at the small one.
"""
import numpy as np
from sklearn.base import BaseEstimator

from ..errors import ConfigError
from ..validation import check_number
from ._common import split_pipeline
from .badge import badge_sampling
from .typiclust import TypiClustSampler

DEFAULT_LABELS_PER_CLASS = 10


class BudgetAwareSampler(BaseEstimator):
    """``low_budget`` while the labeled set holds fewer than ``labels_per_class`` x C labels, then ``high_budget``.

    ``ActiveLearner(..., query_strategy=BudgetAwareSampler(random_state=0))``; make one per trial.
    C is ``n_classes`` or the net's number of classes; the labeled set is the learner's
    ``X_training`` or ``X_labeled`` (a bare net or Pipeline without it counts as 0 labels). The rule:
    a call with |L| < ``labels_per_class`` x C asks ``low_budget`` (default: a
    :class:`TypiClustSampler` seeded with ``random_state``), every later call ``high_budget``
    (default: :func:`badge_sampling`). With the default 10 labels per class, 10 classes switch at
    100 labels. ``last_choice_`` names the strategy of the latest call.
    """

    def __init__(self, low_budget=None, high_budget=None, labels_per_class=DEFAULT_LABELS_PER_CLASS, n_classes=None,
                 random_state=None):
        self.low_budget = low_budget
        self.high_budget = high_budget
        self.labels_per_class = labels_per_class
        self.n_classes = n_classes
        self.random_state = random_state

    def __call__(self, classifier, X_pool, n_instances=1, *, subset=None, random_state=None, X_labeled=None):
        check_number(self.labels_per_class, "labels_per_class", low=0)
        if X_labeled is None:
            X_labeled = getattr(classifier, "X_training", None)
        n_labeled = 0 if X_labeled is None else len(X_labeled)
        if n_labeled < self.labels_per_class * self._n_classes(classifier):
            chosen, extra = self._low_budget_sampler(), {"X_labeled": X_labeled} if X_labeled is not None else {}
        else:
            chosen, extra = self.high_budget or badge_sampling, {}
        self.last_choice_ = getattr(chosen, "__name__", type(chosen).__name__)
        return chosen(classifier, X_pool, n_instances, subset=subset, random_state=random_state, **extra)

    def _low_budget_sampler(self):
        """``low_budget``, or a :class:`TypiClustSampler` made once from ``random_state``. A sampler given
        as a parameter keeps its fitted state on itself (saved with the learner's checkpoint)."""
        if self.low_budget is not None:
            return self.low_budget
        if getattr(self, "_default_low_budget", None) is None:
            self._default_low_budget = TypiClustSampler(random_state=self.random_state)
        return self._default_low_budget

    def _n_classes(self, classifier):
        if self.n_classes is not None:
            return self.n_classes
        classes = getattr(split_pipeline(classifier)[1], "classes_", None)
        if classes is None:
            raise ConfigError("BudgetAwareSampler needs n_classes (or a fitted net that knows its classes)")
        return len(np.asarray(classes))
