"""scikit-learn's estimator checks on ``ALNetClassifier`` (an MLP on feature rows, a few epochs).

Every check must pass except those listed in ``EXPECTED_FAILED_CHECKS``: behaviour of skorch's
``NeuralNet`` base class that a subclass cannot change without reimplementing skorch internals.
They run as xfail with the reason shown. Runs in a few seconds on CPU.
"""
from sklearn.utils.estimator_checks import parametrize_with_checks

from tod_plugin import ALNetClassifier
from tod_plugin.models import MLP

EXPECTED_FAILED_CHECKS = {
    "check_no_attributes_set_in_init": (
        "skorch's NeuralNet.__init__ sets history_, initialized_ and virtual_params_ (it also "
        "accepts them as keyword arguments so that clone and unpickling can restore them)"
    ),
    "check_set_params": (
        "skorch's NeuralNet._get_param_names treats every instance attribute without a trailing "
        "'_' as a parameter, so get_params() exposes the private set _params_to_validate; the "
        "check sets it to -inf and skorch's next set_params() fails calling .add() on it"
    ),
}


def expected_failed_checks(estimator):
    return EXPECTED_FAILED_CHECKS


@parametrize_with_checks(
    [ALNetClassifier(MLP, max_epochs=5, lr=0.1, random_state=0)],
    expected_failed_checks=expected_failed_checks,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
