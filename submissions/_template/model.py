"""Template model: a factory taking benchmark.models.ModelInputs, and the recipe it is trained with.

Only `benchmark submit` and `benchmark run --model submissions/<team>` import this file. It must not
download, write files, or register itself (`register_model`): CXR-Bench registers it under
`submission:<name>` from submission.yaml.
"""

from __future__ import annotations

from torch import nn

from benchmark.models import ModelInputs
from benchmark.recipe import Recipe

RECIPE = Recipe(
    image_size=64,  # pixels per side; None means the task's native size
    in_chans=1,  # 1 = grayscale as stored; 3 = the grayscale image repeated
    optimizer="adam",
    lr=1e-3,
    epochs=10,
    batch_size=32,
    class_weights=True,
    select_on="val_loss",  # the checkpoint is chosen on validation, never on test
    notes="Template recipe: replace with yours (benchmark models --json lists every field).",
)


def build_model(inputs: ModelInputs) -> nn.Module:
    """``inputs`` gives the number of outputs, input channels and image size for the task at hand."""
    return nn.Sequential(
        nn.Conv2d(inputs.in_chans, 16, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(32, inputs.num_outputs),
    )
