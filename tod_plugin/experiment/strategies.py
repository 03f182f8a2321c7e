"""The strategies the CLI knows: query function plus the hooks its net must be trained with."""
from dataclasses import dataclass, field

from ..hooks import StepSnapshot
from ..strategies import cod_sampling, random_sampling, tod_sampling


@dataclass(frozen=True)
class StrategySpec:
    query: callable
    hooks: tuple = field(default_factory=tuple)

    def make_hooks(self):
        return [hook() for hook in self.hooks]


STRATEGIES = {
    "random": StrategySpec(random_sampling),
    "cod": StrategySpec(cod_sampling),
    "tod": StrategySpec(tod_sampling, (StepSnapshot,)),
}
