"""StepSnapshot: the weights T optimizer steps before the end of a fit (TOD)."""
import warnings

from skorch.callbacks import Callback

from ..states import module_state
from ..validation import check_number


class StepSnapshot(Callback):
    """Keep the weights from ``T`` optimizer steps before the end of each fit (TOD, Huang et al. 2021).

    TOD_T(x) = || f(x; w_{t+T}) - f(x; w_t) || lower-bounds the loss accumulated over those T steps.
    ``steps_before_end=None`` means one epoch's worth of steps. The plan is made when the fit
    starts (labeled size, batch size and the epochs the call runs: ``partial_fit(..., epochs=k)``'s
    ``k``, else ``max_epochs``; ``net.planned_epochs_``); a fit that ends early (early stopping,
    interruption) keeps the snapshot it took, and ``snapshot_steps_before_end_`` says how far
    before the actual end it is (with a warning when that differs from T). A fit shorter than T
    steps snapshots its starting weights.

    Fitted state: ``snapshot_`` (state dict), ``snapshot_steps_before_end_``, ``steps_``.
    """

    def __init__(self, steps_before_end=None):
        self.steps_before_end = steps_before_end

    def initialize(self):
        check_number(self.steps_before_end, "steps_before_end", integral=True, low=0, low_open=True, none_ok=True)
        self.snapshot_ = None
        return super().initialize()

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        n_samples = len(X)
        per_epoch = net.steps_per_epoch(n_samples)
        self.planned_steps_ = per_epoch * net.planned_epochs_
        self.target_steps_back_ = self.steps_before_end or per_epoch
        self.snapshot_at_ = max(self.planned_steps_ - self.target_steps_back_, 0)
        self.steps_ = 0
        self._take(net)

    def on_batch_end(self, net, training=False, **kwargs):
        if not training:
            return
        self.steps_ += 1
        if self.steps_ == self.snapshot_at_:
            self._take(net)

    def on_train_end(self, net, **kwargs):
        self.snapshot_steps_before_end_ = self.steps_ - self.snapshot_step_
        if self.steps_ < self.planned_steps_ or self.snapshot_steps_before_end_ != self.target_steps_back_:
            warnings.warn(
                f"StepSnapshot: the fit ran {self.steps_} of {self.planned_steps_} planned steps; the "
                f"snapshot is {self.snapshot_steps_before_end_} steps before the end, not {self.target_steps_back_}",
                stacklevel=2,
            )

    def _take(self, net):
        self.snapshot_ = module_state(net.module_)
        self.snapshot_step_ = self.steps_
