"""VGG baselines from timm.

``vgg16`` is seed report 004's comparison model (Dobariya 2023 compares its residual UNet
"against other popular convolutional neural network (CNN) architectures, such as VGG and
ResNet"); the report describes one input pipeline and training setup, used here for it too.
"""

from __future__ import annotations

import dataclasses

import timm
from torch import nn

from baselines.unet_residual import DOBARIYA_RECIPE
from benchmark.models import ModelInputs, register_model

VGG16_RECIPE = dataclasses.replace(
    DOBARIYA_RECIPE,
    notes="Report 004's comparison model, with the report's one pipeline: grayscale, samplewise, its augmentation "
    "and ramp-up/exponential schedule (Table 1), 100 epochs",
)


@register_model(
    "vgg16",
    recipe=VGG16_RECIPE,
    family="vgg",
    source_report="004",
    card="VGG-16 (Simonyan & Zisserman 2015) from timm, trained from scratch, as seed report 004's comparison "
    "model. The report gives VGG no settings of its own, so it gets unet_residual's recipe (the report's one data "
    "pipeline and schedule): 224x224 grayscale (in_chans 1), samplewise normalisation, rotation 3 deg, shifts "
    "0.1/0.05, zoom 0.15, horizontal flip, reflect fill, Adam 2e-6 -> 1e-4 over 8 epochs then x0.8 per epoch, "
    "batch 32, 100 epochs, early stopping after 5. 134.3 M parameters with 15 outputs.",
    classifier="head.fc",
    cam_layer="features.28",  # the last 3x3 conv; timm's 7x7 and 1x1 "fc" convs of pre_logits follow it
    weights_prefix="",
)
def vgg16(inputs: ModelInputs) -> nn.Module:
    return timm.create_model("vgg16", pretrained=False, num_classes=inputs.num_outputs, in_chans=inputs.in_chans)
