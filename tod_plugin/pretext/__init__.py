"""Self-supervised pretext training and pool bookkeeping for the pretext-ordered samplers (PT4AL, BAL)."""
from .pool_index import PoolIndex, row_keys
from .rotation import fit_rotation_pretext, pretext_features, pretext_net, rotation_losses, rotations

__all__ = ["PoolIndex", "fit_rotation_pretext", "pretext_features", "pretext_net", "rotation_losses", "rotations",
           "row_keys"]
