"""What the model tests share: the baselines' names without importing them, and the input size of a check.

Parametrising over ``MODELS.names()`` would import every baseline (and timm, monai) while pytest
collects; ``BASELINE_NAMES`` (``baselines.registered_names``) costs a parse of a few files.
test_models checks it equals the registry.
"""

from __future__ import annotations

import baselines

BASELINE_NAMES = sorted(baselines.registered_names())


MAX_CHECK_SIZE = 64  # every layer, head and gradient of a model runs at 64 px as it does at 224 or 299
MIN_INPUT_SIZE = {"inception_v3": 75}  # below 75 px its stem leaves nothing for the later 3x3 convolutions


def check_size(name: str, recipe_size: int) -> int:
    """The side of a forward/backward check: the recipe's, capped as timm's tests cap theirs (a
    forward pass at 224-299 px costs seconds of CPU and shows nothing that 64 px does not)."""
    return min(recipe_size, max(MAX_CHECK_SIZE, MIN_INPUT_SIZE.get(name, 0)))
