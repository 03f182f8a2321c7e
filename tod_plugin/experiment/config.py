"""Settings of one experiment (trials x strategies x cycles), validated up front."""
import dataclasses
import numbers
from dataclasses import dataclass

import torch

from ..auxiliary import AUXILIARIES, resolve_auxiliary
from ..data import check_dataset_name
from ..errors import ConfigError
from ..lr_schedules import LR_SCHEDULES
from ..models import MODELS
from ..precision import check_precision
from ..strategies.discrepancy import FIRST_CYCLE_RULES
from ..validation import MAX_SEED, check_number
from ..models.imagenet_resnet import read_resnet18_state
from .strategies import STRATEGIES

#: config.json's record of which strategies start from their own initial labeled set ("own": BAL,
#: PT4AL) and which from the trial's shared random one ("shared").
INITIAL_SETS = "initial_sets"


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
    model: str = "layoutcnn"
    seed: int = 0
    device: str = "auto"
    auxiliary: str = "none"
    aux_weight: object = None
    preset: object = None
    data_dir: object = None
    download: bool = False
    pretrained: object = None
    freeze_backbone: bool = False
    milestones: object = None
    image_size: object = None
    beta: float = 1.2
    reinit: object = None
    lr_schedule: str = "multistep"
    precision: str = "auto"
    compile: bool = False
    bal_stride: object = None
    pretext_epochs: object = None
    first_cycle: str = "highest"
    dropout: object = None

    def validate(self):
        """Raise :class:`ConfigError` naming the first bad setting and what is accepted."""
        for name in ("dataset", "preset", "data_dir", "pretrained"):
            value = getattr(self, name)
            if not (isinstance(value, str) or (value is None and name != "dataset")):
                raise ConfigError(f"{name} must be {'a' if name == 'dataset' else 'null or a'} string, got {value!r}")
        check_dataset_name(self.dataset)
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
            raise ConfigError(f"unknown model {self.model!r}; choose one of {sorted(set(MODELS) - {'mlp'})}")
        self._validate_weights_and_schedule()
        for name in ("trials", "epochs"):
            _positive_int(getattr(self, name), name)
        _positive_int(self.cycles, "cycles", minimum=0)
        _positive_int(self.seed, "seed", minimum=0)
        if self.seed + self.trials - 1 > MAX_SEED:  # trials and seed are ints by now
            raise ConfigError(f"seed + trials - 1 must be <= {MAX_SEED} (trial t uses seed + t), got seed {self.seed} "
                              f"with {self.trials} trials")
        self.initial = parse_budget(self.initial, "initial")
        self.query_size = parse_budget(self.query_size, "query_size")
        if self.subset is not None:
            _positive_int(self.subset, "subset")
        if self.batch_size != "auto":
            _positive_int(self.batch_size, "batch_size")
        check_number(self.lr, "lr", low=0, low_open=True)
        if self.auxiliary not in AUXILIARIES:
            raise ConfigError(f"auxiliary must be one of {', '.join(AUXILIARIES)}, got {self.auxiliary!r}")
        if self.aux_weight is not None:  # None: the loss's default
            check_number(self.aux_weight, "aux_weight", low=0)
        check_device(self.device)
        self._validate_sampling_protocol()
        self._validate_reference_protocols()
        check_precision(self.precision)
        if not isinstance(self.compile, bool):
            raise ConfigError(f"compile must be true or false, got {self.compile!r}")
        return self

    def _validate_sampling_protocol(self):
        """``beta``: BAL's balance factor (> 0); ``reinit``: None (each strategy's protocol: ST-CoNAL
        re-initialises, the others continue training) or a bool for all; ``dropout``: None (each
        strategy's: BALD 0.3, others none) or p in [0, 1) for all; ``lr_schedule``: see
        ``tod_plugin.lr_schedules``."""
        check_number(self.beta, "beta", low=0, low_open=True)
        if self.reinit not in (None, True, False):
            raise ConfigError(f"reinit must be true, false or null (the strategy's protocol), got {self.reinit!r}")
        if self.dropout is not None:  # None: the strategy's
            check_number(self.dropout, "dropout", low=0, high=1, high_open=True)
        self._check_bald_dropout()
        if self.lr_schedule not in LR_SCHEDULES:
            raise ConfigError(f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {self.lr_schedule!r}")

    def _validate_reference_protocols(self):
        """``bal_stride``: BAL's window stride, a count or a percentage of the pool (None: the query
        size); ``pretext_epochs``: the BAL / PT4AL rotation pretext's epochs (None: each reference's,
        120 / 15); ``first_cycle``: COD's pick while its reference is the untrained net."""
        if self.bal_stride is not None:
            self.bal_stride = parse_budget(self.bal_stride, "bal_stride")
        if self.pretext_epochs is not None:
            _positive_int(self.pretext_epochs, "pretext_epochs")
        if self.first_cycle not in FIRST_CYCLE_RULES:
            raise ConfigError(f"first_cycle must be one of {', '.join(FIRST_CYCLE_RULES)}, got {self.first_cycle!r}")

    def bal_stride_for(self, n_pool):
        """BAL's window stride as a count for a pool of ``n_pool`` (None: each query's size)."""
        return None if self.bal_stride is None else resolve_budget(self.bal_stride, n_pool)
    def _check_bald_dropout(self):
        for name in self.strategies:
            if split_strategy(name)[0] == "bald" and not self.dropout_for(name):
                raise ConfigError(f"strategy {name!r} needs dropout: give --dropout p with 0 < p < 1 "
                                  "(or leave it out: 0.3)")

    def dropout_for(self, strategy):
        """The dropout before the classifier of the strategy's net: ``dropout``, else its own (BALD 0.3)."""
        return STRATEGIES[split_strategy(strategy)[0]].dropout if self.dropout is None else float(self.dropout)

    def reinit_for(self, strategy):
        """Whether the strategy's net is re-initialised every cycle: ``reinit``, else its protocol's default."""
        return STRATEGIES[split_strategy(strategy)[0]].reinit if self.reinit is None else bool(self.reinit)

    def _validate_weights_and_schedule(self):
        """``pretrained``: a torchvision ResNet-18 state dict, only for resnet18-imagenet;
        ``freeze_backbone``: train only its heads (needs ``pretrained``); ``milestones``:
        increasing epochs where the LR drops x0.1 (None: at 80% of the epochs; empty: constant LR);
        ``image_size``: side of the stored images of datasets resized at load time (None: 224)."""
        if self.pretrained is not None:
            if self.model != "resnet18-imagenet":
                raise ConfigError(f"pretrained: ImageNet weights fit only --model resnet18-imagenet, "
                                  f"not {self.model!r}")
            read_resnet18_state(self.pretrained)
        if not isinstance(self.freeze_backbone, bool):
            raise ConfigError(f"freeze_backbone must be true or false, got {self.freeze_backbone!r}")
        if self.freeze_backbone and self.pretrained is None:
            raise ConfigError("freeze_backbone needs ImageNet weights: give --model resnet18-imagenet --pretrained FILE "
                              "(a frozen random backbone learns nothing)")
        if self.milestones is not None:
            self.milestones = tuple(self.milestones)
            for value in self.milestones:
                _positive_int(value, "milestones")
            if list(self.milestones) != sorted(set(self.milestones)):
                raise ConfigError(f"milestones must be increasing epochs, got {list(self.milestones)}")
        if self.image_size is not None:
            _positive_int(self.image_size, "image_size")

    def auxiliary_for(self, strategy):
        """``(auxiliary loss, lambda)`` for a strategy's net: a ``+aux`` suffix, else what the strategy
        needs, else ``--auxiliary``.

        lambda defaults to the dataset's TOD weight (METHODS section 3; 0.02 otherwise) and 1.0 for LL4AL.
        """
        base, suffix = split_strategy(strategy)
        auxiliary = suffix or STRATEGIES[base].auxiliary or self.auxiliary
        loss = resolve_auxiliary(auxiliary)
        if loss.default_weight is None:  # no auxiliary loss
            return auxiliary, None
        if self.aux_weight is not None:
            return auxiliary, float(self.aux_weight)
        return auxiliary, loss.dataset_weights.get(self.dataset, loss.default_weight)

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
        if self.milestones is not None:
            data["milestones"] = list(self.milestones)
        data[INITIAL_SETS] = {name: "own" if STRATEGIES[split_strategy(name)[0]].own_initial else "shared"
                              for name in self.strategies}
        return data

    @classmethod
    def from_dict(cls, data):
        """Settings from a run folder's config.json (unknown keys are an error)."""
        names = {f.name for f in dataclasses.fields(cls)} | {INITIAL_SETS}  # derived, recorded for the reader
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(f"config.json has settings this version does not know: {', '.join(unknown)}")
        values = dict(data)
        values.pop(INITIAL_SETS, None)
        if "strategies" in values:
            values["strategies"] = tuple(values["strategies"])
        return cls(**values).validate()

    def resumed_with(self, overrides):
        """These (stored) settings, refusing ``overrides`` that change them; lists every difference."""
        changed = self.to_dict()
        changed.update(overrides)
        changed = RunConfig.from_dict(changed).to_dict()
        stored = self.to_dict()
        differences = [f"{name}: {stored[name]!r} in the folder, {changed[name]!r} given"
                       for name in stored if changed[name] != stored[name]]
        if differences:
            raise ConfigError("--resume with settings that differ from the run folder's config.json: "
                              + "; ".join(differences) + ". Drop those flags or start a new --out folder")
        return self


def _positive_int(value, name, minimum=1):
    check_number(value, name, integral=True, low=minimum)


def check_device(device):
    """'auto', 'cpu' or 'cuda[:N]' (the form only: a Ray cluster's GPUs are checked by ``backends.ray``)."""
    text = str(device)
    index = text[len("cuda:"):] if text.startswith("cuda:") else None
    if not (text in ("auto", "cpu", "cuda") or (index is not None and index.isdigit())):
        raise ConfigError(f"device must be 'auto', 'cpu' or 'cuda[:N]', got {device!r}")


def check_device_here(device):
    """``device`` names a GPU this machine has (runs on this machine: sequential, ``--workers``, torchrun)."""
    text = str(device)
    if text.startswith("cuda"):
        count = torch.cuda.device_count()
        if count == 0:
            raise ConfigError(f"device {text!r}: no CUDA GPU is available here; use --device cpu (or auto)")
        if text.startswith("cuda:") and int(text[len("cuda:"):]) >= count:
            raise ConfigError(f"device {text!r}: this machine has {count} CUDA GPU(s), cuda:0 to cuda:{count - 1}")
