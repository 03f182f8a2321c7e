"""Networks: ``forward`` returns logits, ``forward_features`` the penultimate features."""
from .cifar_resnet import CifarResNet18
from .imagenet_resnet import ImageNetResNet18
from .layout_cnn import LayoutCNN
from .mlp import MLP
from .small_cnn import SmallCNN

MODELS = {"layoutcnn": LayoutCNN, "smallcnn": SmallCNN, "resnet18": CifarResNet18,
          "resnet18-imagenet": ImageNetResNet18, "mlp": MLP}

__all__ = ["CifarResNet18", "ImageNetResNet18", "LayoutCNN", "MLP", "MODELS", "SmallCNN"]
