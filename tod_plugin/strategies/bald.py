"""BALD: mutual information between the prediction and the weights, from MC-dropout passes.

Houlsby, Huszár, Ghahramani, Lengyel, "Bayesian Active Learning for Classification and Preference
Learning", 2011; Gal, Islam, Ghahramani, "Deep Bayesian Active Learning with Image Data", ICML 2017.
"""
import torch
from sklearn.utils import check_random_state
from torch import nn

from ..device import resolve_device
from ..errors import ConfigError
from ..scoring import mutual_information
from ..validation import check_number
from ._common import rank_pool


DROPOUT_LAYERS = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout)


class MCDropout(nn.Module):
    """``module`` run ``n_samples`` times on each batch with its dropout layers active: logits (B, T, C).

    The batch is repeated T times and goes through ``module`` in ONE forward pass (T x B rows);
    every other layer (BatchNorm above all) stays in the mode it is in (eval when scoring).
    """

    def __init__(self, module, n_samples):
        super().__init__()
        self.module = module
        self.n_samples = n_samples
        self.dropouts = [m for m in module.modules() if isinstance(m, DROPOUT_LAYERS)]
        self.train(module.training)  # score_pool restores this mode on the whole module afterwards

    def forward(self, x):
        modes = [m.training for m in self.dropouts]
        for m in self.dropouts:
            m.train()
        try:
            logits = self.module(x.repeat(self.n_samples, *([1] * (x.ndim - 1))))
        finally:
            for m, mode in zip(self.dropouts, modes):
                m.train(mode)
        logits = logits[0] if isinstance(logits, tuple) else logits
        return logits.reshape(self.n_samples, len(x), -1).transpose(0, 1)


def bald_sampling(classifier, X_pool, n_instances=1, *, subset=None, random_state=None, n_samples=20):
    """The ``n_instances`` highest I(x) = H(mean_t p_t) - mean_t H(p_t) over T = ``n_samples`` MC-dropout passes.

    Needs a network with dropout (the plugin's networks: ``module__dropout=p``, p > 0; the CLI's
    ``bald`` uses 0.3); BatchNorm stays in eval mode. A pool batch is repeated T times per forward
    pass, so memory is T x the evaluation batch: lower the net's ``eval_batch_size`` for large T.
    The dropout masks are seeded from ``random_state`` (inside ``torch.random.fork_rng``: the
    global torch RNG is left as it was). A dropout of p = 0 gives I = 0 for every row (ties: pool order).
    """
    n_samples = check_number(n_samples, "n_samples", integral=True, low=2)  # MC-dropout passes
    rng = check_random_state(random_state)
    dropout_seed = int(rng.randint(2**31 - 1))

    def with_dropout(module):
        sampler = MCDropout(module, n_samples)
        if not sampler.dropouts:
            raise ConfigError(f"bald_sampling needs dropout in the network: build it with module__dropout=p "
                              f"(0 < p < 1, e.g. 0.3), or give {type(module).__name__} an nn.Dropout layer")
        return sampler

    def score(net, X):
        sampler = net.scoring_models([with_dropout])
        device = torch.device(resolve_device(net.device))
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(dropout_seed)
            return net.score_pool(X, mutual_information, sampler)

    return rank_pool(classifier, X_pool, n_instances, subset, rng, score)
