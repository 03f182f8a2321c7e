"""The auxiliary-loss interface of ``ALNetClassifier`` and its no-auxiliary case."""
from ..errors import MissingHookError


class AuxiliaryLoss:
    """An auxiliary training loss: the step's loss is CE(h(x_l), y) + lambda * L_aux.

    ``ALNetClassifier(auxiliary=name)`` resolves ``name`` to an instance when it is initialised
    (``auxiliary_loss_``, see ``registry.resolve_auxiliary``) and asks it, never the name. An
    instance holds no state: the loss's settings are the net's parameters (``aux_weight``,
    ``ll4al_margin``, ``ll4al_stop_epoch``), read when a step runs. A subclass sets the attributes
    below and computes L_aux in :meth:`forward`.

    Attributes:
        name: the ``auxiliary`` value that selects it.
        default_weight: lambda when ``aux_weight`` is None (None: no auxiliary term).
        dataset_weights: lambda per dataset where the paper tunes it (read by the experiment engine).
        uses_pool: whether training draws unlabeled batches (``fit(..., X_unlabeled=pool)``).
        module_params: constructor arguments the module gets when it accepts them.
        required_hooks: ``{hook class: what it is}``, the hooks the net must be trained with.
    """

    name = None
    default_weight = None
    dataset_weights = {}
    uses_pool = False
    module_params = {}
    required_hooks = {}

    def make_hooks(self):
        """New instances of the required hooks, with their default settings."""
        return [hook() for hook in self.required_hooks]

    def check_hooks(self, net):
        """``MissingHookError`` naming the first required hook ``net`` was not given."""
        for hook, what in self.required_hooks.items():
            if net.hook(hook) is None:
                raise MissingHookError(
                    f"auxiliary={self.name!r} needs {what}: add callbacks=[tod_plugin.hooks.{hook.__name__}()]"
                )

    def extra_modules(self, module):
        """``{attribute name: module}`` trained along with the net's ``module`` (their parameters join
        the optimizer's, as skorch does for every module the net holds); built right after it."""
        return {}

    def training_loss(self, net, x, y, fit, **fit_params):
        """``(main logits, CE + lambda * L_aux)`` of a training batch ``(x, y)``; ``fit`` is the
        call's ``training_calls.FitContext``."""
        y_pred, aux_loss = self.forward(net, x, y, fit)
        return y_pred, net.get_loss(y_pred, y, X=x, training=True) + net.effective_aux_weight * aux_loss

    def forward(self, net, x, y, fit):
        """``(main logits, L_aux)`` of a training batch; each loss defines its own."""
        raise NotImplementedError(f"{type(self).__name__} does not define its auxiliary loss")

    def divergence_causes(self, net):
        """Settings of this loss that can make training diverge, for ``TrainingDiverged``'s message."""
        return [f"aux_weight={net.effective_aux_weight!r} too high"]


class NoAuxiliary(AuxiliaryLoss):
    """``auxiliary="none"``: cross-entropy on the labeled batch only."""

    name = "none"

    def training_loss(self, net, x, y, fit, **fit_params):
        y_pred = net.infer(x, **fit_params)
        return y_pred, net.get_loss(y_pred, y, X=x, training=True)

    def divergence_causes(self, net):
        return []
