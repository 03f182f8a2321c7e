"""VAAL's networks: a convolutional beta-VAE and a latent discriminator (Sinha et al., ICCV 2019).

Scaled to any (C, H, W) image: three stride-2 convolutions down, a linear bottleneck to ``latent_dim``,
three transposed convolutions up, resized to (H, W) when H or W is not a multiple of 8. The paper's
VAE is the same shape with ``width=128`` (128..1024 channels).
"""
import torch
from torch import nn
from torch.nn import functional as F


def _down(in_channels, out_channels):
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 4, 2, 1, bias=False), nn.BatchNorm2d(out_channels),
                         nn.ReLU(inplace=True))


def _up(in_channels, out_channels):
    return nn.Sequential(nn.ConvTranspose2d(in_channels, out_channels, 4, 2, 1, bias=False),
                         nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


class VAE(nn.Module):
    """``forward(x) -> (reconstruction, z, mu, logvar)``; ``encode(x) -> (mu, logvar)``."""

    def __init__(self, in_channels, image_size, latent_dim=32, width=32):
        super().__init__()
        self.image_size = tuple(image_size)
        self.bottom = tuple(max(1, s // 8) for s in self.image_size)
        channels = 4 * width
        self.encoder = nn.Sequential(_down(in_channels, width), _down(width, 2 * width), _down(2 * width, channels),
                                     nn.AdaptiveAvgPool2d(self.bottom), nn.Flatten())
        flat = channels * self.bottom[0] * self.bottom[1]
        self.mu = nn.Linear(flat, latent_dim)
        self.logvar = nn.Linear(flat, latent_dim)
        self.expand = nn.Linear(latent_dim, flat)
        self.decoder = nn.Sequential(_up(channels, 2 * width), _up(2 * width, width), _up(width, width),
                                     nn.Conv2d(width, in_channels, 3, 1, 1))
        self.channels = channels

    def encode(self, x):
        h = self.encoder(x)
        return self.mu(h), self.logvar(h)

    def decode(self, z):
        x = self.decoder(self.expand(z).view(len(z), self.channels, *self.bottom))
        return x if x.shape[-2:] == self.image_size else F.interpolate(x, size=self.image_size, mode="bilinear")

    def forward(self, x, noise=None):
        """``noise``: the standard normal draw of the reparameterisation (None: ``torch.randn``)."""
        mu, logvar = self.encode(x)
        noise = torch.randn_like(mu) if noise is None else noise
        z = mu + noise * torch.exp(0.5 * logvar)
        return self.decode(z), z, mu, logvar


class LatentDiscriminator(nn.Module):
    """D(z) in [0, 1], the probability that z is a labeled sample's latent: latent -> 512 -> 512 -> 1."""

    def __init__(self, latent_dim=32, hidden=512):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, hidden),
                                 nn.ReLU(inplace=True), nn.Linear(hidden, 1))

    def forward(self, z):
        """Logits of D (apply ``torch.sigmoid`` for the probability)."""
        return self.net(z).squeeze(-1)
