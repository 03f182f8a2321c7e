"""Image files to uint8 arrays: listing, decoding in parallel, resize + centre crop, per-class splits.

Images are decoded once at load time into one preallocated (N, 3, H, W) uint8 array (RGB; grey
images are converted, 16-bit ones scaled to 8 bits), so memory stays at the array's size plus one
image per worker.
"""
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from .files import DatasetDamaged, describe

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".gif", ".tif", ".tiff", ".webp")


def list_images(folder):
    """Image files directly inside ``folder`` (by extension, any case), sorted by name."""
    return sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())


def class_folders(folder, drop=()):
    """Sub-folders of ``folder`` (one per class), sorted by name, without those named in ``drop``."""
    return sorted(p for p in Path(folder).iterdir() if p.is_dir() and p.name not in drop)


def resize_center_crop(image, resize, crop):
    """torchvision's ``Resize(resize)`` then ``CenterCrop(crop)`` on a PIL image.

    The short side becomes ``resize`` (long side ``int(resize * long / short)``, bilinear,
    antialiased as PIL does), then the centre ``crop`` x ``crop`` window is kept, its top-left
    corner at ``int(round((size - crop) / 2))``.
    """

    width, height = image.size
    short, long = (width, height) if width <= height else (height, width)
    if short != resize:
        new_long = int(resize * long / short)
        size = (resize, new_long) if width <= height else (new_long, resize)
        image = image.resize(size, Image.Resampling.BILINEAR)
        width, height = image.size
    top, left = int(round((height - crop) / 2.0)), int(round((width - crop) / 2.0))
    return image.crop((left, top, left + crop, top + crop))


def crop_transform(crop):
    """The ImageNet recipe scaled to a ``crop`` x ``crop`` result: short side ``round(crop * 256 / 224)``
    (256 for 224), then the centre crop."""
    resize = int(round(crop * 256 / 224))
    return lambda image: resize_center_crop(image, resize, crop)


def header_size(path):
    """``(width, height)`` from the file header, without decoding the pixels."""

    try:
        with Image.open(path) as image:
            return image.size
    except Exception as exc:  # PIL raises OSError, ValueError, DecompressionBombError...
        raise DatasetDamaged(f"{path} cannot be read as an image ({describe(exc)})") from exc


def to_rgb(image):
    """A PIL image as 8-bit RGB. 16-bit grey (modes ``I;16*``, and ``I``, as Pillow opens some 16-bit
    files) is scaled by 255 / 65535 with rounding; ``convert("RGB")`` alone would clip it at 255."""

    if image.mode.startswith("I;16") or image.mode == "I":
        pixels = np.asarray(image).astype(np.float64)
        image = Image.fromarray(np.clip(np.rint(pixels * (255.0 / 65535.0)), 0, 255).astype(np.uint8), mode="L")
    return image.convert("RGB")


def read_images(paths, height, width, transform=None, workers=None):
    """Decode ``paths`` to RGB, apply ``transform`` (PIL -> PIL), into one (N, 3, height, width) uint8 array.

    An unreadable file, or one whose (transformed) size is not ``width`` x ``height``, raises
    :class:`DatasetDamaged` naming it. Decoding runs on ``workers`` threads (PIL releases the GIL).
    """

    out = np.empty((len(paths), 3, height, width), dtype=np.uint8)

    def decode(index):
        path = paths[index]
        try:
            with Image.open(path) as image:
                image = to_rgb(image)
                if transform is not None:
                    image = transform(image)
                pixels = np.asarray(image)
        except Exception as exc:  # truncated or foreign files
            raise DatasetDamaged(f"{path} cannot be read as an image ({describe(exc)})") from exc
        if pixels.shape != (height, width, 3):
            raise DatasetDamaged(f"{path} is {pixels.shape[1]}x{pixels.shape[0]} pixels, expected {width}x{height}")
        out[index] = pixels.transpose(2, 0, 1)

    pool = ThreadPoolExecutor(max_workers=workers or min(8, os.cpu_count() or 1))
    try:
        for _ in pool.map(decode, range(len(paths))):
            pass
    finally:
        pool.shutdown(cancel_futures=True)  # the first damaged file stops the rest
    return out


def split_per_class(labels, test_percent=10, seed=0):
    """Seeded per-class split: each class is shuffled and ``max(1, round_half_up(n * test_percent / 100))``
    of its n images go to the test set. Returns sorted ``(train_rows, test_rows)``.
    """
    labels = np.asarray(labels)
    rng = np.random.RandomState(seed)
    test = np.zeros(len(labels), dtype=bool)
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        n_test = max(1, (len(rows) * test_percent + 50) // 100)
        test[rng.permutation(rows)[:n_test]] = True
    return np.flatnonzero(~test), np.flatnonzero(test)


def channel_stats(X, chunk=1024):
    """Per-channel mean and standard deviation of uint8 images (N, C, H, W) scaled to [0, 1]; the
    standard deviation is floored at 1/255 so that a constant channel does not divide by zero."""
    count = X.shape[0] * X.shape[2] * X.shape[3]
    total = np.zeros(X.shape[1])
    squares = np.zeros(X.shape[1])
    for start in range(0, len(X), chunk):
        block = X[start:start + chunk].astype(np.float64) / 255.0
        total += block.sum(axis=(0, 2, 3))
        squares += np.square(block).sum(axis=(0, 2, 3))
    mean = total / count
    std = np.maximum(np.sqrt(np.maximum(squares / count - mean ** 2, 0.0)), 1.0 / 255.0)
    return tuple(float(m) for m in mean), tuple(float(s) for s in std)
