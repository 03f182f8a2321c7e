"""The strategies the CLI knows: query function, the hooks its net must be trained with, and the
auxiliary loss it needs (None: the run's ``--auxiliary``)."""
from dataclasses import dataclass, field

from ..hooks import StepSnapshot
from ..strategies import cod_sampling, ll4al_sampling, random_sampling, tod_sampling


@dataclass(frozen=True)
class StrategySpec:
    query: callable
    hooks: tuple = field(default_factory=tuple)
    auxiliary: str = None

    def make_hooks(self):
        return [hook() for hook in self.hooks]


STRATEGIES = {
    "random": StrategySpec(random_sampling),
    "cod": StrategySpec(cod_sampling),
    "tod": StrategySpec(tod_sampling, (StepSnapshot,)),
    "ll4al": StrategySpec(ll4al_sampling, auxiliary="ll4al"),
}
