"""Inception-v3 as compared in seed report 003 (its sec. 3.1)."""

from __future__ import annotations

import dataclasses

from torch import nn

from baselines._heads import report_003_model
from baselines.resnet import REPORT_003_COMPARISON_RECIPE
from benchmark.models import ModelInputs, register_model

INCEPTION_V3_RECIPE = dataclasses.replace(
    REPORT_003_COMPARISON_RECIPE,
    image_size=299,
    normalize_mean=(0.5, 0.5, 0.5),  # Inception's ImageNet weights take [-1, 1] inputs (timm and Keras)
    normalize_std=(0.5, 0.5, 0.5),
    notes="Report 003 secs. 2.4, 3.1-3.3 as resnet50 (batch 16, Adam 1e-4, dropout 0.3, augmentation); 299 px, "
    "Inception's native size; rest chosen (see card)",
)


@register_model(
    "inception_v3",
    recipe=INCEPTION_V3_RECIPE,
    family="inception",
    source_report="003",
    card="Inception-v3 (Szegedy et al. 2016, timm, no auxiliary classifier, as Keras' InceptionV3) as one of "
    "report 003's comparison architectures (sec. 3.1: 'similar to DenseNet, but less consistent'), with the "
    "report's top: global average pooling, dropout 0.3, dense output (module `head`). 299 px, Inception's native "
    "input size (the report resized its data to 256 px for all models), with Inception's ImageNet normalisation "
    "to [-1, 1]. Otherwise resnet50's recipe: the whole network trains with plain cross-entropy/BCE, batch 16, "
    "Adam 1e-4, rotation +-10 deg, horizontal flip, brightness/contrast +-0.1, plateau 0.2/2, early stopping 5, "
    "20 epochs (chosen; the report gives none), best validation AUROC. Designed for ImageNet weights from a "
    "local file (--weights: a timm inception_v3 state dict).",
    classifier="head",
    cam_layer="backbone.Mixed_7c",  # the last conv is one branch of Mixed_7c; the block output concatenates all four
    weights_prefix="backbone.",
)
def inception_v3(inputs: ModelInputs) -> nn.Module:
    return report_003_model("inception_v3", inputs)
