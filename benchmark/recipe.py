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

LossName = Literal["auto", "cross_entropy", "bce"]
OptimizerName = Literal["adam", "adamw", "sgd"]
ScheduleName = Literal["none", "plateau", "multistep"]
SelectOn = Literal["val_loss", "val_auroc"]


@dataclass(frozen=True)
class Recipe:
    """Training and input settings. ``image_size=None`` means the task's native size."""

    image_size: int | None = None
    in_chans: int = 3
    normalize_mean: tuple[float, ...] = (0.5,)
    normalize_std: tuple[float, ...] = (0.5,)
    loss: LossName = "auto"
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
    epochs: int = 10
    batch_size: int = 32
    eval_batch_size: int = 256
    early_stopping_patience: int | None = None
    select_on: SelectOn = "val_loss"
    pretrained_weights: str | None = None
    target_sensitivity: float = 0.95  # for tasks whose threshold rule is target_sensitivity
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
