import numpy as np
import torch

from tod_plugin.scoring import output_discrepancy


def test_output_discrepancy_by_hand():
    z = torch.tensor([[0.0, 0.0], [np.log(3.0), 0.0]])
    z_ref = torch.tensor([[np.log(3.0), 0.0], [np.log(3.0), 0.0]])
    # softmax: [.5,.5] vs [.75,.25] -> 0.5 * (0.25^2 + 0.25^2) = 0.0625; identical rows -> 0
    np.testing.assert_allclose(output_discrepancy(z, z_ref).numpy(), [0.0625, 0.0], atol=1e-7)


def test_output_discrepancy_is_symmetric_and_bounded():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(50, 7, generator=g) * 5, torch.randn(50, 7, generator=g) * 5
    s = output_discrepancy(a, b)
    torch.testing.assert_close(s, output_discrepancy(b, a))
    assert (s >= 0).all() and (s <= 1).all()
