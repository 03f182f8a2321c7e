"""Auxiliary training losses: the TOD consistency loss and the LL4AL loss-prediction module."""
from .ll4al import LossPredictionModule, LossPredictor, ranking_loss
from .tod import TOD_AUX_WEIGHTS, teacher_logits, tod_consistency_loss

AUXILIARIES = ("none", "tod", "ll4al")

__all__ = ["AUXILIARIES", "LossPredictionModule", "LossPredictor", "TOD_AUX_WEIGHTS", "ranking_loss",
           "teacher_logits", "tod_consistency_loss"]
