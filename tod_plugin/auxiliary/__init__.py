"""Auxiliary training losses as objects (``TODLoss``, ``LL4ALLoss``, ``NoAuxiliary``), selected by
``ALNetClassifier(auxiliary=name)`` through :func:`resolve_auxiliary`, and their mathematics."""
from .base import AuxiliaryLoss, NoAuxiliary
from .ll4al import LL4ALLoss, LossPredictionModule, LossPredictor, ranking_loss
from .registry import AUXILIARIES, AUXILIARY_LOSSES, resolve_auxiliary
from .tod import TOD_AUX_WEIGHTS, TODLoss, teacher_logits, tod_consistency_loss

__all__ = ["AUXILIARIES", "AUXILIARY_LOSSES", "AuxiliaryLoss", "LL4ALLoss", "LossPredictionModule", "LossPredictor",
           "NoAuxiliary", "TODLoss", "TOD_AUX_WEIGHTS", "ranking_loss", "resolve_auxiliary", "teacher_logits",
           "tod_consistency_loss"]
