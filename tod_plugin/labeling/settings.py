"""A labeling project's settings: what ``tod-al init`` records in ``settings.json``, checked on every load.

The file is plain JSON and is validated field by field when read, so a settings file from
elsewhere can hold nothing but these values. The network is rebuilt from ``model`` (a name in
``tod_plugin.models.MODELS``); the default is the one ``tod-al run`` uses.
"""
import dataclasses
import numbers
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from ..experiment.config import RunConfig

SCHEMA_VERSION = 1
DEFAULT_MODEL = RunConfig.model
DEFAULT_STRATEGY = "cod"
SMALL = 64  # images up to this side get a random crop with zero padding in training


def default_image_size(model):
    """224 for the ImageNet ResNet, 32 (CIFAR's size) for the CPU models."""
    return 224 if model == "resnet18-imagenet" else 32


@dataclass
class ProjectSettings:
    """What stays fixed over a project's life (the classes, which ``teach --add-class`` extends, live
    in the project's state). ``mean`` / ``std`` normalise images scaled to [0, 1]; they are measured
    on the pool at ``init``."""

    images: str
    model: str = DEFAULT_MODEL
    pretrained: object = None
    strategy: str = DEFAULT_STRATEGY
    image_size: object = None
    epochs: int = 20
    lr: float = 0.05
    batch_size: object = "auto"
    device: str = "auto"
    seed: int = 0
    hflip: bool = True
    mean: tuple = (0.5, 0.5, 0.5)
    std: tuple = (0.25, 0.25, 0.25)

    def validate(self):
        """Raise :class:`ConfigError` naming the first bad setting and what is accepted; return self."""
        if not isinstance(self.images, str) or not self.images:
            raise ConfigError(f"images must be a folder, got {self.images!r}")
        if self.image_size is None:
            self.image_size = default_image_size(self.model)
        self.run_config().validate()  # the checks and messages of tod-al run: strategy, model, weights, numbers, device
        if not isinstance(self.hflip, bool):
            raise ConfigError(f"hflip must be true or false, got {self.hflip!r}")
        for name in ("mean", "std"):
            value = getattr(self, name)
            if not (isinstance(value, (list, tuple)) and len(value) == 3
                    and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value)):
                raise ConfigError(f"{name} must be 3 numbers (one per RGB channel), got {value!r}")
            setattr(self, name, tuple(float(v) for v in value))
        if min(self.std) <= 0:
            raise ConfigError(f"std must be positive, got {self.std!r}")
        return self

    @property
    def images_folder(self):
        return Path(self.images)

    @property
    def crop_padding(self):
        """Zero padding of the training random crop: 1/8 of the side up to 64 px (CIFAR's 4 px at 32,
        the digits' 1 px at 8), none above (as ``imagefolder:`` datasets)."""
        return max(1, round(self.image_size / 8)) if self.image_size <= SMALL else 0

    def run_config(self):
        """These settings as the ``RunConfig`` that ``tod-al run``'s network builder and strategies read."""
        return RunConfig(dataset=f"imagefolder:{self.images}", strategies=(self.strategy,), model=self.model,
                         pretrained=self.pretrained, epochs=self.epochs, lr=self.lr, batch_size=self.batch_size,
                         device=self.device, seed=self.seed, image_size=self.image_size)

    def to_dict(self):
        return {"schema_version": SCHEMA_VERSION, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, data, source="settings.json"):
        """Settings from ``settings.json``: a JSON object of exactly these fields, validated."""
        if not isinstance(data, dict):
            raise ConfigError(f"{source} must hold a JSON object, got {type(data).__name__}")
        data = dict(data)
        version = data.pop("schema_version", None)
        if version != SCHEMA_VERSION:
            raise ConfigError(f"{source} has schema {version!r}; this tod-plugin reads schema {SCHEMA_VERSION}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown or "images" not in data:
            raise ConfigError(f"{source} has unknown settings {unknown}" if unknown else f"{source} names no images")
        return cls(**data).validate()

