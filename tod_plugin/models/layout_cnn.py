"""A small CNN that keeps the image's layout: the default CPU network, for 8x8 to 64x64 images.

Three conv-BN-ReLU stages (w, 2w, 2w channels; w = 32) with a 2x2 max-pool after each stage
whose output is still at least twice the grid, then an average pool to a ``grid`` x ``grid`` map
(4 x 4: which part of the image each feature comes from is kept), flattened into a ``hidden``-unit
layer with LayerNorm and ReLU (the penultimate vector), optional dropout, and the linear head. The
LayerNorm keeps SGD at lr 0.05 with batches of 9 from diverging (without it one seed of the default
``tod-al run`` stayed at chance); a BatchNorm there would fail on a last batch of one sample. 8x8 digits are pooled
once (to 4x4), 28x28 images twice (to 7x7), 32x32 and 64x64 three times (to 4x4, 8x8). The last
stage runs only on maps larger than the grid: on 8x8 digits the second stage's 4x4 map is already
the grid, and a third convolution there cost ~1.7x LeNet's time for no accuracy (its map is
passed on unchanged, so ``stage_features`` still gives three maps). Unlike
:class:`SmallCNN` (one max-pool, then a global average pool: its features see ~9-pixel patches
and lose where they are), it learns on 28x28 and 32x32 images; see benchmarks/README.md.
"""
import torch
from torch import nn
from torch.nn import functional as F

from .small_cnn import conv_bn_relu
from .staged import StagedNet


class LayoutCNN(StagedNet):
    """``stage_features`` gives the three (pooled) stage maps (LL4AL), ``forward_features`` the
    ``hidden``-d penultimate vector (Core-Set, BAL), ``aux_head=True`` adds the TOD second head,
    ``dropout=p`` drops penultimate units before the heads (0: none)."""

    def __init__(self, in_channels, num_classes, width=32, grid=4, hidden=128, dropout=0.0, aux_head=False):
        super().__init__()
        self.grid = grid
        self.stage_channels = (width, 2 * width, 2 * width)
        self.stages = nn.ModuleList([
            conv_bn_relu(in_channels, width),
            conv_bn_relu(width, 2 * width),
            conv_bn_relu(2 * width, 2 * width),
        ])
        self.hidden = nn.Sequential(nn.Linear(2 * width * grid * grid, hidden), nn.LayerNorm(hidden), nn.ReLU(inplace=True))
        self.build_heads(hidden, num_classes, aux_head, dropout)

    def stage_features(self, x):
        features = []
        for i, stage in enumerate(self.stages):
            if i < len(self.stages) - 1 or min(x.shape[-2:]) > self.grid:  # last stage: only above the grid
                x = stage(x)
            if min(x.shape[-2:]) >= 2 * self.grid:
                x = F.max_pool2d(x, 2)
            features.append(x)
        return features

    def embed(self, stages):
        return self.hidden(torch.flatten(F.adaptive_avg_pool2d(stages[-1], self.grid), 1))
