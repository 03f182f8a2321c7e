"""ResNet-18 for 32x32 images, as in the TOD / LL4AL / ST-CoNAL / BAL papers.

3x3 stem convolution (stride 1), no max-pool, four stages of two BasicBlocks (64, 128, 256, 512
channels, stride 1, 2, 2, 2), global average pool, linear head: 11.2 M parameters for 10 classes.
"""
from torch import nn
from torch.nn import functional as F

from .staged import StagedNet


class BasicBlock(nn.Module):
    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes)
            )

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet18(StagedNet):
    """``forward`` gives logits; ``stage_features`` the four stage outputs; ``forward_features`` the
    512-d penultimate vector; ``aux_head=True`` adds the second head of the TOD auxiliary loss."""

    stage_channels = (64, 128, 256, 512)

    def __init__(self, num_classes, in_channels=3, aux_head=False, dropout=0.0):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 64, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        stages, in_planes = [], 64
        for planes, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            stages.append(nn.Sequential(BasicBlock(in_planes, planes, stride), BasicBlock(planes, planes, 1)))
            in_planes = planes
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.build_heads(512, num_classes, aux_head, dropout)

    def stage_features(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        features = []
        for stage in (self.layer1, self.layer2, self.layer3, self.layer4):
            out = stage(out)
            features.append(out)
        return features
