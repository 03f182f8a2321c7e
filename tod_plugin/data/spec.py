"""What a dataset loader returns: uint8 images, labels, class names, normalisation and augmentation."""
from dataclasses import dataclass

import numpy as np


@dataclass
class ImageDataset:
    """A labeled train pool and test split as uint8 arrays of shape (N, C, H, W).

    ``mean``/``std`` normalise images scaled to [0, 1]; ``crop_padding``/``hflip`` are the
    training augmentation of the papers' protocol for this dataset.
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    class_names: list
    mean: tuple
    std: tuple
    crop_padding: int = 0
    hflip: bool = False

    @property
    def n_classes(self):
        return len(self.class_names)

    @property
    def in_channels(self):
        return self.X_train.shape[1]
