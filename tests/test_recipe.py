import pytest

from benchmark.errors import ConfigError
from benchmark.recipe import Recipe, parse_overrides


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
