"""The papers' protocols as presets (METHODS section 8) with their reported accuracy (section 9).

A preset is a set of :class:`RunConfig` values. ``tod-al run --preset NAME`` starts from them and
any flag given on the command line overrides one; ``config.json`` records the final values.

Counting: ``cycles`` here is the number of queries after the initial fit, so the papers' "7
cycles" (7 label-set sizes, 10% ... 40% of CIFAR-10) is ``cycles=6``.

Common to all (METHODS section 8): SGD momentum 0.9, weight decay 5e-4 (the estimator's defaults),
MultiStepLR x0.1 at ``milestones``, 3 trials; the number reported per cycle is the final-epoch
test accuracy averaged over trials. The TOD presets train COD's net with the TOD unsupervised
loss (``cod+tod``, lambda per dataset) and the random baseline without it, as in the paper.
"""
from dataclasses import dataclass, field, fields

from ..errors import ConfigError
from .config import RunConfig

TOD_PAPER = "Huang et al., Semi-Supervised Active Learning with Temporal Output Discrepancy, ICCV 2021"


@dataclass(frozen=True)
class Preset:
    """``settings``: RunConfig values; ``needs``: settings the user must give (no value can be preset),
    with what to give; ``reported``: accuracy (%) per label-set size (initial + k x query_size,
    k = 0..cycles) as read from the paper's figure (+-0.3); ``reported_extra``: other reported numbers;
    ``reference_choices``: where the reference code differs from this project's defaults, each with
    what this preset does about it (a setting it takes, or why it is not reproduced)."""

    name: str
    summary: str
    settings: dict
    needs: dict = field(default_factory=dict)
    reported: dict = field(default_factory=dict)
    reported_extra: dict = field(default_factory=dict)
    reference_choices: dict = field(default_factory=dict)


def _tod(dataset, initial, query_size, subset, aux_weight, **overrides):
    settings = dict(dataset=dataset, model="resnet18", strategies=("cod+tod", "random"), trials=3, cycles=6,
                    initial=initial, query_size=query_size, subset=subset, epochs=200, milestones=(160,), lr=0.1,
                    batch_size=128, reinit=False, lr_schedule="multistep", auxiliary="none", aux_weight=aux_weight)
    settings.update(overrides)
    return settings


TOD_CIFAR10_REPORTED = {"cod+tod": (79.5, 87.8, 90.2, 92.1, 93.2, 93.8, 94.4),
                        "ll4al": (80.2, 86.7, 89.0, 91.0, 91.4, 92.5, 92.6),
                        "random": (80.0, 85.5, 87.0, 88.6, 89.8, 91.0, 91.1)}

#: The TOD reference code (github.com/siyuhuang/TOD, main_TOD.py) where it differs from our defaults.
TOD_REFERENCE_CHOICES = {
    "first_cycle=lowest": "in cycle 0, while its reference is an untrained network, the reference code labels the "
                          "LOWEST COD scores (ours: highest); set here",
    "cycle-0 COD reference": "the reference compares against a separately initialised network, ours against the "
                             "net's own initial weights; not reproduced (the score is defined against the model's "
                             "earlier state)",
    "EMA teacher start": "the reference's teacher starts from a random network, ours as a copy of the student; "
                         "not reproduced (METHODS section 3)",
    "cycle-0 unlabeled batch": "the reference reuses one fixed unlabeled batch in cycle 0, ours draws a fresh one "
                               "each step; not reproduced (a bug)",
}

PRESETS = {p.name: p for p in (
    Preset(
        "tod-cifar10", f"COD + TOD loss vs random on CIFAR-10 ({TOD_PAPER})",
        _tod("cifar10", 5000, 2500, 25000, 0.02),
        reported=TOD_CIFAR10_REPORTED,
        reported_extra={"full-data accuracy %": 93.1, "query time s (hardware not stated)": {
            "cod": 7.2, "ll4al": 7.7, "vaal": 13.0, "coreset": 91.4}},
    ),
    Preset(
        "tod-cifar10-exact", f"tod-cifar10 with the TOD reference code's own choices where they differ from ours "
                             f"({TOD_PAPER})",
        _tod("cifar10", 5000, 2500, 25000, 0.02, first_cycle="lowest"),
        reported=TOD_CIFAR10_REPORTED,
        reference_choices=TOD_REFERENCE_CHOICES,
    ),
    Preset(
        "tod-cifar100", f"COD + TOD loss vs random on CIFAR-100 ({TOD_PAPER})",
        _tod("cifar100", 5000, 2500, 25000, 0.05),
        reported={"cod+tod": (37.3, 52.9, 58.6, 62.3, 64.9, 66.8, 68.4),
                  "random": (37.3, 44.6, 49.6, 52.0, 56.9, 59.5, 62.2)},
    ),
    Preset(
        "tod-svhn", f"COD + TOD loss vs random on SVHN ({TOD_PAPER})",
        _tod("svhn", 7324, 3662, 29302, 0.005),
        reported={"cod+tod": (92.7, 94.8, 95.2, 95.4, 95.5, 95.7, 95.7),
                  "random": (92.8, 93.7, 94.1, 94.3, 94.6, 94.7, 94.5)},
    ),
    Preset(
        "tod-caltech101", f"COD + TOD loss vs random on Caltech-101, ImageNet-pretrained ResNet-18 ({TOD_PAPER})",
        _tod("caltech101", 868, 434, 4340, 0.1, model="resnet18-imagenet", epochs=50, milestones=(40,), lr=0.01,
             batch_size=64),
        needs={"pretrained": "--pretrained PATH, a local copy of torchvision's ResNet-18 ImageNet weights "
                             "(resnet18-f37072fd.pth)"},
    ),
    Preset(
        "ll4al-cifar10", "Learning loss (Yoo & Kweon, CVPR 2019) on CIFAR-10",
        dict(dataset="cifar10", model="resnet18", strategies=("ll4al",), trials=3, cycles=9, initial=1000,
             query_size=1000, subset=10000, epochs=200, milestones=(160,), lr=0.1, batch_size=128, reinit=False,
             lr_schedule="multistep", auxiliary="ll4al", aux_weight=1.0),
    ),
    Preset(
        "stconal-cifar10", "ST-CoNAL (Baik et al., ACCV 2022) on CIFAR-10, constant LR, re-initialised each cycle",
        dict(dataset="cifar10", model="resnet18", strategies=("stconal",), trials=3, cycles=4, initial=1000,
             query_size=1000, subset=10000, epochs=200, milestones=(), lr=0.1, batch_size=128, reinit=True,
             lr_schedule="constant", auxiliary="none", aux_weight=None),
    ),
    Preset(
        "stconal-cifar100", "ST-CoNAL (Baik et al., ACCV 2022) on CIFAR-100, constant LR, re-initialised each cycle",
        dict(dataset="cifar100", model="resnet18", strategies=("stconal",), trials=3, cycles=4, initial=2000,
             query_size=2000, subset=20000, epochs=200, milestones=(), lr=0.1, batch_size=128, reinit=True,
             lr_schedule="constant", auxiliary="none", aux_weight=None),
    ),
    Preset(
        "bal-cifar10", "BAL (Li et al., TPAMI 2023) on CIFAR-10: CDD-ordered windows, beta 1.2",
        dict(dataset="cifar10", model="resnet18", strategies=("bal",), trials=3, cycles=6, initial="10%",
             query_size="5%", subset=None, beta=1.2, epochs=100, milestones=(30, 60, 90), lr=0.1, batch_size=128,
             reinit=False, lr_schedule="multistep", auxiliary="none", aux_weight=None),
    ),
)}


def get_preset(name):
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)} (tod-al presets lists them)")
    return PRESETS[name]


def apply_preset(name, settings, explicit=()):
    """``settings`` (RunConfig keyword arguments) with the preset's value for every key not in ``explicit``
    (the flags the user gave), plus ``preset=name``; a setting the preset ``needs`` must be given."""
    preset = get_preset(name)
    known = {f.name for f in fields(RunConfig)}
    unknown = sorted(set(preset.settings) - known)
    if unknown:
        raise ConfigError(f"preset {name!r} sets {', '.join(unknown)}, which this version's RunConfig does not have")
    merged = {**settings, **{k: v for k, v in preset.settings.items() if k not in explicit}, "preset": name}
    for key, hint in preset.needs.items():
        if merged.get(key) is None:
            raise ConfigError(f"preset {name!r} needs {hint}")
    return merged


def labels_axis(preset):
    """Label-set sizes of the reported points: initial + k x query_size, k = 0..cycles (None for percentages)."""
    initial, query_size = preset.settings["initial"], preset.settings["query_size"]
    if isinstance(initial, str) or isinstance(query_size, str):
        return None
    return tuple(initial + k * query_size for k in range(preset.settings["cycles"] + 1))
