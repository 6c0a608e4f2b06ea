"""ResNet baselines from timm.

``resnet18`` follows MedMNIST v2's protocol (Yang et al. 2023): below 64 px the stem is
the small-image one (3x3 stride-1 first convolution, no max-pool), as their ResNet-18 (28).
"""

from __future__ import annotations

import timm
from torch import nn

from benchmark.models import ModelInputs, register_model
from benchmark.recipe import Recipe

MEDMNIST_RECIPE = Recipe(
    image_size=None,
    in_chans=1,
    normalize_mean=(0.5,),
    normalize_std=(0.5,),
    loss="auto",  # cross-entropy; BCE on multi-label tasks
    optimizer="adam",
    lr=1e-3,
    schedule="multistep",
    milestones=(0.5, 0.75),
    gamma=0.1,
    epochs=100,
    batch_size=128,
    select_on="val_auroc",
    notes="MedMNIST v2 protocol: Adam 1e-3, batch 128, 100 epochs, lr x0.1 at 50% and 75%, best val AUC",
)


def _small_image_stem(model: nn.Module, in_chans: int) -> None:
    model.conv1 = nn.Conv2d(in_chans, 64, kernel_size=3, stride=1, padding=1, bias=False)
    model.maxpool = nn.Identity()


@register_model(
    "resnet18",
    recipe=MEDMNIST_RECIPE,
    family="resnet",
    source_report="MedMNIST v2 (Yang et al. 2023)",
    card="ResNet-18 (He et al. 2016) from timm, trained from scratch with MedMNIST v2's protocol.",
    # MedMNIST v2 uses one setting (Adam 1e-3, batch 128, no weight decay) for every dataset
    search_space={
        "lr": ("loguniform", 1e-4, 1e-2),
        "batch_size": ("choice", [64, 128, 256]),
        "weight_decay": ("choice", [0.0, 1e-5, 1e-4]),
    },
)
def resnet18(inputs: ModelInputs) -> nn.Module:
    model = timm.create_model("resnet18", pretrained=False, num_classes=inputs.num_outputs, in_chans=inputs.in_chans)
    if inputs.image_size <= 64:
        _small_image_stem(model, inputs.in_chans)
    return model
