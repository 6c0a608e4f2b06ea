"""ResNet-50 as compared in seed report 003 (its sec. 3.1; resnet18 of MedMNIST lives in resnet.py)."""

from __future__ import annotations

import dataclasses

from torch import nn

from baselines.densenet import DENSENET121_RECIPE, report_003_model
from benchmark.models import ModelInputs, register_model

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
)
def resnet50(inputs: ModelInputs) -> nn.Module:
    return report_003_model("resnet50", inputs)
