"""Example plugin submission: a four-block CNN with global average pooling, trained from scratch."""

from __future__ import annotations

from torch import nn

from benchmark.models import ModelInputs
from benchmark.recipe import Recipe

RECIPE = Recipe(
    image_size=96,
    in_chans=1,
    optimizer="adamw",
    lr=2e-3,
    weight_decay=1e-4,
    schedule="multistep",
    milestones=(0.6, 0.85),
    epochs=20,
    batch_size=16,
    class_weights=True,
    aug_rotation=5.0,
    aug_zoom=0.05,
    early_stopping_patience=6,
    select_on="val_auroc",
    notes="Example submission: AdamW, class weights, lr x0.1 at 60% and 85% of the epochs, light augmentation",
)


def _block(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


def build_model(inputs: ModelInputs) -> nn.Module:
    return nn.Sequential(
        _block(inputs.in_chans, 16),
        _block(16, 32),
        _block(32, 64),
        _block(64, 128),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Dropout(0.2),
        nn.Linear(128, inputs.num_outputs),
    )
