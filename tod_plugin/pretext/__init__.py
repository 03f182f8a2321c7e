"""Self-supervised pretext training and pool bookkeeping for the pretext-ordered samplers (PT4AL, BAL)."""
from .pool_index import PoolIndex, row_keys
from .rotation import (RotationPretextNet, fit_rotation_pretext, pretext_features, pretext_net, rotation_losses,
                       rotations)

__all__ = ["PoolIndex", "RotationPretextNet", "fit_rotation_pretext", "pretext_features", "pretext_net",
           "rotation_losses", "rotations", "row_keys"]
