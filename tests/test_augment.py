import numpy as np
import torch

from tod_plugin.augment import crop_flip, draw_crop_flip


def torchvision_crop_flip(image, padding, top, left, flip):
    from torchvision.transforms.v2 import functional as TF

    out = TF.crop(TF.pad(image, [padding]), top, left, image.shape[-2], image.shape[-1])
    return TF.horizontal_flip(out) if flip else out


def test_matches_torchvision_for_fixed_crop_and_flip():
    images = torch.randint(0, 256, (6, 3, 10, 12), dtype=torch.uint8)
    dy = torch.tensor([0, 8, 3, 4, 0, 8])
    dx = torch.tensor([0, 8, 5, 1, 8, 0])
    flips = torch.tensor([False, True, True, False, True, False])
    ours = crop_flip(images, 4, dy, dx, flips)
    for i in range(6):
        expected = torchvision_crop_flip(images[i], 4, int(dy[i]), int(dx[i]), bool(flips[i]))
        assert torch.equal(ours[i], expected)


def test_offsets_and_flips_are_uniform_and_independent():
    g = torch.Generator().manual_seed(0)
    dy, dx, flips = draw_crop_flip(40000, 4, True, g)
    counts = np.bincount(dy.numpy(), minlength=9) / 40000
    np.testing.assert_allclose(counts, 1 / 9, atol=0.01)
    assert abs(flips.float().mean().item() - 0.5) < 0.01
    assert abs(np.corrcoef(dy.numpy(), dx.numpy())[0, 1]) < 0.02


def test_no_padding_no_flip_is_identity():
    images = torch.randint(0, 256, (3, 1, 8, 8), dtype=torch.uint8)
    draws = draw_crop_flip(3, 0, False, torch.Generator().manual_seed(0))
    assert torch.equal(crop_flip(images, 0, *draws), images)
