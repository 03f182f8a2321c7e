"""A small CNN for 8x8 digits and tests (the default before LayoutCNN; kept so earlier results can be rerun).

One max-pool, then a global average pool: on images above ~16 px its features lose where they are
(see benchmarks/README.md), so LayoutCNN is the CPU default.
"""
from torch import nn

from .staged import StagedNet


def conv_bn_relu(in_channels, out_channels):
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class SmallCNN(StagedNet):
    """Three stages: conv(w); maxpool(conv(2w)); conv(4w); then global average pool -> linear."""

    def __init__(self, in_channels, num_classes, width=16, aux_head=False, dropout=0.0):
        super().__init__()
        self.stage_channels = (width, 2 * width, 4 * width)
        self.stages = nn.ModuleList([
            conv_bn_relu(in_channels, width),
            nn.Sequential(conv_bn_relu(width, 2 * width), nn.MaxPool2d(2)),
            conv_bn_relu(2 * width, 4 * width),
        ])
        self.build_heads(4 * width, num_classes, aux_head, dropout)

    def stage_features(self, x):
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return features
