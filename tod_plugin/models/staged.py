"""The interface the plugin's networks share (and a custom module can follow).

* ``stage_features(x)``: the feature maps of the network's stages (four for a ResNet), used by
  the LL4AL loss-prediction module; ``stage_channels`` gives their channel counts.
* ``forward_features(x)``: the penultimate vector, ``embed`` of the stage maps (by default the
  global average pool of the last stage).
* ``forward(x)``: logits of the main head ``fc``; predictions always come from it.
* ``fc_aux``: an optional second linear head on the same features (TOD auxiliary loss), built
  when the constructor gets ``aux_head=True``; ``forward_heads(x)`` returns both heads' logits.
* ``head_dropout``: dropout on the penultimate vector before the heads, built when the
  constructor gets ``dropout=p`` with p > 0 (None otherwise).
"""
import torch
from torch import nn
from torch.nn import functional as F


class StagedNet(nn.Module):
    stage_channels = ()

    def build_heads(self, in_features, num_classes, aux_head, dropout=0.0):
        self.head_dropout = nn.Dropout(dropout) if dropout > 0 else None
        self.fc = nn.Linear(in_features, num_classes)
        self.fc_aux = nn.Linear(in_features, num_classes) if aux_head else None

    def stage_features(self, x):
        raise NotImplementedError

    @staticmethod
    def pool(feature_map):
        return torch.flatten(F.adaptive_avg_pool2d(feature_map, 1), 1)

    def embed(self, stages):
        """The penultimate vector from the stage maps: the global average pool of the last one."""
        return self.pool(stages[-1])

    def forward_features(self, x):
        return self.embed(self.stage_features(x))

    def dropped(self, features):
        """``features`` through ``head_dropout`` (unchanged without one, as in nets pickled before it existed)."""
        dropout = getattr(self, "head_dropout", None)
        return features if dropout is None else dropout(features)

    def forward(self, x):
        return self.fc(self.dropped(self.forward_features(x)))

    def forward_with_stages(self, x):
        """``(logits, stage feature maps)`` from one pass."""
        stages = self.stage_features(x)
        return self.fc(self.dropped(self.embed(stages))), stages

    def forward_heads(self, x):
        """``(main logits, auxiliary logits)`` from one pass; needs ``aux_head=True``."""
        if self.fc_aux is None:
            raise ValueError(f"{type(self).__name__} was built without a second head: pass aux_head=True")
        features = self.dropped(self.forward_features(x))
        return self.fc(features), self.fc_aux(features)
