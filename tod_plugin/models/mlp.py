"""A multilayer perceptron for feature rows (N, F): tabular data, embeddings, estimator checks."""
from torch import nn


class MLP(nn.Module):
    """Linear(in_features, hidden) -> ReLU -> Linear(hidden, num_classes)."""

    def __init__(self, in_features, num_classes, hidden=64):
        super().__init__()
        self.features = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU())
        self.fc = nn.Linear(hidden, num_classes)

    def forward_features(self, x):
        return self.features(x)

    def forward(self, x):
        return self.fc(self.forward_features(x))
