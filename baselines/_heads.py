"""Classifier heads shared by several baseline families (this module registers no model).

``TransferClassifier`` is seed report 003's top (its sec. 3.2: GlobalAveragePooling2D, Dropout(0.3),
Dense) on a timm backbone, shared by the report's models: densenet121, resnet50 and inception_v3.
Each of them names its modules in its ``register_model`` call: classifier ``head``, pretrained
weights under ``backbone.``.
"""

from __future__ import annotations

import timm
import torch
from torch import nn

from benchmark.models import ModelInputs

REPORT_003_DROPOUT = 0.3


class TransferClassifier(nn.Module):
    """``backbone`` (timm, globally average-pooled features) then ``head`` (dropout, dense output)."""

    def __init__(self, backbone: nn.Module, num_outputs: int, dropout: float) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(backbone.num_features, num_outputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


def report_003_model(timm_name: str, inputs: ModelInputs) -> TransferClassifier:
    """A timm backbone with report 003's top (its sec. 3.2: GlobalAveragePooling2D, Dropout(0.3), Dense)."""
    backbone = timm.create_model(timm_name, pretrained=False, num_classes=0, in_chans=inputs.in_chans)
    return TransferClassifier(backbone, inputs.num_outputs, REPORT_003_DROPOUT)
