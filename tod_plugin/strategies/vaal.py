"""VAAL: a VAE and a discriminator trained adversarially on labeled vs unlabeled images; query what
the discriminator is surest is unlabeled.

Sinha, Ebrahimi, Darrell, "Variational Adversarial Active Learning", ICCV 2019.
"""
import hashlib
import io
import json
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from torch.nn import functional as F

from ..atomic import atomic_write_bytes
from ..device import resolve_device
from ..errors import ConfigError
from ..modal_compat import query_result
from ..models.vae import VAE, LatentDiscriminator
from ..pretext import row_keys
from ._common import candidates, check_n_instances, check_sampler_param, pool_size, resolve_net, top

PAPER_SETTINGS = {"epochs": 100, "batch_size": 128, "width": 128, "latent_dim": 32, "lr": 5e-4, "vae_steps": 2}


class VAALSampler(BaseEstimator):
    """VAAL as a modAL query strategy: ``ActiveLearner(..., query_strategy=VAALSampler())``.

    Every call trains a fresh beta-VAE (``latent_dim``, ``width``; :mod:`tod_plugin.models.vae`)
    and discriminator D on the labeled rows (the learner's ``X_training`` or ``X_labeled``) and
    the pool, for ``epochs`` x (labeled + pool) / ``batch_size`` steps. Each step draws a labeled
    and an unlabeled batch; ``vae_steps`` VAE updates minimise, on both batches,
    MSE(reconstruction, x) + ``beta`` KL(q(z|x) || N(0, I)) + ``adversary_weight`` x BCE(D(mu), 1)
    (the VAE tries to make D call every latent labeled), then one D update minimises
    BCE(D(mu_l), 1) + BCE(D(mu_u), 0); Adam at ``lr`` for both. It then picks the candidates (a
    random ``subset`` of the pool, None: all) with the LOWEST D(mu(x)); returned scores are
    1 - D(mu(x)), highest first. Images are prepared as the task net's inputs (normalisation, no
    augmentation). The VAE ignores the task model.

    Defaults are a scaled-down CPU setting (10 epochs, batch 64, width 32, 1 VAE step); the paper's
    are ``PAPER_SETTINGS`` (100 epochs over the data per cycle for CIFAR, batch 128, width 128, 2
    VAE steps). Seeds come from the call's ``random_state`` (else the sampler's).
    ``cache``: a ``.pt`` path; the trained VAE and D of the latest call are written there
    (atomically) with a key of the settings, seed and rows, and reused when a call has the same key
    (a resumed run repeating a query does not train again). Loaded with ``weights_only=True``.
    """

    def __init__(self, epochs=10, batch_size=64, latent_dim=32, width=32, lr=5e-4, beta=1.0, adversary_weight=1.0,
                 vae_steps=1, cache=None, random_state=None):
        self.epochs = epochs
        self.batch_size = batch_size
        self.latent_dim = latent_dim
        self.width = width
        self.lr = lr
        self.beta = beta
        self.adversary_weight = adversary_weight
        self.vae_steps = vae_steps
        self.cache = cache
        self.random_state = random_state

    def __call__(self, classifier, X_pool, n_instances=1, *, subset=None, random_state=None, X_labeled=None):
        self._check_params()
        n_pool = pool_size(X_pool)
        n_instances = check_n_instances(n_instances, n_pool)
        net, X = resolve_net(classifier, X_pool)
        X_labeled = getattr(classifier, "X_training", None) if X_labeled is None else X_labeled
        if X_labeled is None or len(X_labeled) == 0:
            raise ConfigError("VAALSampler needs the labeled images: use it in a modAL learner (X_training) or "
                              "give X_labeled=...")
        X_labeled = _through_pipeline(classifier, X_labeled)
        rng = check_random_state(self.random_state if random_state is None else random_state)
        rows = candidates(n_pool, n_instances, subset, rng)
        seed = int(rng.randint(2**31 - 1))
        vae, discriminator = self._trained(net, X_labeled, X, seed)
        scores = 1.0 - self._discriminate(net, vae, discriminator, X[rows] if len(rows) < n_pool else X)
        best = top(scores, n_instances)
        return query_result(rows[best], scores[best])

    def _check_params(self):
        for name in ("epochs", "batch_size", "latent_dim", "width", "vae_steps"):
            check_sampler_param("VAALSampler", name, getattr(self, name), integral=True)
        check_sampler_param("VAALSampler", "lr", self.lr)
        for name in ("beta", "adversary_weight"):
            check_sampler_param("VAALSampler", name, getattr(self, name), minimum=0)

    def _networks(self, X, device):
        shape = np.shape(X)[1:]
        if len(shape) != 3:
            raise ConfigError(f"VAALSampler needs images (N, C, H, W); got rows of shape {shape}")
        vae = VAE(shape[0], shape[1:], self.latent_dim, self.width).to(device)
        return vae, LatentDiscriminator(self.latent_dim).to(device)

    def _key(self, X_labeled, X, seed):
        settings = {k: v for k, v in self.get_params().items() if k not in ("cache", "random_state")}
        digest = hashlib.sha256(json.dumps({**settings, "seed": seed}, sort_keys=True).encode())
        for rows in (X_labeled, X):
            digest.update(np.sort(row_keys(np.asarray(rows))).tobytes())
        return digest.hexdigest()

    def _trained(self, net, X_labeled, X, seed):
        device = torch.device(resolve_device(net.device))
        key = self._key(X_labeled, X, seed) if self.cache is not None else None
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(seed)
            vae, discriminator = self._networks(X, device)
        saved = self._load(key)
        if saved is not None:
            vae.load_state_dict(saved["vae"])
            discriminator.load_state_dict(saved["discriminator"])
            return vae, discriminator
        self._train(net, vae, discriminator, X_labeled, X, torch.Generator(device).manual_seed(seed))
        self._save(key, vae, discriminator)
        return vae, discriminator

    def _train(self, net, vae, discriminator, X_labeled, X, generator):
        prepare = net.batch_preparer
        vae_optimizer = torch.optim.Adam(vae.parameters(), lr=self.lr)
        discriminator_optimizer = torch.optim.Adam(discriminator.parameters(), lr=self.lr)
        steps = max(1, self.epochs * (len(X_labeled) + len(X)) // self.batch_size)
        vae.train()
        discriminator.train()
        for _ in range(steps):
            x_l = prepare(_batch(X_labeled, self.batch_size, generator), training=False)
            x_u = prepare(_batch(X, self.batch_size, generator), training=False)
            for _ in range(self.vae_steps):
                loss = 0.0
                for x in (x_l, x_u):
                    noise = torch.randn(len(x), self.latent_dim, generator=generator, device=x.device)
                    reconstruction, _, mu, logvar = vae(x, noise)
                    kl = -0.5 * torch.mean(torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=1))
                    fooled = F.binary_cross_entropy_with_logits(discriminator(mu), torch.ones(len(x), device=x.device))
                    loss = loss + F.mse_loss(reconstruction, x) + self.beta * kl + self.adversary_weight * fooled
                vae_optimizer.zero_grad()
                loss.backward()
                vae_optimizer.step()
            with torch.no_grad():
                mu_l, mu_u = vae.encode(x_l)[0], vae.encode(x_u)[0]
            d_loss = (F.binary_cross_entropy_with_logits(discriminator(mu_l), torch.ones(len(mu_l), device=mu_l.device))
                      + F.binary_cross_entropy_with_logits(discriminator(mu_u),
                                                           torch.zeros(len(mu_u), device=mu_u.device)))
            discriminator_optimizer.zero_grad()
            d_loss.backward()
            discriminator_optimizer.step()

    @staticmethod
    def _discriminate(net, vae, discriminator, X):
        """D(mu(x)) of every row of ``X``, float64 (N,), in eval mode."""
        vae.eval()
        discriminator.eval()
        with torch.inference_mode():
            out = [torch.sigmoid(discriminator(vae.encode(x)[0])).double().cpu() for x in net.iter_batches(X)]
        return torch.cat(out).numpy()

    def _load(self, key):
        if key is None or not Path(self.cache).is_file():
            return None
        try:
            saved = torch.load(self.cache, map_location="cpu", weights_only=True)
        except Exception:  # a damaged or foreign file: train again (and overwrite it)
            return None
        return saved if isinstance(saved, dict) and saved.get("key") == key else None

    def _save(self, key, vae, discriminator):
        if key is None:
            return

        buffer = io.BytesIO()
        torch.save({"key": key, "vae": {k: v.cpu() for k, v in vae.state_dict().items()},
                    "discriminator": {k: v.cpu() for k, v in discriminator.state_dict().items()}}, buffer)
        Path(self.cache).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(self.cache, buffer.getvalue())


def _batch(X, batch_size, generator):
    """``batch_size`` rows of ``X`` drawn uniformly with replacement, as a tensor."""
    rows = torch.randint(len(X), (min(batch_size, len(X)),), generator=generator, device=generator.device)
    return torch.as_tensor(np.asarray(X[np.sort(rows.cpu().numpy())]))


def _through_pipeline(classifier, X):
    estimator = getattr(classifier, "estimator", classifier)
    if hasattr(estimator, "steps") and len(estimator.steps) > 1:
        return estimator[:-1].transform(X)
    return X
