"""EfficientNet-B0 transfer learning of seed report 002 (Mohamed, pneumonia detection).

timm's ``efficientnet_b0`` without its classifier (global average pooling included), then the report's
top: batch norm, a dense layer, dropout and the output layer, all in the module ``head``. Everything
else is the backbone that the recipe's two stages freeze and partly unfreeze.
"""

from __future__ import annotations

import timm
import torch
from torch import nn

from benchmark.models import ModelInputs, register_model
from benchmark.recipe import Recipe

HEAD_WIDTH = 256  # report 002: "fully connected dense layer", width not given
HEAD_DROPOUT = 0.3  # report 002: "dropout regularization", rate not given; 0.3 as seed reports 000 and 003
# The "selected upper layers" unfrozen for fine-tuning: stage 7 (Keras block7a = timm blocks.6) and the 1x1 top
# convolution (Keras top_conv/top_bn = timm conv_head/bn2), i.e. the last 16 of the backbone's 211 parameter
# tensors (1.13M of its 4.01M weights): what Keras' `model.layers[-20:]` fine-tuning recipe unfreezes
UPPER_BLOCKS_TENSORS, BACKBONE_TENSORS = 16, 211

EFFICIENTNET_B0_RECIPE = Recipe(
    image_size=224,
    in_chans=3,
    normalization="fixed",
    normalize_mean=(0.485, 0.456, 0.406),  # ImageNet statistics, for ImageNet weights from --weights
    normalize_std=(0.229, 0.224, 0.225),
    loss="auto",  # the report's sigmoid + binary cross-entropy = softmax over two logits; CE/BCE on other tasks
    class_weights=True,
    optimizer="adam",
    lr=1e-4,
    schedule="plateau",
    plateau_factor=0.3,  # the report's fine-tuning rates 1e-5 -> 3e-6 are one reduction by 0.3
    plateau_patience=2,
    frozen_epochs=10,
    unfreeze_fraction=UPPER_BLOCKS_TENSORS / BACKBONE_TENSORS,
    finetune_lr=1e-5,
    finetune_lr_min=3e-6,
    aug_rotation=10.0,
    aug_hflip=True,
    aug_zoom=0.1,
    aug_shift_x=0.1,
    aug_shift_y=0.1,
    aug_fill="reflection",
    epochs=30,
    batch_size=32,
    early_stopping_patience=5,
    select_on="val_loss",
    notes="Report 002 secs. 4-6: 224 px, class weights, Adam 1e-4 frozen, fine-tune 1e-5 -> 3e-6; "
    "rest chosen (see card)",
)


class EfficientNetB0Classifier(nn.Module):
    """``backbone`` (timm, pooled features) then ``head`` (batch norm, dense, dropout, output)."""

    def __init__(self, in_chans: int, num_outputs: int) -> None:
        super().__init__()
        # drop_rate=0: timm would otherwise drop the pooled features before our batch norm
        self.backbone = timm.create_model(
            "efficientnet_b0", pretrained=False, num_classes=0, in_chans=in_chans, drop_rate=0.0
        )
        width = self.backbone.num_features
        self.head = nn.Sequential(
            nn.BatchNorm1d(width),
            nn.Linear(width, HEAD_WIDTH),
            nn.ReLU(inplace=True),
            nn.Dropout(HEAD_DROPOUT),
            nn.Linear(HEAD_WIDTH, num_outputs),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


@register_model(
    "efficientnet_b0",
    recipe=EFFICIENTNET_B0_RECIPE,
    family="efficientnet",
    source_report="002",
    card="EfficientNet-B0 (Tan & Le 2019, timm) with report 002's top: global average pooling, batch norm, "
    f"dense {HEAD_WIDTH} (ReLU), dropout {HEAD_DROPOUT}, output layer (module `head`). Two stages as the report: "
    "backbone frozen at Adam 1e-4 until the head converges (10 epochs), then the upper layers unfrozen "
    "(stage 7 = Keras block7a and the top 1x1 conv: the last 16 of 211 backbone tensors, what the keras.io "
    "EfficientNet fine-tuning example's model.layers[-20:] unfreezes) at 1e-5 decaying to 3e-6; 224 px, class "
    "weights, rotation/flip/zoom/shift "
    "augmentation, early stopping, lr reduced on plateau, best checkpoint by val loss. Designed for "
    "ImageNet weights from a local file (--weights: a timm efficientnet_b0 state dict); "
    "in_chans 3 with ImageNet mean/std (the report scales to [0, 1]). The report does not give: epochs "
    "(chosen 10 frozen + 20 fine-tuning), batch (32, Keras' default), dense width, dropout rate, augmentation "
    "ranges (rotation 10 deg, zoom 0.1, shifts 0.1, reflective fill for Keras' 'nearest'), plateau factor "
    "(0.3, from its 1e-5 -> 3e-6) and patience (2), early-stopping patience (5). Unfrozen batch norms train "
    "(Keras' recipe keeps them frozen). Report 003 also compared EfficientNetB0 ('fast, but lower AUC').",
    # the report's two learning rates (head 1e-4, fine-tuning 1e-5), searched around their values
    search_space={"lr": ("loguniform", 3e-5, 3e-4), "finetune_lr": ("loguniform", 3e-6, 3e-5)},
    classifier="head",
    cam_layer="backbone.conv_head",
    weights_prefix="backbone.",
)
def efficientnet_b0(inputs: ModelInputs) -> nn.Module:
    return EfficientNetB0Classifier(inputs.in_chans, inputs.num_outputs)
