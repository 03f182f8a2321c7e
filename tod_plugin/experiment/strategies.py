"""The strategies the CLI knows: query function, the hooks its net must be trained with, the
auxiliary loss it needs (None: the run's ``--auxiliary``), whether its protocol re-initialises the
net every cycle (ST-CoNAL), the dropout before its classifier (BALD), whether its query is made per
trial from the settings (COD's sampler with its cycle-0 rule and output cache; the stateful BAL,
PT4AL, TypiClust, ProbCover, VAAL and auto samplers) and whether it chooses its own initial labeled
set (BAL and PT4AL, as their references do; the others share one random set per trial)."""
from dataclasses import dataclass, field

from ..hooks import EpochSnapshots, StepSnapshot, snapshot_plan
from ..strategies import (BALSampler, BudgetAwareSampler, CODSampler, PT4ALSampler, ProbCoverSampler,
                          TypiClustSampler, VAALSampler, badge_sampling, bald_sampling, coreset_sampling,
                          entropy_sampling, least_confidence_sampling, ll4al_sampling, margin_sampling, random_sampling,
                          stconal_sampling, tod_sampling)


@dataclass(frozen=True)
class StrategySpec:
    query: callable
    hooks: tuple = field(default_factory=tuple)
    auxiliary: str = None
    reinit: bool = False
    per_trial: bool = False
    own_initial: bool = False
    dropout: float = 0.0

    def make_hooks(self, config=None):
        """``hooks`` holds hook classes (made with their defaults) and functions ``hook(config)``."""
        return [hook() if isinstance(hook, type) else hook(config) for hook in self.hooks]

    def make_query(self, config, seed, cache_path, n_pool):
        """The query strategy of one trial: ``query`` itself, or with ``per_trial`` the query
        ``query(config, seed, cache_path, n_pool)`` makes (a stateful sampler caches what it learns
        of the pool at ``cache_path``). With ``own_initial`` it has ``initial_indices(net, X, n)``."""
        return self.query(config, seed, cache_path, n_pool) if self.per_trial else self.query


def _epoch_snapshots(teacher):
    """ST-CoNAL's hook with the paper's 160 / 10 of 200 epochs scaled to ``config.epochs``."""

    def make(config):
        start, every = snapshot_plan(config.epochs)
        return EpochSnapshots(start=start, every=every, teacher=teacher)

    return make


def _cod(config, seed, cache_path, n_pool):
    """COD with the run's cycle-0 rule (``--first-cycle``); its output cache is saved in the checkpoints."""
    return CODSampler(first_cycle=config.first_cycle)


def _pretext_epochs(config):
    """``--pretext-epochs`` when given, else the sampler's own reference default."""
    return {} if config.pretext_epochs is None else {"pretext_epochs": config.pretext_epochs}


def _bal_sampler(config, seed, cache_path, n_pool):
    """BAL as the reference: 120 pretext epochs; window stride ``--bal-stride`` (default the query size)."""
    return BALSampler(beta=config.beta, stride=config.bal_stride_for(n_pool), cache=cache_path, random_state=seed,
                      **_pretext_epochs(config))


def _pt4al_sampler(config, seed, cache_path, n_pool):
    """PT4AL as the reference: 15 pretext epochs; one batch of the loss order for the initial set and one
    per query (``cycles + 1`` batches)."""
    return PT4ALSampler(n_batches=config.cycles + 1, cache=cache_path, random_state=seed, **_pretext_epochs(config))


def _pretext_features(sampler_class):
    """TypiClust / ProbCover on the rotation pretext's features, trained as many epochs as the task;
    both read and write one cache per trial (``pretext-features_trialT.npz``), so they share it."""

    def make(config, seed, cache_path, n_pool):
        cache = cache_path.with_name("pretext-features_" + cache_path.name.rpartition("_")[2])
        return sampler_class(pretext_epochs=config.epochs, cache=cache, random_state=seed)

    return make


def _vaal_sampler(config, seed, cache_path, n_pool):
    """VAAL's scaled-down CPU default (:class:`VAALSampler`) with min(10, task epochs) epochs per query,
    its networks cached per trial."""
    return VAALSampler(epochs=min(10, config.epochs), cache=cache_path.with_suffix(".pt"), random_state=seed)


def _auto_sampler(config, seed, cache_path, n_pool):
    """TypiClust below 10 labels per class (sharing TypiClust's pretext cache), BADGE from there."""
    return BudgetAwareSampler(low_budget=_pretext_features(TypiClustSampler)(config, seed, cache_path, n_pool),
                              random_state=seed)


STRATEGIES = {
    "random": StrategySpec(random_sampling),
    "cod": StrategySpec(_cod, per_trial=True),
    "tod": StrategySpec(tod_sampling, (StepSnapshot,)),
    "ll4al": StrategySpec(ll4al_sampling, auxiliary="ll4al"),
    "stconal": StrategySpec(stconal_sampling, (_epoch_snapshots("mean"),), reinit=True),
    "stconal-ema": StrategySpec(stconal_sampling, (_epoch_snapshots("ema"),), reinit=True),
    "bal": StrategySpec(_bal_sampler, per_trial=True, own_initial=True),
    "pt4al": StrategySpec(_pt4al_sampler, per_trial=True, own_initial=True),
    "coreset": StrategySpec(coreset_sampling),
    "entropy": StrategySpec(entropy_sampling),
    "margin": StrategySpec(margin_sampling),
    "least-confidence": StrategySpec(least_confidence_sampling),
    "bald": StrategySpec(bald_sampling, dropout=0.3),
    "badge": StrategySpec(badge_sampling),
    "vaal": StrategySpec(_vaal_sampler, per_trial=True),
    "typiclust": StrategySpec(_pretext_features(TypiClustSampler), per_trial=True),
    "probcover": StrategySpec(_pretext_features(ProbCoverSampler), per_trial=True),
    "auto": StrategySpec(_auto_sampler, per_trial=True),
}
