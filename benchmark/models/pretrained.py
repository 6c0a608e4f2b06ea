"""Pretrained weights: a state dict from a local file (never a download), loaded into a built model."""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn

from benchmark.errors import ConfigError
from benchmark.models.freeze import classifier

log = logging.getLogger(__name__)

# Where a plugin that gives no ``weights_prefix`` may hold a file's tensors: the one matching most
# tensors wins (timm checkpoints name backbone tensors without the wrapper prefix some models use)
GUESSED_PREFIXES = ("", "backbone.", "encoder.")


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """A state dict from a local ``.safetensors`` or ``.pth``/``.pt`` file (never a download)."""
    if not path.is_file():
        raise ConfigError(f"weights file {path} does not exist; --weights takes a local .safetensors or .pth file")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    state = torch.load(path, map_location="cpu", weights_only=True)
    return state.get("state_dict", state) if isinstance(state, dict) else state


def load_pretrained(model: nn.Module, path: Path, prefix: str | None = None) -> None:
    """Load local weights into ``model``. Only the classifier may differ (a new task has other
    classes: it keeps its fresh init); any other tensor that is missing or has another shape is
    an error naming the layers, since silently half-loaded weights would invalidate a result.

    ``prefix`` is where the model holds the pretrained network (its ModelSpec's ``weights_prefix``,
    e.g. ``backbone.``): the file holds either that network's tensors (a timm state dict) or the
    whole model's, whichever matches more. None (a plugin that does not say): ``GUESSED_PREFIXES``.
    """
    state = read_weights(path)
    own = model.state_dict()
    candidates = GUESSED_PREFIXES if prefix is None else tuple(dict.fromkeys(("", prefix)))
    chosen = max(candidates, key=lambda p: sum(p + k in own for k in state))
    state = {chosen + k: v for k, v in state.items()}
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
