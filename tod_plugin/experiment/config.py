"""Settings of one experiment (trials x strategies x cycles), validated up front."""
import dataclasses
import numbers
from dataclasses import dataclass

from ..data import LOADERS
from ..errors import ConfigError
from ..models import MODELS
from .strategies import STRATEGIES


def parse_budget(value, name):
    """``"10%"`` (of the pool) or a positive int, as given on the command line."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        if value < 1:
            raise ConfigError(f"{name} must be a positive int or a percentage like '10%', got {value}")
        return int(value)
    text = str(value).strip()
    try:
        if text.endswith("%"):
            percent = float(text[:-1])
            if not 0 < percent <= 100:
                raise ValueError
            return text
        return parse_budget(int(text), name)
    except ValueError:
        raise ConfigError(f"{name} must be a positive int or a percentage like '10%', got {value!r}") from None


def resolve_budget(value, n_pool):
    """An int budget from ``parse_budget``'s value for a pool of ``n_pool`` (at least 1)."""
    if isinstance(value, str):
        return max(1, int(round(float(value[:-1]) / 100.0 * n_pool)))
    return value


@dataclass
class RunConfig:
    dataset: str = "digits"
    strategies: tuple = ("cod", "random")
    trials: int = 3
    cycles: int = 6
    initial: object = "10%"
    query_size: object = "5%"
    subset: object = None
    epochs: int = 20
    lr: float = 0.05
    batch_size: object = "auto"
    model: str = "smallcnn"
    seed: int = 0
    device: str = "auto"

    def validate(self):
        """Raise :class:`ConfigError` naming the first bad setting and what is accepted."""
        if self.dataset not in LOADERS:
            raise ConfigError(f"unknown dataset {self.dataset!r}; choose one of {sorted(LOADERS)}")
        if not self.strategies:
            raise ConfigError(f"strategy: give at least one of {sorted(STRATEGIES)}")
        for name in self.strategies:
            if name not in STRATEGIES:
                raise ConfigError(f"unknown strategy {name!r}; choose from {', '.join(sorted(STRATEGIES))}")
        if len(set(self.strategies)) != len(self.strategies):
            raise ConfigError(f"strategy: each strategy once, got {','.join(self.strategies)}")
        if self.model not in MODELS or self.model == "mlp":
            raise ConfigError(f"unknown model {self.model!r}; choose one of ['resnet18', 'smallcnn']")
        for name in ("trials", "epochs"):
            _positive_int(getattr(self, name), name)
        _positive_int(self.cycles, "cycles", minimum=0)
        _positive_int(self.seed, "seed", minimum=0)
        self.initial = parse_budget(self.initial, "initial")
        self.query_size = parse_budget(self.query_size, "query_size")
        if self.subset is not None:
            _positive_int(self.subset, "subset")
        if self.batch_size != "auto":
            _positive_int(self.batch_size, "batch_size")
        if not (isinstance(self.lr, numbers.Real) and self.lr > 0):
            raise ConfigError(f"lr must be a positive number, got {self.lr!r}")
        if not (self.device in ("auto", "cpu") or str(self.device).startswith("cuda")):
            raise ConfigError(f"device must be 'auto', 'cpu' or 'cuda[:N]', got {self.device!r}")
        return self

    def budget(self, n_pool):
        """``(initial, query_size)`` as counts for a pool of ``n_pool``; refuses budgets past the pool."""
        initial = resolve_budget(self.initial, n_pool)
        query_size = resolve_budget(self.query_size, n_pool)
        if initial + self.cycles * query_size > n_pool:
            raise ConfigError(
                f"initial ({initial}) + cycles ({self.cycles}) x query_size ({query_size}) is more than the "
                f"pool ({n_pool}); lower --cycles, --initial or --query-size"
            )
        return initial, query_size

    def to_dict(self):
        data = dataclasses.asdict(self)
        data["strategies"] = list(self.strategies)
        return data


def _positive_int(value, name, minimum=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ConfigError(f"{name} must be an int >= {minimum}, got {value!r}")
