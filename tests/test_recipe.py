import dataclasses
from typing import get_args, get_type_hints

import numpy as np
import pytest
import torch

from benchmark.errors import ConfigError
from benchmark.recipe import RANGE, Recipe, check_seed, parse_overrides


def test_overrides_are_parsed_as_yaml_and_type_checked():
    recipe = Recipe().with_overrides(
        parse_overrides(["lr=1e-4", "epochs=3", "milestones=[0.3, 0.6]", "image_size=null"])
    )
    assert recipe.lr == pytest.approx(1e-4)
    assert recipe.epochs == 3
    assert recipe.milestones == (0.3, 0.6)
    assert recipe.image_size is None
    assert Recipe().with_overrides({"lr": 1}).lr == 1.0  # int widened to float


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"epoch": 3}, "did you mean epochs"),
        ({"learning_rate": 0.1}, "fields: .*lr"),
        ({"epochs": "ten"}, "epochs expects int"),
        ({"optimizer": "lbfgs"}, "must be one of"),
        ({"epochs": True}, "epochs expects int"),
    ],
)
def test_bad_overrides_raise_config_error(overrides, message):
    with pytest.raises(ConfigError, match=message):
        Recipe().with_overrides(overrides)


def test_set_without_equals_is_rejected():
    with pytest.raises(ConfigError, match="key=value"):
        parse_overrides(["epochs"])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"lr": -1}, r"lr must be a finite number > 0, got -1\.0"),
        ({"lr": 0}, r"lr must be a finite number > 0, got 0\.0"),
        ({"lr": "nan"}, "lr must be a finite number > 0, got nan"),
        ({"lr": float("inf")}, "lr must be a finite number > 0, got inf"),
        ({"lr": "fast"}, "lr expects float, got 'fast'"),
        ({"batch_size": 0}, "batch_size must be a whole number >= 1, got 0"),
        ({"eval_batch_size": -8}, "eval_batch_size must be a whole number >= 1, got -8"),
        ({"epochs": 0}, "epochs must be a whole number >= 1, got 0"),
        ({"steps_per_epoch": 0}, "steps_per_epoch must be a whole number >= 1, got 0"),
        ({"weight_decay": -1e-4}, "weight_decay must be a finite number >= 0, got -0.0001"),
        ({"momentum": 1.0}, r"momentum must be a finite number in \[0, 1\), got 1\.0"),
        ({"plateau_factor": 1}, r"plateau_factor must be a finite number in \(0, 1\), got 1\.0"),
        ({"plateau_patience": -1}, "plateau_patience must be a whole number >= 0, got -1"),
        ({"early_stopping_patience": 0}, "early_stopping_patience must be a whole number >= 1, got 0"),
        (
            {"milestones": [30, 60]},
            r"milestones must be a finite number in \(0, 1\], got 30\.0 \(in \(30\.0, 60\.0\)\)",
        ),
        ({"frozen_epochs": -2}, "frozen_epochs must be a whole number >= -1, got -2"),
        ({"finetune_lr": 0}, r"finetune_lr must be a finite number > 0, got 0\.0"),
        ({"aug_zoom": 1}, r"aug_zoom must be a finite number in \[0, 1\), got 1\.0"),
        ({"normalize_std": [0.5, 0.0, 0.5]}, r"normalize_std must be a finite number > 0, got 0\.0"),
        ({"normalize_mean": [0.1, 0.2]}, r"normalize_mean must hold 1 value or one per input channel \(in_chans=3\)"),
        ({"in_chans": 0}, "in_chans must be a whole number >= 1, got 0"),
        ({"image_size": 0}, "image_size must be a whole number >= 1, got 0"),
    ],
)
def test_values_outside_a_fields_range_raise_config_error(overrides, message):
    with pytest.raises(ConfigError, match=message):
        Recipe().with_overrides(overrides)
    with pytest.raises(ConfigError, match=message):  # a baseline's or a plugin's Recipe(...) alike
        Recipe(**overrides)


def test_the_edges_of_the_ranges_are_accepted():
    recipe = Recipe(
        lr=1e-12, weight_decay=0, momentum=0, frozen_epochs=-1, exp_decay=1, unfreeze_fraction=0, milestones=[1]
    )
    assert (recipe.weight_decay, recipe.milestones, recipe.frozen_epochs) == (0.0, (1.0,), -1)
    assert Recipe(steps_per_epoch=1, early_stopping_patience=1, image_size=None, finetune_lr=None).epochs == 10


def test_every_numeric_field_declares_its_range():
    """The ranges are part of the fields' definitions (their documentation); only the mean is any finite number."""
    hints = get_type_hints(Recipe)
    numeric = {f.name for f in dataclasses.fields(Recipe) if {int, float} & _leaf_types(hints[f.name])}
    ranged = {f.name for f in dataclasses.fields(Recipe) if RANGE in f.metadata}
    assert numeric - ranged == {"normalize_mean"}
    assert ranged <= numeric


def _leaf_types(hint: object) -> set[object]:
    args = get_args(hint)
    return {hint} if not args else set().union(*(_leaf_types(a) for a in args))


def test_seeds_are_checked_against_one_documented_range():
    assert check_seed(0) == 0 and check_seed(2**32 - 1) == 2**32 - 1
    for bad in (-1, 2**32, 2**64, True, 1.5, "3"):
        with pytest.raises(ConfigError, match=r"seed must be a whole number with 0 <= seed < 2\*\*32"):
            check_seed(bad)
    with torch.random.fork_rng():  # the largest seed is one every consumer takes
        torch.manual_seed(2**32 - 1)
    np.random.RandomState(2**32 - 1)
