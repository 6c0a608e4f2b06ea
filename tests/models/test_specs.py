"""The facts each model family states in its register_model call, and how the framework uses them."""

from __future__ import annotations

import dataclasses
from collections import OrderedDict

import pytest
import torch
from torch import nn

from benchmark.errors import ConfigError
from benchmark.models.freeze import apply_stage, classifier, name_classifier
from benchmark.models.registry import MODELS, ModelInputs, ModelSpec
from benchmark.recipe import Recipe


def test_every_baseline_names_its_classifier_cam_layer_and_weights_prefix():
    for name in MODELS.names():
        spec = MODELS.get(name)
        assert spec.source_file.parent.name == "baselines", name
        with torch.device("meta"):  # module names only: no memory, no initialisation
            model = spec.factory(ModelInputs(3, spec.recipe.in_chans, spec.recipe.image_size or 64))
        modules = dict(model.named_modules())
        assert spec.classifier in modules and spec.cam_layer in modules, name
        assert spec.weights_prefix is not None, name
        assert spec.weights_prefix == "" or spec.weights_prefix.removesuffix(".") in modules, name
        guessed = classifier(model)  # what the fallback for plugins finds: the same module
        name_classifier(model, spec.classifier)
        assert classifier(model) is modules[spec.classifier] is guessed, name


class Wrapped(nn.Module):
    """A pretrained network under ``net`` and a classifier named neither ``head`` nor by timm."""

    def __init__(self, outputs: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.out = nn.Linear(4, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.net(x))


def test_weights_prefix_and_classifier_from_the_spec(tmp_path):
    pretrained = Wrapped(5)
    torch.save(pretrained.net.state_dict(), tmp_path / "net.pth")  # the network alone, as timm saves one
    torch.save(pretrained.state_dict(), tmp_path / "whole.pth")  # another task's whole model
    spec = ModelSpec("wrapped", lambda inputs: Wrapped(inputs.num_outputs), Recipe(), "test", "card")
    inputs = ModelInputs(2, 1, 8)
    with pytest.raises(ConfigError, match="no get_classifier"):  # a plugin that says nothing: no guess fits
        spec.build(inputs, Recipe(pretrained_weights=str(tmp_path / "whole.pth")))
    spec = dataclasses.replace(spec, classifier="out", weights_prefix="net.")
    for file in ("net.pth", "whole.pth"):
        model = spec.build(inputs, Recipe(pretrained_weights=str(tmp_path / file)))
        assert torch.equal(model.net[0].weight, pretrained.net[0].weight), file
        assert model.out.out_features == 2  # the classifier keeps its fresh init
    apply_stage(model, Recipe(frozen_epochs=-1), 0)
    assert [n for n, p in model.named_parameters() if p.requires_grad] == ["out.weight", "out.bias"]
    with pytest.raises(ConfigError, match="no submodule 'fc', given as its classifier"):
        dataclasses.replace(spec, classifier="fc").build(inputs)


def test_a_plugin_without_facts_keeps_the_old_guesses(tmp_path):
    def encoder() -> nn.Sequential:
        return nn.Sequential(nn.Conv2d(1, 2, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten())

    pretrained = encoder()
    torch.save(pretrained.state_dict(), tmp_path / "encoder.pth")
    model = nn.Sequential(OrderedDict(encoder=encoder(), head=nn.Linear(2, 3)))
    recipe = Recipe(pretrained_weights=str(tmp_path / "encoder.pth"))
    ModelSpec("plugin", lambda inputs: model, recipe, "plugin", "card").build(ModelInputs(3, 1, 8))
    assert torch.equal(model.encoder[0].weight, pretrained[0].weight)  # the prefix "encoder." was guessed
    assert classifier(model) is model.head
