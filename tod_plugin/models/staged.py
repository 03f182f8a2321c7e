"""The interface the plugin's networks share (and a custom module can follow).

* ``stage_features(x)``: the feature maps of the network's stages (four for a ResNet), used by
  the LL4AL loss-prediction module; ``stage_channels`` gives their channel counts.
* ``forward_features(x)``: the penultimate vector, ``embed`` of the stage maps (by default the
  global average pool of the last stage).
* ``forward(x)``: logits of the main head ``fc``; predictions always come from it.
* ``dropout``: an optional ``nn.Dropout(p)`` on the features before the heads (``dropout=p`` in
  the constructor, 0 = none), for MC-dropout BALD; it is active in training mode only.
* ``fc_aux``: an optional second linear head on the same features (TOD auxiliary loss), built
  when the constructor gets ``aux_head=True``; ``forward_heads(x)`` returns both heads' logits.
* ``supports_channels_last = True``: the network runs on NHWC tensors (no ``.view()`` of a feature
  map), so ``ALNetClassifier(channels_last="auto")`` gives it the faster layout.
"""

import torch
from torch import nn
from torch.nn import functional as F

from ..validation import check_number


class StagedNet(nn.Module):
    stage_channels = ()
    supports_channels_last = True

    def build_heads(self, in_features, num_classes, aux_head, dropout=0.0):
        dropout = check_number(dropout, "dropout (module__dropout)", low=0, high=1, high_open=True)
        self.dropout = nn.Dropout(float(dropout)) if dropout > 0 else None
        self.fc = nn.Linear(in_features, num_classes)
        self.fc_aux = nn.Linear(in_features, num_classes) if aux_head else None

    def head_input(self, features):
        """The features as the heads see them: through ``dropout`` when the net has one."""
        return features if self.dropout is None else self.dropout(features)

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

    def forward(self, x):
        return self.fc(self.head_input(self.forward_features(x)))

    def forward_with_stages(self, x):
        """``(logits, stage feature maps)`` from one pass."""
        stages = self.stage_features(x)
        return self.fc(self.head_input(self.embed(stages))), stages

    def forward_heads(self, x):
        """``(main logits, auxiliary logits)`` from one pass; needs ``aux_head=True``."""
        if self.fc_aux is None:
            raise ValueError(f"{type(self).__name__} was built without a second head: pass aux_head=True")
        features = self.head_input(self.forward_features(x))
        return self.fc(features), self.fc_aux(features)
