"""The from-scratch "Custom CNN" of seed report 003 (Sandberg & Moene), its baseline before DenseNet121.

Report 003 gives no layers for it: only "a smaller model built from scratch" for "simple, fast
experimentation" that "underfit the data" and "lacked capacity to generalize". The layers here
are a choice (see the card); the recipe is the report's shared training setup (section 2.4, table 3.3).
"""

from __future__ import annotations

from torch import nn

from benchmark.models import ModelInputs, register_model
from benchmark.recipe import Recipe

SANDBERG_RECIPE = Recipe(
    image_size=256,
    in_chans=3,  # Keras ImageDataGenerator's default colour mode, as fed to the report's ImageNet models
    normalize_mean=(0.0,),
    normalize_std=(1.0,),  # "Scaled pixel values to [0, 1]"
    loss="auto",  # binary cross-entropy per label; focal loss came later, with DenseNet121
    optimizer="adam",
    lr=1e-4,
    schedule="plateau",
    plateau_factor=0.1,  # Keras ReduceLROnPlateau default; the report gives none
    plateau_patience=2,
    aug_rotation=10.0,
    aug_hflip=True,
    aug_brightness=0.1,
    aug_contrast=0.1,
    epochs=20,
    batch_size=16,
    early_stopping_patience=4,
    select_on="val_loss",
    notes="Report 003: 256x256, [0,1] pixels, Adam 1e-4, batch 16, rotation +-10, flips, brightness/contrast, "
    "ReduceLROnPlateau, early stopping with best weights",
)


def _block(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2)
    )


class CustomCNN(nn.Module):
    """Four conv blocks (32/64/128/256) -> global average pooling -> dropout 0.3 -> dense ``head``."""

    def __init__(self, in_chans: int, num_outputs: int, dropout: float = 0.3) -> None:
        super().__init__()
        self.features = nn.Sequential(
            _block(in_chans, 32), _block(32, 64), _block(64, 128), _block(128, 256), nn.AdaptiveAvgPool2d(1)
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(256, num_outputs))

    def forward(self, x):
        return self.head(self.features(x))


@register_model(
    "custom_cnn",
    recipe=SANDBERG_RECIPE,
    family="custom_cnn",
    source_report="003",
    card="Report 003's 'Custom CNN' (the weakest of its five architectures: 'underfit the data'). The report gives "
    "no layers, so they are chosen: four 3x3 conv blocks (32/64/128/256, ReLU, 2x2 max-pool), global average "
    "pooling, dropout 0.3 and a dense sigmoid layer (the report's own top layers), ~0.39 M parameters. Recipe from "
    "the report: 256x256, pixels in [0, 1], Adam 1e-4, batch 16, rotation +-10 deg, horizontal flips, "
    "brightness/contrast jitter, ReduceLROnPlateau, early stopping restoring the best weights. Not stated, chosen: "
    "3 input channels (Keras' default), jitter +-10%, plateau factor 0.1 / patience 2, early-stopping patience 4, "
    "at most 20 epochs (the report's future work asks for 'longer training', so its runs were short). Seed report 003.",
    # the report's custom CNN underfit at Adam 1e-4: search higher rates too
    search_space={"lr": ("loguniform", 1e-5, 1e-2)},
    classifier="head",
    cam_layer="features.3.0",
    weights_prefix="",
)
def custom_cnn(inputs: ModelInputs) -> nn.Module:
    return CustomCNN(inputs.in_chans, inputs.num_outputs)
