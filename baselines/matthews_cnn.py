"""The 256x256 RGB three-block CNN of seed report 001 (Matthews, Sullivan, Widjaja), with and
without its denoising-autoencoder variant.

Report 001's Keras summary (padding 'same', 3 outputs) totals 16,887,491 parameters; the
factory reproduces it exactly. The report compares two models on the Kaggle Covid-19 set:
"the model including an autoencoder" (no class weights: the weights were introduced with the
second model) and the plain CNN with class weights, which was the better one.
"""

from __future__ import annotations

import dataclasses
import logging

import torch
from torch import nn

from benchmark.data.prepared import PreparedSplit
from benchmark.models import ModelInputs, register_model
from benchmark.models.io import normalise
from benchmark.recipe import Recipe

log = logging.getLogger(__name__)

MATTHEWS_RECIPE = Recipe(
    image_size=256,
    in_chans=3,
    normalize_mean=(0.0,),
    normalize_std=(1.0,),  # ImageDataGenerator(rescale=1/255) and nothing more
    loss="auto",  # categorical cross-entropy
    class_weights=True,  # the report's 0.7537 / 1.1952 / 1.1952 are scikit-learn's "balanced" rule
    optimizer="adam",
    lr=1e-3,  # Keras' Adam default: the report names no learning rate
    schedule="none",
    epochs=10,
    batch_size=16,
    select_on="val_loss",
    notes="Report 001: 256x256x3, rescale 1/255, Adam, categorical cross-entropy, class weights, 10 epochs, batch 16",
)

AE_RECIPE = dataclasses.replace(
    MATTHEWS_RECIPE,
    class_weights=False,
    notes="Report 001's first model (with autoencoder): as matthews_cnn but without class weights",
)

# Denoising-autoencoder pre-training: report 001 gives none of these values.
AE_EPOCHS = 5
AE_NOISE_STD = 0.1  # Gaussian noise added to the normalised image ([0, 1] with the recipe's normalisation)
AE_LR = 1e-3  # Keras' Adam default, as for the classifier


def _conv(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2)
    )


class MatthewsCNN(nn.Module):
    """Conv32-pool, Conv64-pool, Conv128-pool (``features``), then the dense ``head``."""

    def __init__(self, in_chans: int, num_outputs: int, image_size: int, dropout: float = 0.3) -> None:
        super().__init__()
        self.features = nn.Sequential(_conv(in_chans, 32), _conv(32, 64), _conv(64, 128))
        side = image_size // 8
        self.head = nn.Sequential(
            nn.Dropout(dropout),
            nn.Flatten(),
            nn.Linear(128 * side * side, 128),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(128, 128),
            nn.ReLU(inplace=True),
            nn.Linear(128, num_outputs),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def _decoder(out_channels: int) -> nn.Sequential:
    """Mirror of the encoder: three x2 upsamplings back to the input size; linear output."""

    def up(in_channels: int, channels: int) -> list[nn.Module]:
        return [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(in_channels, channels, 3, padding=1)]

    return nn.Sequential(*up(128, 64), nn.ReLU(inplace=True), *up(64, 32), nn.ReLU(inplace=True), *up(32, out_channels))


def pretrain_denoising_autoencoder(
    model: nn.Module, train: PreparedSplit, recipe: Recipe, device: torch.device, seed: int
) -> None:
    """Train ``model.features`` as the encoder of a denoising autoencoder on the training images.

    Noisy image -> encoder -> small decoder -> MSE against the clean image, Adam, ``AE_EPOCHS``
    epochs of ``recipe.batch_size`` (at most ``recipe.steps_per_epoch`` batches each). The decoder
    is thrown away. Decoder initialisation, noise and batch order all come from ``seed``.
    """
    encoder = model.features
    was_training = encoder.training
    model.to(device)
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        decoder = _decoder(recipe.in_chans).to(device)
        optimizer = torch.optim.Adam([*encoder.parameters(), *decoder.parameters()], lr=AE_LR)
        encoder.train()
        for epoch in range(AE_EPOCHS):
            order = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
            total, seen = 0.0, 0
            for step, (images, _) in enumerate(train.batches(recipe.batch_size, order)):
                if recipe.steps_per_epoch is not None and step >= recipe.steps_per_epoch:
                    break
                clean = normalise(images, recipe, device)
                noisy = clean + AE_NOISE_STD * torch.randn_like(clean)
                loss = nn.functional.mse_loss(decoder(encoder(noisy)), clean)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * len(images)
                seen += len(images)
            log.info("denoising autoencoder epoch %d/%d: mse %.5f", epoch + 1, AE_EPOCHS, total / max(seen, 1))
    encoder.train(was_training)


@register_model(
    "matthews_cnn",
    recipe=MATTHEWS_RECIPE,
    family="custom_cnn",
    source_report="001",
    card="Three 3x3 conv layers (32/64/128, ReLU, 'same' padding) each followed by 2x2 max-pool, dropout 0.3, "
    "flatten, dense 128 (ReLU), dropout 0.3, dense 128 (ReLU), softmax output; 256x256 RGB, 16,887,491 parameters "
    "with 3 outputs as in the report's summary. Recipe: Adam (Keras default 1e-3: the report names no rate), "
    "balanced class weights, 10 epochs, batch 16, no augmentation. The report keeps the 10th epoch's model; here "
    "the loop keeps the best validation-loss epoch. Seed report 001 (its better, second model).",
    classifier="head",
    cam_layer="features.2.0",
    weights_prefix="",
)
def matthews_cnn(inputs: ModelInputs) -> nn.Module:
    return MatthewsCNN(inputs.in_chans, inputs.num_outputs, inputs.image_size)


@register_model(
    "matthews_cnn_ae",
    recipe=AE_RECIPE,
    family="custom_cnn",
    source_report="001",
    pretrain=pretrain_denoising_autoencoder,
    card="matthews_cnn whose three conv layers are first pre-trained as the encoder of a denoising autoencoder on "
    "the training images, then trained as the classifier (report 001's first model; without class weights, which "
    "the report introduced only with its second model). The report describes the autoencoder only as 'for feature "
    f"extraction and denoising'; chosen here: Gaussian noise (std {AE_NOISE_STD} on [0, 1] pixels), a decoder of "
    f"three nearest-neighbour x2 upsamplings with 3x3 convs (128->64->32->channels), MSE, Adam {AE_LR}, "
    f"{AE_EPOCHS} epochs at the recipe's batch size; the decoder is discarded. Seed report 001.",
    classifier="head",
    cam_layer="features.2.0",
    weights_prefix="",
)
def matthews_cnn_ae(inputs: ModelInputs) -> nn.Module:
    return MatthewsCNN(inputs.in_chans, inputs.num_outputs, inputs.image_size)
