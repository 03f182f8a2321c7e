"""A CIFAR-shaped synthetic dataset for benchmarks that must not depend on downloaded data.

Each class has its own smooth colour pattern (a random 4x4 RGB image upsampled to 32x32); a sample
is its class pattern plus pixel noise, as uint8 (N, 3, 32, 32). It is learnable, so accuracy
comparisons (bf16 vs fp32) mean something, and it has CIFAR-10's shape, normalisation and
augmentation, so throughput figures transfer.
"""
import numpy as np
import torch

from tod_plugin.data.spec import ImageDataset

CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)


def cifar_like(n_train, n_test=1000, n_classes=10, seed=0, noise=60):
    rng = np.random.default_rng(seed)
    patterns = torch.nn.functional.interpolate(
        torch.from_numpy(rng.uniform(40, 215, (n_classes, 3, 4, 4))).float(), size=32, mode="bilinear")
    patterns = patterns.numpy()

    def draw(n):
        y = rng.integers(n_classes, size=n)
        X = np.empty((n, 3, 32, 32), dtype=np.uint8)
        for start in range(0, n, 4096):  # in chunks: no float copy of the whole set
            rows = slice(start, start + 4096)
            noisy = patterns[y[rows]] + rng.standard_normal(X[rows].shape, dtype=np.float32) * noise
            X[rows] = np.clip(noisy, 0, 255)
        return X, y

    X_train, y_train = draw(n_train)
    X_test, y_test = draw(n_test)
    return ImageDataset("cifar-like", X_train, y_train, X_test, y_test, [str(c) for c in range(n_classes)],
                        CIFAR_MEAN, CIFAR_STD, crop_padding=4, hflip=True)
