"""A Recipe: everything about how a model is trained and fed, as one frozen value.

Baselines declare the recipe their source report used; users change fields with
``--set key=value`` (recorded in the run record as overrides).
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field
from typing import Any, Literal, get_args, get_origin, get_type_hints

import yaml

from benchmark.errors import ConfigError

LossName = Literal["auto", "cross_entropy", "bce", "focal"]
OptimizerName = Literal["adam", "adamw", "sgd"]
ScheduleName = Literal["none", "plateau", "multistep", "rampup_exp"]
SelectOn = Literal["val_loss", "val_auroc"]
Normalization = Literal["fixed", "samplewise"]
Fill = Literal["zeros", "reflection"]


@dataclass(frozen=True)
class Recipe:
    """Training and input settings. ``image_size=None`` means the task's native size."""

    image_size: int | None = None
    in_chans: int = 3
    normalization: Normalization = "fixed"  # fixed mean/std below, or each image centred and scaled by its own
    normalize_mean: tuple[float, ...] = (0.5,)
    normalize_std: tuple[float, ...] = (0.5,)
    loss: LossName = "auto"  # auto: cross-entropy (binary, multiclass) or BCE (multilabel); focal: either, focused
    focal_gamma: float = 2.0
    class_weights: bool = False
    optimizer: OptimizerName = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.9
    schedule: ScheduleName = "none"
    plateau_factor: float = 0.1
    plateau_patience: int = 5
    milestones: tuple[float, ...] = (0.5, 0.75)
    gamma: float = 0.1
    # rampup_exp (Keras-style, seed report 004): linear lr_start -> lr_max over rampup_epochs, lr_max for
    # sustain_epochs, then lr_min + (lr_max - lr_min) * exp_decay ** (epochs since the sustain ended)
    lr_start: float = 1e-5
    lr_max: float = 1e-4
    lr_min: float = 1e-6
    rampup_epochs: int = 5
    sustain_epochs: int = 0
    exp_decay: float = 0.8
    # freeze/unfreeze stages: backbone (all but the classifier) frozen for frozen_epochs (-1: always),
    # then the last unfreeze_fraction of the backbone's parameters train at finetune_lr decaying to finetune_lr_min
    frozen_epochs: int = 0
    unfreeze_fraction: float = 1.0
    finetune_lr: float | None = None
    finetune_lr_min: float | None = None
    # augmentation of training batches on the training device (benchmark.training.augment), parameters per image
    aug_rotation: float = 0.0  # degrees, +-
    aug_hflip: bool = False
    aug_vflip: bool = False
    aug_zoom: float = 0.0  # +- fraction
    aug_shift_x: float = 0.0  # +- fraction of the width
    aug_shift_y: float = 0.0  # +- fraction of the height
    aug_fill: Fill = "zeros"
    aug_brightness: float = 0.0  # +- fraction
    aug_contrast: float = 0.0  # +- fraction
    epochs: int = 10
    steps_per_epoch: int | None = None  # train on only this many batches per epoch (smoke runs)
    batch_size: int = 32
    eval_batch_size: int = 256
    early_stopping_patience: int | None = None
    select_on: SelectOn = "val_loss"
    pretrained_weights: str | None = None
    notes: str = field(default="", compare=False)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def with_overrides(self, overrides: dict[str, Any]) -> Recipe:
        """A copy with ``overrides`` applied; values are type-checked against the fields."""
        hints = get_type_hints(Recipe)
        names = [f.name for f in dataclasses.fields(self)]
        checked: dict[str, Any] = {}
        for key, value in overrides.items():
            if key not in names:
                close = difflib.get_close_matches(key, names, n=2)
                hint = f"did you mean {' or '.join(close)}?" if close else f"fields: {', '.join(names)}"
                raise ConfigError(f"unknown recipe field {key!r}; {hint}")
            checked[key] = _coerce(key, value, hints[key])
        return dataclasses.replace(self, **checked)


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """Parse ``key=value`` strings; values are read as YAML scalars (``1e-3``, ``null``, ``[1,2]``)."""
    result: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set expects key=value, got {pair!r}")
        result[key.strip()] = yaml.safe_load(raw)
    return result


def _coerce(key: str, value: Any, hint: Any) -> Any:
    """Check ``value`` against the field's annotation, converting only lossless cases."""
    origin = get_origin(hint)
    args = get_args(hint)
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{key} must be one of {list(args)}, got {value!r}")
        return value
    if origin is tuple:
        items = value if isinstance(value, list | tuple) else [value]
        return tuple(_coerce(key, item, args[0]) for item in items)
    if args and type(None) in args:  # Optional[X]
        if value is None:
            return None
        inner = next(a for a in args if a is not type(None))
        return _coerce(key, value, inner)
    if hint is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if hint is float and isinstance(value, str):
        try:  # YAML 1.1 reads "1e-4" (no dot) as a string
            return float(value)
        except ValueError:
            pass
    if hint is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if hint is bool and isinstance(value, bool):
        return value
    if hint is str and isinstance(value, str):
        return value
    raise ConfigError(f"{key} expects {getattr(hint, '__name__', hint)}, got {value!r}")
