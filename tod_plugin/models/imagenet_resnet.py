"""ImageNet-style ResNet-18 (224 px), for Caltech-101 from ImageNet weights in a LOCAL file.

The layers are torchvision's ``resnet18`` (7x7 stride-2 stem, 3x3 max-pool, four stages of two
BasicBlocks at 64, 128, 256, 512 channels, global average pool; 11.7 M parameters with a
1000-class head), built with ``torchvision.models.resnet18(weights=None)`` (imported lazily) under
the same parameter names, so torchvision's state-dict format loads as is. ``pretrained=PATH``
loads every backbone weight from that file (torchvision's ``resnet18-f37072fd.pth``, downloaded
by hand: nothing here touches the network); the heads (``fc``, ``fc_aux``) always start fresh,
sized for ``num_classes``. ``freeze_backbone=True`` trains the heads only: the backbone's weights
get no gradient and its batch-norm layers keep their pretrained statistics (eval mode) while the
net trains. (For the fastest CPU path, features computed once: ``tod_plugin.features``.)
"""
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from ..errors import ConfigError
from .staged import StagedNet

WEIGHTS_HINT = ("torchvision's ResNet-18 ImageNet state dict, e.g. resnet18-f37072fd.pth from "
                "https://download.pytorch.org/models/resnet18-f37072fd.pth")
HEAD_PREFIXES = ("fc.", "fc_aux.")


def _torchvision_resnet18():
    from torchvision.models import resnet18  # lazy: may not import on a CPU torch

    return resnet18(weights=None)


def read_resnet18_state(path):
    """The backbone tensors of a torchvision ResNet-18 state dict at ``path`` (the ``fc`` head dropped).

    Raises :class:`ConfigError` naming the problem when the file is missing, is not a state dict,
    or does not hold exactly ResNet-18's backbone tensors with their shapes.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise ConfigError(f"pretrained: no file {path}; give a local copy of {WEIGHTS_HINT}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # not a torch file, truncated, or holding objects other than tensors
        reason = " ".join(str(exc).split())[:200]  # torch's messages span several lines
        raise ConfigError(f"pretrained: {path} is not a PyTorch state dict ({type(exc).__name__}: {reason}); "
                          f"give {WEIGHTS_HINT}") from exc
    if not isinstance(state, Mapping):
        raise ConfigError(f"pretrained: {path} holds a {type(state).__name__}, not a state dict; give {WEIGHTS_HINT}")
    with torch.device("meta"):  # shapes only, nothing allocated or initialised
        template = _torchvision_resnet18().state_dict()
    expected = {k: v.shape for k, v in template.items() if not k.startswith("fc.")}
    backbone = {k: v for k, v in state.items() if not k.startswith("fc.")}
    missing = sorted(set(expected) - set(backbone))
    unexpected = sorted(set(backbone) - set(expected))
    wrong = sorted(k for k in set(expected) & set(backbone)
                   if not isinstance(backbone[k], torch.Tensor) or backbone[k].shape != expected[k])
    if missing or unexpected or wrong:
        found = (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong))
        problems = [f"{label} {', '.join(keys[:3])}{' ...' if len(keys) > 3 else ''}" for label, keys in found if keys]
        raise ConfigError(f"pretrained: {path} is not a ResNet-18 state dict ({'; '.join(problems)}); "
                          f"give {WEIGHTS_HINT}")
    return backbone


class ImageNetResNet18(StagedNet):
    """``forward`` gives logits; ``stage_features`` the four stage outputs (strides 4, 8, 16, 32);
    ``forward_features`` the 512-d penultimate vector; ``aux_head=True`` adds the TOD second head."""

    stage_channels = (64, 128, 256, 512)

    def __init__(self, num_classes, in_channels=3, pretrained=None, aux_head=False, dropout=0.0,
                 freeze_backbone=False):
        super().__init__()
        self.freeze_backbone = freeze_backbone
        base = _torchvision_resnet18()
        if in_channels != 3:
            if pretrained is not None:
                raise ConfigError(f"pretrained: ImageNet weights are for 3-channel images, the data have {in_channels}")
            base.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
            nn.init.kaiming_normal_(base.conv1.weight, mode="fan_out", nonlinearity="relu")
        self.conv1, self.bn1, self.relu, self.maxpool = base.conv1, base.bn1, base.relu, base.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = base.layer1, base.layer2, base.layer3, base.layer4
        self.build_heads(512, num_classes, aux_head, dropout)
        if pretrained is not None:
            result = self.load_state_dict(read_resnet18_state(pretrained), strict=False)
            assert all(k.startswith(HEAD_PREFIXES) for k in result.missing_keys) and not result.unexpected_keys
        if freeze_backbone:
            for name, parameter in self.named_parameters():
                parameter.requires_grad_(name.startswith(HEAD_PREFIXES))
            self.train(self.training)

    def train(self, mode=True):
        """``mode`` for the heads; a frozen backbone stays in eval mode (pretrained batch-norm statistics)."""
        super().train(mode)
        if self.freeze_backbone:
            for name, child in self.named_children():
                if name not in ("fc", "fc_aux"):
                    child.eval()
        return self

    def stage_features(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        features = []
        for stage in (self.layer1, self.layer2, self.layer3, self.layer4):
            x = stage(x)
            features.append(x)
        return features
