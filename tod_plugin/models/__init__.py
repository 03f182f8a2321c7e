"""Networks: ``forward`` returns logits, ``forward_features`` the penultimate features."""
from .cifar_resnet import CifarResNet18
from .mlp import MLP
from .small_cnn import SmallCNN

MODELS = {"smallcnn": SmallCNN, "resnet18": CifarResNet18, "mlp": MLP}

__all__ = ["CifarResNet18", "MLP", "MODELS", "SmallCNN"]
