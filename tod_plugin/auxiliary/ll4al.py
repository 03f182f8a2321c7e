"""LL4AL: learning loss for active learning (Yoo & Kweon, CVPR 2019).

A loss-prediction module reads the stage feature maps: per stage global average pool ->
Linear(-> 128) -> ReLU; the concatenation -> Linear(-> 1) is the predicted loss l^. It is trained
with a pairwise ranking loss: element i of a batch of 2B is paired with element 2B-1-i,
d = l^_i - l^_j, t = +1 if loss_i > loss_j else -1 (true losses detached), and
L_pred = mean over pairs of max(0, margin - t * d). An odd batch leaves its middle element out.
"""
import torch
from torch import nn
from torch.nn import functional as F

from ..errors import ConfigError
from .base import AuxiliaryLoss


class LossPredictionModule(nn.Module):
    """l^ from a list of stage feature maps with ``stage_channels`` channels (adaptive pooling,
    so any input size works)."""

    def __init__(self, stage_channels, hidden=128):
        super().__init__()
        self.branches = nn.ModuleList(nn.Linear(c, hidden) for c in stage_channels)
        self.out = nn.Linear(hidden * len(stage_channels), 1)

    def forward(self, stages):
        pooled = [F.relu(branch(torch.flatten(F.adaptive_avg_pool2d(s, 1), 1)))
                  for branch, s in zip(self.branches, stages)]
        return self.out(torch.cat(pooled, dim=1)).squeeze(1)


def ranking_loss(predicted, target, margin=1.0):
    """Mean over pairs (i, 2B-1-i) of max(0, margin - sign(loss_i - loss_j) * (l^_i - l^_j))."""
    half = len(predicted) // 2
    if half == 0:
        return predicted.sum() * 0.0
    target = target.detach()
    d_pred = predicted[:half] - predicted.flip(0)[:half]
    sign = torch.where(target[:half] > target.flip(0)[:half], 1.0, -1.0)
    return F.relu(margin - sign * d_pred).mean()


class LossPredictor(nn.Module):
    """The task network and the loss-prediction module as one module returning l^(x) (for scoring)."""

    def __init__(self, network, loss_module):
        super().__init__()
        self.network = network
        self.loss_module = loss_module

    def forward(self, x):
        return self.loss_module(self.network.stage_features(x))


class LL4ALLoss(AuxiliaryLoss):
    """``auxiliary="ll4al"``: the ranking loss of the predicted vs the true per-sample losses, from a
    ``LossPredictionModule`` on the module's stage features (``loss_module_``, trained with the
    net's optimizer). In the epochs after 0-based epoch ``ll4al_stop_epoch`` of a fit the stage
    features are detached (no gradient to the backbone), as the reference's ``epoch > epoch_loss``:
    121 of 200 epochs shape it for 120."""

    name = "ll4al"
    default_weight = 1.0

    def extra_modules(self, module):
        channels = getattr(module, "stage_channels", ())
        if not channels or not hasattr(module, "stage_features"):
            raise ConfigError(
                f"auxiliary='ll4al' needs a module with stage features (stage_features() and "
                f"stage_channels, e.g. SmallCNN or CifarResNet18); {type(module).__name__} has none"
            )
        return {"loss_module_": LossPredictionModule(channels)}

    def forward(self, net, x, y, fit):
        logits, stages = net.module_.forward_with_stages(x)
        if fit.epoch > net.ll4al_stop_epoch:
            stages = [s.detach() for s in stages]
        target = F.cross_entropy(logits, y, reduction="none")
        return logits, ranking_loss(net.loss_module_(stages), target, net.ll4al_margin)
