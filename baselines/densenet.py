"""DenseNet-121 of seed report 003 (Sandberg & Moene, CheXpert: pleural effusion, edema, cardiomegaly).

The report's top (its sec. 3.2) on a timm backbone: global average pooling, dropout 0.3, one dense output
layer (``baselines._heads.TransferClassifier``, shared with report 003's comparison models resnet50 and
inception_v3, whose recipes start from this one).
"""

from __future__ import annotations

from torch import nn

from baselines._heads import report_003_model
from benchmark.models import ModelInputs, register_model
from benchmark.recipe import Recipe

# The final model of report 003 (its Appendix 3, "frozen with focal loss and threshold tuning")
DENSENET121_RECIPE = Recipe(
    image_size=256,
    in_chans=3,
    normalization="fixed",
    normalize_mean=(0.485, 0.456, 0.406),  # ImageNet statistics, for ImageNet weights from --weights
    normalize_std=(0.229, 0.224, 0.225),
    loss="focal",
    focal_gamma=2.0,
    class_weights=False,
    optimizer="adam",
    lr=1e-4,
    schedule="plateau",
    plateau_factor=0.2,
    plateau_patience=2,
    frozen_epochs=-1,
    aug_rotation=10.0,
    aug_hflip=True,
    aug_brightness=0.1,
    aug_contrast=0.1,
    aug_fill="reflection",
    epochs=20,
    batch_size=16,
    early_stopping_patience=5,
    select_on="val_auroc",
    notes="Report 003 secs. 2.4, 3.2, 3.3, 6: 256 px, batch 16, Adam 1e-4, dropout 0.3, focal gamma 2, frozen "
    "backbone, rotation 10 + flip + brightness/contrast; rest chosen (see card)",
)


@register_model(
    "densenet121",
    recipe=DENSENET121_RECIPE,
    family="densenet",
    source_report="003",
    card="DenseNet-121 (Huang et al. 2017, timm) as report 003's final model: global average pooling, dropout "
    "0.3, dense output (module `head`); backbone frozen throughout (sec. 6: 'a frozen DenseNet121 with focal "
    "loss and tuned thresholds'), binary focal loss gamma 2, Adam 1e-4, batch 16, 256 px, rotation +-10 deg, "
    "horizontal flip, brightness/contrast, lr reduced on plateau, early stopping restoring the best weights. "
    "Per-label thresholds are tuned on validation by the task (chexpert3: max F1). Designed for ImageNet weights "
    "from a local file (--weights: a timm densenet121 state dict): frozen from random init it is a random-feature "
    "baseline. in_chans 3 with ImageNet mean/std (the report scales to [0, 1]). The report does not give: "
    "epochs (chosen 20), brightness/contrast ranges (+-0.1), plateau factor/patience (0.2/2), early-stopping "
    "patience (5); best epoch by validation AUROC (the report keeps 'the best-performing model (by F1 or AUC)'). "
    "Sec. 3.2 also says layers from 'conv5_block2_concat' onward were unfrozen (timm: denseblock4.denselayer3 "
    "onward + norm5, the last 86 of 362 backbone tensors); the final model is the frozen one, so that is not "
    "used. Its sec. 3.3 says focal loss 'showed unstable training' in initial trials; secs. 3.2 and 6 use it.",
    # the report's focal loss was unstable in its first trials: search gamma with the learning rate
    search_space={"lr": ("loguniform", 1e-5, 1e-3), "focal_gamma": ("choice", [1.0, 2.0, 3.0])},
    classifier="head",
    # the last conv yields one dense layer's 32 new channels; norm5 is the whole concatenation the pooling reads
    cam_layer="backbone.features.norm5",
    weights_prefix="backbone.",
)
def densenet121(inputs: ModelInputs) -> nn.Module:
    return report_003_model("densenet121", inputs)
