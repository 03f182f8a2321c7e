"""A small CNN for CPU work and tests (8x8 digits up to 32x32 images)."""
from torch import nn


def conv_bn_relu(in_channels, out_channels):
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class SmallCNN(nn.Module):
    """conv(w) -> conv(2w) -> maxpool -> conv(4w) -> global average pool -> linear.

    ``forward_features`` gives the penultimate (4w)-vector; ``forward`` the logits.
    """

    def __init__(self, in_channels, num_classes, width=16):
        super().__init__()
        self.features = nn.Sequential(
            conv_bn_relu(in_channels, width),
            conv_bn_relu(width, 2 * width),
            nn.MaxPool2d(2),
            conv_bn_relu(2 * width, 4 * width),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.fc = nn.Linear(4 * width, num_classes)

    def forward_features(self, x):
        return self.features(x)

    def forward(self, x):
        return self.fc(self.forward_features(x))
