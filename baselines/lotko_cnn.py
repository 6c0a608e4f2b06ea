"""The 64x64 grayscale three-block CNN of seed report 000 (Lotko 2025)."""

from __future__ import annotations

from torch import nn

from benchmark.models import ModelInputs, register_model
from benchmark.recipe import Recipe

LOTKO_RECIPE = Recipe(
    image_size=64,
    in_chans=1,
    normalize_mean=(0.0,),
    normalize_std=(1.0,),  # the report rescales pixels to [0, 1] and nothing more
    loss="auto",  # cross-entropy; BCE on multi-label tasks
    class_weights=True,
    optimizer="adam",
    lr=1e-3,
    schedule="plateau",
    plateau_factor=0.5,
    plateau_patience=5,
    epochs=100,
    batch_size=32,
    early_stopping_patience=10,
    select_on="val_loss",
    notes="Report 000: Adam, class weights inverse to frequency, ReduceLROnPlateau, early stopping, batch 32",
)


def _conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.BatchNorm2d(out_channels),
        nn.MaxPool2d(2),
    )


def _dense_block(in_features: int, out_features: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(in_features, out_features),
        nn.ReLU(inplace=True),
        nn.BatchNorm1d(out_features),
        nn.Dropout(dropout),
    )


class LotkoCNN(nn.Module):
    def __init__(self, in_chans: int, num_outputs: int, image_size: int, dropout: float = 0.3) -> None:
        super().__init__()
        self.features = nn.Sequential(_conv_block(in_chans, 32), _conv_block(32, 64), _conv_block(64, 128))
        side = image_size // 8
        self.head = nn.Sequential(
            nn.Flatten(),
            _dense_block(128 * side * side, 128, dropout),
            _dense_block(128, 64, dropout),
            nn.Linear(64, num_outputs),
        )

    def forward(self, x):
        return self.head(self.features(x))


@register_model(
    "lotko_cnn",
    recipe=LOTKO_RECIPE,
    family="custom_cnn",
    source_report="000",
    card="Three conv blocks (32/64/128, batch norm, max-pool), two dense layers with batch norm and "
    "dropout 0.3, softmax output; 64x64 grayscale. Seed report 000.",
    # the report fixes Adam 1e-3 and batch 32 without a search: a decade and a factor 2 either side
    search_space={"lr": ("loguniform", 1e-4, 1e-2), "batch_size": ("choice", [16, 32, 64])},
    classifier="head",
    cam_layer="features.2.0",
    weights_prefix="",
)
def lotko_cnn(inputs: ModelInputs) -> nn.Module:
    return LotkoCNN(inputs.in_chans, inputs.num_outputs, inputs.image_size)
