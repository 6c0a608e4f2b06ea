"""The model registry: every baseline and plugin is a ModelSpec (factory + recipe + card)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from benchmark.errors import ConfigError
from benchmark.models.freeze import name_classifier
from benchmark.models.pretrained import load_pretrained
from benchmark.models.search_space import SearchSpace, validate_search_space
from benchmark.models.source import SourceFile, factory_file, factory_roots, hash_sources, import_closure
from benchmark.recipe import Recipe
from benchmark.registry import Registry

if TYPE_CHECKING:
    from benchmark.data.prepared import PreparedSplit

ENTRY_POINT_GROUP = "cxr_benchmark.models"


@dataclass(frozen=True)
class ModelInputs:
    """What a factory needs to know about the task and the recipe."""

    num_outputs: int
    in_chans: int
    image_size: int


Pretrainer = Callable[[nn.Module, "PreparedSplit", Recipe, torch.device, int], None]


@dataclass(frozen=True)
class ModelSpec:
    """A registered model. ``pretrain(model, train_split, recipe, device, seed)``, when given, runs
    on the training images before supervised training (e.g. a denoising autoencoder's encoder).
    ``search_space``, when given, is what ``benchmark tune`` searches (see benchmark.models.search_space).

    Facts of the architecture, as dotted module names of the built model (None: a plugin that does
    not say; the framework then guesses as it always did):

    - ``classifier``: the output layer(s), which always train and which pretrained weights may leave
      fresh (guess: timm's ``get_classifier()``, else ``head``);
    - ``cam_layer``: the feature map Grad-CAM reads, the one the global pooling reads (guess: the last
      Conv2d with a spatial output, see benchmark.saliency.maps.find_target_layer);
    - ``weights_prefix``: where the model holds a pretrained weights file's network, e.g. ``backbone.``
      for a timm backbone under a wrapper ("" for the whole model; guess: see
      benchmark.models.pretrained.GUESSED_PREFIXES).

    ``source_folder``: a submission's folder, whose files count as the model's source besides the
    project's (see ``source_files``).
    """

    name: str
    factory: Callable[[ModelInputs], nn.Module]
    recipe: Recipe
    family: str
    card: str
    source_report: str = ""
    pretrain: Pretrainer | None = None
    search_space: SearchSpace | None = None
    classifier: str | None = None
    cam_layer: str | None = None
    weights_prefix: str | None = None
    source_folder: Path | None = None

    def __post_init__(self) -> None:
        if self.search_space is not None:
            validate_search_space(self.search_space, self.recipe, f"model {self.name!r}")
        for field in ("classifier", "cam_layer"):
            if getattr(self, field) == "":
                raise ConfigError(f"model {self.name!r}: {field} names a submodule; give its dotted name or None")

    @property
    def source_file(self) -> Path:
        """The file that defines the factory."""
        return factory_file(self.factory)

    @property
    def source_files(self) -> tuple[SourceFile, ...]:
        """The factory's file and every project module it imports, transitively (benchmark.models.source)."""
        return import_closure(self.source_file, factory_roots(self.factory, self.source_folder))

    @property
    def source_digests(self) -> dict[str, str]:
        """sha256 of each of ``source_files`` by name: what a reproduction compares to say which file changed."""
        return {f.name: f.sha256() for f in sorted(self.source_files, key=lambda f: f.name)}

    @property
    def source_hash(self) -> str:
        """sha256 over ``source_files`` (names relative to their roots): the model's code identity in records."""
        return hash_sources(self.source_files)

    def build(self, inputs: ModelInputs, recipe: Recipe | None = None) -> nn.Module:
        """The factory's model, with its classifier named and the recipe's pretrained weights loaded."""
        model = self.factory(inputs)
        if self.classifier is not None:
            name_classifier(model, self.classifier)
        weights = (recipe or self.recipe).pretrained_weights
        if weights:
            load_pretrained(model, Path(weights), self.weights_prefix)
        return model


def _as_spec(name: str, loaded: object) -> ModelSpec:
    spec = loaded() if callable(loaded) and not isinstance(loaded, ModelSpec) else loaded
    if not isinstance(spec, ModelSpec):
        raise ConfigError(
            f"entry point {name!r} in group {ENTRY_POINT_GROUP} must give a benchmark.models.registry.ModelSpec "
            f"(or a function returning one), got {type(spec).__name__}"
        )
    return spec


def _import_baselines() -> None:
    import baselines

    baselines.import_all()


def _import_baseline(name: str) -> None:
    import baselines

    baselines.import_family_of(name)


MODELS: Registry[ModelSpec] = Registry(
    "model", ENTRY_POINT_GROUP, populate=_import_baselines, coerce=_as_spec, locate=_import_baseline
)


def register_model(
    name: str,
    recipe: Recipe,
    family: str,
    card: str,
    source_report: str = "",
    pretrain: Pretrainer | None = None,
    search_space: SearchSpace | None = None,
    classifier: str | None = None,
    cam_layer: str | None = None,
    weights_prefix: str | None = None,
) -> Callable[[Callable[[ModelInputs], nn.Module]], Callable[[ModelInputs], nn.Module]]:
    """Decorator for a factory: registers it under ``name`` with its recipe, card, search space and the
    facts of its architecture (see ModelSpec)."""

    def decorate(factory: Callable[[ModelInputs], nn.Module]) -> Callable[[ModelInputs], nn.Module]:
        spec = ModelSpec(
            name,
            factory,
            recipe,
            family,
            card,
            source_report,
            pretrain,
            search_space,
            classifier=classifier,
            cam_layer=cam_layer,
            weights_prefix=weights_prefix,
        )
        MODELS.register(name, spec)
        return factory

    return decorate
