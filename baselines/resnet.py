"""ResNet baselines from timm.

``resnet18`` follows MedMNIST v2's protocol (Yang et al. 2023): below 64 px the stem is
the small-image one (3x3 stride-1 first convolution, no max-pool), as their ResNet-18 (28).
``resnet50`` is one of seed report 003's comparison models (its sec. 3.1), with the report's top.
"""

from __future__ import annotations

import dataclasses

import timm
from torch import nn

from baselines._heads import report_003_model
from baselines.densenet import DENSENET121_RECIPE
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
    classifier="fc",
    cam_layer="layer4",  # the block output (after the residual addition), not the block's last conv
    weights_prefix="",
)
def resnet18(inputs: ModelInputs) -> nn.Module:
    model = timm.create_model("resnet18", pretrained=False, num_classes=inputs.num_outputs, in_chans=inputs.in_chans)
    if inputs.image_size <= 64:
        _small_image_stem(model, inputs.in_chans)
    return model


# Report 003's architecture comparison came before its final model's freezing and focal loss (sec. 6: the
# first models "showed signs of overfitting", which "led us to freeze the base layers"; sec. 3.1: ResNet50
# "overfit slightly faster"), so the comparison models fine-tune the whole network with binary cross-entropy.
REPORT_003_COMPARISON_RECIPE = dataclasses.replace(
    DENSENET121_RECIPE,
    loss="auto",
    frozen_epochs=0,
    notes="Report 003 secs. 2.4, 3.1-3.3: 256 px, batch 16, Adam 1e-4, dropout 0.3, rotation 10 + flip + "
    "brightness/contrast, whole network trained; rest chosen (see card)",
)


@register_model(
    "resnet50",
    recipe=REPORT_003_COMPARISON_RECIPE,
    family="resnet",
    source_report="003",
    card="ResNet-50 (He et al. 2016, timm) as one of report 003's comparison architectures (sec. 3.1: 'trained "
    "slower; overfit slightly faster' than DenseNet121), with the report's top: global average pooling, dropout "
    "0.3, dense output (module `head`). Same data recipe as densenet121 (256 px, batch 16, Adam 1e-4, rotation "
    "+-10 deg, horizontal flip, brightness/contrast +-0.1, plateau 0.2/2, early stopping 5, 20 epochs, best "
    "validation AUROC), but the whole network trains and the loss is plain cross-entropy/BCE: the report "
    "compared architectures before it froze the backbone and added focal loss (sec. 6). The report gives no "
    "epochs, ranges or patiences (chosen as densenet121). Designed for ImageNet weights from a local file "
    "(--weights: a timm resnet50 state dict); ImageNet mean/std (the report scales to [0, 1]). Seed report 004 "
    "names ResNet only as a planned comparison for its UNet (no ResNet recipe or result); its recipe (samplewise "
    "normalisation, ramp-up/exponential lr) is not used here.",
    classifier="head",
    cam_layer="backbone.layer4",  # the block output (after the residual addition), not the block's last conv
    weights_prefix="backbone.",
)
def resnet50(inputs: ModelInputs) -> nn.Module:
    return report_003_model("resnet50", inputs)
