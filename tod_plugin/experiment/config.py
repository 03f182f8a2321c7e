"""Settings of one experiment (trials x strategies x cycles), validated up front."""
import dataclasses
import numbers
from dataclasses import dataclass

from ..auxiliary import AUXILIARIES, TOD_AUX_WEIGHTS
from ..data import LOADERS
from ..errors import ConfigError
from ..models import MODELS
from .strategies import STRATEGIES


def split_strategy(name):
    """``"cod+tod"`` -> ``("cod", "tod")``: a strategy with its own auxiliary loss; ``"cod"`` -> ``("cod", None)``."""
    base, _, auxiliary = name.partition("+")
    return base, auxiliary or None


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
    auxiliary: str = "none"
    aux_weight: object = None

    def validate(self):
        """Raise :class:`ConfigError` naming the first bad setting and what is accepted."""
        if self.dataset not in LOADERS:
            raise ConfigError(f"unknown dataset {self.dataset!r}; choose one of {sorted(LOADERS)}")
        if not self.strategies:
            raise ConfigError(f"strategy: give at least one of {sorted(STRATEGIES)}")
        for name in self.strategies:
            base, auxiliary = split_strategy(name)
            if base not in STRATEGIES:
                raise ConfigError(f"unknown strategy {base!r}; choose from {', '.join(sorted(STRATEGIES))}"
                                  " (optionally with +tod or +ll4al for an auxiliary loss)")
            if auxiliary is not None and auxiliary not in AUXILIARIES:
                raise ConfigError(f"unknown auxiliary loss {auxiliary!r} in strategy {name!r}; "
                                  f"choose from {', '.join(AUXILIARIES)}")
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
        if self.auxiliary not in AUXILIARIES:
            raise ConfigError(f"auxiliary must be one of {', '.join(AUXILIARIES)}, got {self.auxiliary!r}")
        if self.aux_weight is not None and not (isinstance(self.aux_weight, numbers.Real) and self.aux_weight >= 0):
            raise ConfigError(f"aux_weight must be a number >= 0, got {self.aux_weight!r}")
        if not (self.device in ("auto", "cpu") or str(self.device).startswith("cuda")):
            raise ConfigError(f"device must be 'auto', 'cpu' or 'cuda[:N]', got {self.device!r}")
        return self

    def auxiliary_for(self, strategy):
        """``(auxiliary loss, lambda)`` for a strategy's net: a ``+aux`` suffix, else what the strategy
        needs, else ``--auxiliary``.

        lambda defaults to the dataset's TOD weight (METHODS section 3; 0.02 otherwise) and 1.0 for LL4AL.
        """
        base, suffix = split_strategy(strategy)
        auxiliary = suffix or STRATEGIES[base].auxiliary or self.auxiliary
        if auxiliary == "none":
            return auxiliary, None
        if self.aux_weight is not None:
            return auxiliary, float(self.aux_weight)
        return auxiliary, TOD_AUX_WEIGHTS.get(self.dataset, 0.02) if auxiliary == "tod" else 1.0

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
