"""Training hooks (skorch callbacks) that record the model states query strategies need.

State lives on the callback in attributes ending with ``_`` (CPU ``state_dict`` copies, so a
pickled net loads without CUDA). ``clone`` of the net gives fresh hooks with the same parameters.
"""
from .ema import EMATeacher, ema_weight
from .epoch_snapshots import EpochSnapshots, snapshot_plan
from .step_snapshot import StepSnapshot

__all__ = ["EMATeacher", "EpochSnapshots", "StepSnapshot", "ema_weight", "snapshot_plan"]
