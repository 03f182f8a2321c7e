"""Batched, on-device image augmentation with torchvision's semantics.

``crop_flip`` with the offsets and flips of ``draw_crop_flip`` equals, sample by sample,
``RandomCrop(size=(H, W), padding=p)`` (zero padding) followed by ``RandomHorizontalFlip(0.5)``: each image gets its own offsets
``i, j ~ U{0..2p}`` and its own flip, drawn from the given generator. It is one gather over the
padded batch, so it runs wherever the batch lives (CPU or GPU) without a per-sample loop.
"""
import torch
import torch.nn.functional as F


def draw_crop_flip(batch_size, padding, hflip, generator):
    """Draw per-sample crop offsets ``(dy, dx)`` in ``[0, 2p]`` and flip flags (CPU tensors)."""
    offsets = torch.randint(0, 2 * padding + 1, (2, batch_size), generator=generator)
    flips = torch.rand(batch_size, generator=generator) < 0.5 if hflip else torch.zeros(batch_size, dtype=torch.bool)
    return offsets[0], offsets[1], flips


def crop_flip(images, padding, dy, dx, flips):
    """Zero-pad ``images`` (B, C, H, W) by ``padding``, crop H x W at ``(dy, dx)``, flip where ``flips``."""
    batch, _, height, width = images.shape
    device = images.device
    dy, dx, flips = dy.to(device), dx.to(device), flips.to(device)
    padded = F.pad(images, (padding, padding, padding, padding)) if padding else images
    rows = dy[:, None] + torch.arange(height, device=device)
    cols = torch.arange(width, device=device).expand(batch, width)
    cols = torch.where(flips[:, None], width - 1 - cols, cols) + dx[:, None]
    b = torch.arange(batch, device=device)[:, None, None]
    out = padded[b, :, rows[:, :, None], cols[:, None, :]]  # (B, H, W, C)
    return out.permute(0, 3, 1, 2).contiguous()

