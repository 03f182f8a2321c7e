"""scikit-learn's bundled 8x8 handwritten digits: the embedded default, no download."""
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from .spec import ImageDataset

TEST_FRACTION = 0.2
SPLIT_SEED = 0


def load(data_dir=None, download=False):
    """1797 images, 0..16 grey levels scaled to uint8; a fixed stratified 80/20 train/test split."""
    digits = load_digits()
    images = np.rint(digits.images * (255.0 / 16.0)).astype(np.uint8)[:, None]
    X_train, X_test, y_train, y_test = train_test_split(
        images, digits.target, test_size=TEST_FRACTION, stratify=digits.target, random_state=SPLIT_SEED
    )
    scaled = X_train.astype(np.float64) / 255.0
    return ImageDataset(
        name="digits",
        X_train=X_train,
        y_train=y_train,
        X_test=X_test,
        y_test=y_test,
        class_names=[str(c) for c in range(10)],
        mean=(float(scaled.mean()),),
        std=(float(scaled.std()),),
        crop_padding=1,
        hflip=False,
    )
