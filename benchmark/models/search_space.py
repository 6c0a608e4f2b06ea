"""A baseline's hyperparameter search space: declarative, checked against the Recipe, free of Ray.

A space maps recipe fields to one distribution each::

    {"lr": ("loguniform", 1e-5, 1e-2), "batch_size": ("choice", [16, 32]), "focal_gamma": ("uniform", 1.0, 3.0)}

``benchmark tune`` turns it into Ray Tune distributions (``benchmark.ray.tune``); every
value a trial can draw is a valid override of the model's recipe, which is checked when the
model registers, not when a trial starts on a cluster.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from benchmark.errors import ConfigError
from benchmark.recipe import Recipe

SearchSpace = Mapping[str, tuple[Any, ...]]

KINDS = {"loguniform": 2, "uniform": 2, "randint": 2, "choice": 1}  # kind -> number of arguments
FIXED_FIELDS = {"select_on", "epochs"}  # the selection metric and the trial length belong to the tuner


def validate_search_space(space: SearchSpace, recipe: Recipe, owner: str) -> None:
    """Raise ConfigError naming ``owner`` and the entry when ``space`` is not a valid search space."""
    for name, entry in space.items():
        where = f"search_space of {owner}, field {name!r}"
        if name in FIXED_FIELDS:
            raise ConfigError(f"{where}: {name} cannot be searched (the tuner fixes it); remove it from the space")
        if not isinstance(entry, tuple | list) or not entry or entry[0] not in KINDS:
            raise ConfigError(f"{where}: expected (kind, ...) with kind one of {sorted(KINDS)}, got {entry!r}")
        kind, args = entry[0], tuple(entry[1:])
        if len(args) != KINDS[kind]:
            raise ConfigError(f"{where}: {kind} takes {KINDS[kind]} argument(s), got {len(args)}")
        if kind == "choice":
            values = list(args[0]) if isinstance(args[0], list | tuple) else []
            if not values:
                raise ConfigError(f"{where}: choice needs a non-empty list of values")
        else:
            low, high = args
            if not low < high or (kind == "loguniform" and low <= 0):
                raise ConfigError(f"{where}: {kind} needs low < high{' and low > 0' if kind == 'loguniform' else ''}")
            values = [low, high - 1] if kind == "randint" else [low, high]  # randint's high is exclusive
        for value in values:
            try:
                recipe.with_overrides({name: value})  # unknown field or a value the field's type rejects
            except ConfigError as exc:
                raise ConfigError(f"{where}: {exc}") from None
