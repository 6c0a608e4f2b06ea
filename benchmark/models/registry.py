"""The model registry: every baseline and plugin is a ModelSpec (factory + recipe + card)."""

from __future__ import annotations

import hashlib
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from benchmark.errors import ConfigError
from benchmark.models.search_space import SearchSpace, validate_search_space
from benchmark.recipe import Recipe
from benchmark.registry import Registry

if TYPE_CHECKING:
    from benchmark.data.prepared import PreparedSplit

log = logging.getLogger(__name__)

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
    ``search_space``, when given, is what ``benchmark tune`` searches (see benchmark.models.search_space)."""

    name: str
    factory: Callable[[ModelInputs], nn.Module]
    recipe: Recipe
    family: str
    card: str
    source_report: str = ""
    pretrain: Pretrainer | None = None
    search_space: SearchSpace | None = None

    def __post_init__(self) -> None:
        if self.search_space is not None:
            validate_search_space(self.search_space, self.recipe, f"model {self.name!r}")

    @property
    def source_file(self) -> Path:
        return Path(inspect.getsourcefile(self.factory) or "")

    @property
    def source_hash(self) -> str:
        """sha256 of the file that defines the factory: the model's code identity in records."""
        return hashlib.sha256(self.source_file.read_bytes()).hexdigest()

    def build(self, inputs: ModelInputs, recipe: Recipe | None = None) -> nn.Module:
        model = self.factory(inputs)
        weights = (recipe or self.recipe).pretrained_weights
        if weights:
            load_pretrained(model, Path(weights))
        return model


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """A state dict from a local ``.safetensors`` or ``.pth``/``.pt`` file (never a download)."""
    if not path.is_file():
        raise ConfigError(f"weights file {path} does not exist; --weights takes a local .safetensors or .pth file")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    state = torch.load(path, map_location="cpu", weights_only=True)
    return state.get("state_dict", state) if isinstance(state, dict) else state


def load_pretrained(model: nn.Module, path: Path) -> None:
    """Load local weights into ``model``. Only the classifier may differ (a new task has other
    classes: it keeps its fresh init); any other tensor that is missing or has another shape is
    an error naming the layers, since silently half-loaded weights would invalidate a result."""
    from benchmark.models.freeze import classifier

    state = read_weights(path)
    own = model.state_dict()
    # timm checkpoints name backbone tensors without the wrapper prefix some baselines use
    prefix = max(("", "backbone.", "encoder."), key=lambda p: sum(p + k in own for k in state))
    state = {prefix + k: v for k, v in state.items()}
    head_ids = {id(p) for p in classifier(model).parameters()}
    head_modules = {n.rsplit(".", 1)[0] + "." for n, p in model.named_parameters() if id(p) in head_ids}
    head = {k for k in own if any(k.startswith(m) for m in head_modules)}  # parameters and buffers
    mismatched = sorted(k for k in own if k in state and own[k].shape != state[k].shape and k not in head)
    missing = sorted(k for k in own if k not in state and k not in head)
    if mismatched or missing:
        details = [f"{k}: model {tuple(own[k].shape)} vs file {tuple(state[k].shape)}" for k in mismatched[:10]]
        raise ConfigError(
            f"weights file {path} does not fit {type(model).__name__}: "
            + (f"shape mismatch in {len(mismatched)} layer(s): {'; '.join(details)}. " if mismatched else "")
            + (f"{len(missing)} layer(s) missing from the file: {', '.join(missing[:10])}. " if missing else "")
            + "Use weights saved from the same architecture (and in_chans)"
        )
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    model.load_state_dict(usable, strict=False)
    log.info("loaded %d tensors from %s; classifier kept fresh where shapes differ", len(usable), path)


def _as_spec(name: str, loaded: object) -> ModelSpec:
    spec = loaded() if callable(loaded) and not isinstance(loaded, ModelSpec) else loaded
    if not isinstance(spec, ModelSpec):
        raise ConfigError(
            f"entry point {name!r} in group {ENTRY_POINT_GROUP} must give a benchmark.models.registry.ModelSpec "
            f"(or a function returning one), got {type(spec).__name__}"
        )
    return spec


def _import_baselines() -> None:
    import baselines  # noqa: F401  (importing registers every baseline family)


MODELS: Registry[ModelSpec] = Registry("model", ENTRY_POINT_GROUP, populate=_import_baselines, coerce=_as_spec)


def register_model(
    name: str,
    recipe: Recipe,
    family: str,
    card: str,
    source_report: str = "",
    pretrain: Pretrainer | None = None,
    search_space: SearchSpace | None = None,
) -> Callable[[Callable[[ModelInputs], nn.Module]], Callable[[ModelInputs], nn.Module]]:
    """Decorator for a factory: registers it under ``name`` with its recipe, card and search space."""

    def decorate(factory: Callable[[ModelInputs], nn.Module]) -> Callable[[ModelInputs], nn.Module]:
        MODELS.register(name, ModelSpec(name, factory, recipe, family, card, source_report, pretrain, search_space))
        return factory

    return decorate
