"""A Recipe: everything about how a model is trained and fed, as one frozen value.

Baselines declare the recipe their source report used; users change fields with
``--set key=value`` (recorded in the run record as overrides).

A Recipe validates itself when it is made, however it is made (a baseline's or a plugin's
``Recipe(...)``, ``with_overrides`` for ``--set`` and ``--epochs``, ``dataclasses.replace``): every
field is type-checked against its annotation and every number against the range its field declares
(``_in(default, range)`` below; floats must also be finite), so a value that would make a run
degenerate (no epoch, an empty batch, a negative or NaN learning rate) stops as a ConfigError that
names the field, the value and what is allowed, before any data is read.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import math
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

RANGE = "range"  # the key of a field's allowed Range in its dataclass metadata


@dataclass(frozen=True)
class Range:
    """An interval of allowed numbers; a ``None`` end is unbounded, an open end excluded."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def admits(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def __str__(self) -> str:
        low, high = _number(self.low), _number(self.high)
        if self.high is None:
            return f"{'>' if self.low_open else '>='} {low}"
        return f"in {'(' if self.low_open else '['}{low}, {high}{')' if self.high_open else ']'}"


POSITIVE = Range(0, low_open=True)
NON_NEGATIVE = Range(0)
AT_LEAST_ONE = Range(1)
UNIT = Range(0, 1)  # a fraction, 0 and 1 included
SEEDS = Range(0, 2**32, high_open=True)
"""Training seeds: what every consumer takes (torch.manual_seed, NumPy's legacy RandomState as Ray
Tune's search uses it, the seed arithmetic of the loop and of pretraining), with room to spare."""


def _in(default: Any, allowed: Range) -> Any:
    """A field whose numbers (each item of a tuple) must lie in ``allowed``; None passes where the
    annotation allows it."""
    return field(default=default, metadata={RANGE: allowed})


@dataclass(frozen=True)
class Recipe:
    """Training and input settings. ``image_size=None`` means the task's native size.

    Each numeric field's allowed range is the ``_in(default, range)`` of its definition; floats must be
    finite. ``normalize_mean`` and ``normalize_std`` hold one value, or one per input channel.
    """

    image_size: int | None = _in(None, AT_LEAST_ONE)
    in_chans: int = _in(3, AT_LEAST_ONE)
    normalization: Normalization = "fixed"  # fixed mean/std below, or each image centred and scaled by its own
    normalize_mean: tuple[float, ...] = (0.5,)
    normalize_std: tuple[float, ...] = _in((0.5,), POSITIVE)
    loss: LossName = "auto"  # auto: cross-entropy (binary, multiclass) or BCE (multilabel); focal: either, focused
    focal_gamma: float = _in(2.0, NON_NEGATIVE)
    class_weights: bool = False
    optimizer: OptimizerName = "adam"
    lr: float = _in(1e-3, POSITIVE)
    weight_decay: float = _in(0.0, NON_NEGATIVE)
    momentum: float = _in(0.9, Range(0, 1, high_open=True))  # SGD only; 1 or more never forgets a gradient
    schedule: ScheduleName = "none"
    plateau_factor: float = _in(0.1, Range(0, 1, low_open=True, high_open=True))  # torch needs < 1
    plateau_patience: int = _in(5, NON_NEGATIVE)
    milestones: tuple[float, ...] = _in((0.5, 0.75), Range(0, 1, low_open=True))  # fractions of the epochs
    gamma: float = _in(0.1, POSITIVE)
    # rampup_exp (Keras-style, seed report 004): linear lr_start -> lr_max over rampup_epochs, lr_max for
    # sustain_epochs, then lr_min + (lr_max - lr_min) * exp_decay ** (epochs since the sustain ended)
    lr_start: float = _in(1e-5, NON_NEGATIVE)
    lr_max: float = _in(1e-4, POSITIVE)
    lr_min: float = _in(1e-6, NON_NEGATIVE)
    rampup_epochs: int = _in(5, NON_NEGATIVE)
    sustain_epochs: int = _in(0, NON_NEGATIVE)
    exp_decay: float = _in(0.8, UNIT)
    # freeze/unfreeze stages: backbone (all but the classifier) frozen for frozen_epochs (-1: always),
    # then the last unfreeze_fraction of the backbone's parameters train at finetune_lr decaying to finetune_lr_min
    frozen_epochs: int = _in(0, Range(-1))
    unfreeze_fraction: float = _in(1.0, UNIT)
    finetune_lr: float | None = _in(None, POSITIVE)
    finetune_lr_min: float | None = _in(None, NON_NEGATIVE)
    # augmentation of training batches on the training device (benchmark.training.augment), parameters per image
    aug_rotation: float = _in(0.0, Range(0, 180))  # degrees, +-
    aug_hflip: bool = False
    aug_vflip: bool = False
    aug_zoom: float = _in(0.0, Range(0, 1, high_open=True))  # +- fraction (1 would shrink an image to nothing)
    aug_shift_x: float = _in(0.0, UNIT)  # +- fraction of the width
    aug_shift_y: float = _in(0.0, UNIT)  # +- fraction of the height
    aug_fill: Fill = "zeros"
    aug_brightness: float = _in(0.0, UNIT)  # +- fraction
    aug_contrast: float = _in(0.0, UNIT)  # +- fraction
    epochs: int = _in(10, AT_LEAST_ONE)
    steps_per_epoch: int | None = _in(None, AT_LEAST_ONE)  # train on only this many batches per epoch (smoke runs)
    batch_size: int = _in(32, AT_LEAST_ONE)
    eval_batch_size: int = _in(256, AT_LEAST_ONE)
    early_stopping_patience: int | None = _in(None, AT_LEAST_ONE)  # epochs without improvement; None: never stop
    select_on: SelectOn = "val_loss"
    pretrained_weights: str | None = None
    notes: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        """Type-check every field (converting only lossless cases: int to float, list to tuple) and
        check it against its range; a Recipe that exists is one a run can train with."""
        hints = _field_types()
        for spec in dataclasses.fields(self):
            value = _coerce(spec.name, getattr(self, spec.name), hints[spec.name])
            _check_range(spec.name, value, spec.metadata.get(RANGE))
            object.__setattr__(self, spec.name, value)
        for name in ("normalize_mean", "normalize_std"):
            values = getattr(self, name)
            if len(values) not in (1, self.in_chans):
                raise ConfigError(
                    f"{name} must hold 1 value or one per input channel (in_chans={self.in_chans}), got {values!r}"
                )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def with_overrides(self, overrides: dict[str, Any]) -> Recipe:
        """A copy with ``overrides`` applied; values are checked as on construction."""
        names = [f.name for f in dataclasses.fields(self)]
        for key in overrides:
            if key not in names:
                close = difflib.get_close_matches(key, names, n=2)
                hint = f"did you mean {' or '.join(close)}?" if close else f"fields: {', '.join(names)}"
                raise ConfigError(f"unknown recipe field {key!r}; {hint}")
        return dataclasses.replace(self, **overrides)


def check_seed(seed: Any, name: str = "seed") -> int:
    """``seed`` when it is a whole number in SEEDS, else a ConfigError naming ``name`` (the argument)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not SEEDS.admits(seed):
        raise ConfigError(f"{name} must be a whole number with 0 <= {name} < 2**32, got {seed!r}")
    return seed


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """Parse ``key=value`` strings; values are read as YAML scalars (``1e-3``, ``null``, ``[1,2]``)."""
    result: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set expects key=value, got {pair!r}")
        result[key.strip()] = yaml.safe_load(raw)
    return result


@functools.cache
def _field_types() -> dict[str, Any]:
    return get_type_hints(Recipe)


def _number(value: float | None) -> str:
    return str(value) if isinstance(value, int | None) else f"{value:g}"


def _check_range(key: str, value: Any, allowed: Range | None) -> None:
    """``value`` (each item of a tuple) finite when a float and inside ``allowed`` when a number."""
    for item in value if isinstance(value, tuple) else (value,):
        if item is None or isinstance(item, bool | str):
            continue
        finite = not isinstance(item, float) or math.isfinite(item)
        if not finite or (allowed is not None and not allowed.admits(item)):
            kind = "a finite number" if isinstance(item, float) else "a whole number"
            where = f" (in {value!r})" if isinstance(value, tuple) else ""
            condition = f" {allowed}" if allowed is not None else ""
            raise ConfigError(f"{key} must be {kind}{condition}, got {item!r}{where}")


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
