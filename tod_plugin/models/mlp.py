"""A multilayer perceptron for feature rows (N, F): tabular data, embeddings, estimator checks."""
from torch import nn

from .staged import StagedNet


class MLP(StagedNet):
    """Linear(in_features, hidden) -> ReLU -> Linear(hidden, num_classes); no stage feature maps."""

    def __init__(self, in_features, num_classes, hidden=64, aux_head=False, dropout=0.0):
        super().__init__()
        self.features = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU())
        self.build_heads(hidden, num_classes, aux_head, dropout)

    def forward_features(self, x):
        return self.features(x)
