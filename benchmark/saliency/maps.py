"""Saliency maps of a trained classifier with MONAI's Grad-CAM, Grad-CAM++ and occlusion sensitivity.

Works on any ``nn.Module`` whose output holds one logit per class (``ClassLogits`` adapts the
models of this project). Every map is a float array in [0, 1] at the input's resolution: the
method's non-negative evidence *for* the class, divided by its own maximum (a map with no
positive evidence stays all zero). The unnormalised maximum is returned with it.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from benchmark.errors import ConfigError

log = logging.getLogger(__name__)

METHODS = ("gradcam", "gradcam++", "occlusion")
CAM_METHODS = ("gradcam", "gradcam++")


@dataclass(frozen=True)
class OcclusionSettings:
    """MONAI ``OcclusionSensitivity`` settings, relative to the image side so every model costs alike.

    A square patch of ``mask_fraction`` of the side slides with ``overlap`` (0.5: stride half a
    patch, a 7 x 7 grid of patches = 49 forward passes per image at any size), replaced by the
    image's mean ("mean_img": a neutral grey whatever the model's normalisation).
    """

    mask_fraction: float = 0.25
    overlap: float = 0.5
    mode: str = "mean_img"
    n_batch: int = 16

    def mask_size(self, image_size: int) -> int:
        return max(2, round(image_size * self.mask_fraction))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ClassLogits(nn.Module):
    """``net`` with one logit per class of the task, so every method can target class k alike.

    A binary model trained with BCE has a single logit z; its classes (negative, positive) get
    (-z, z), whose sigmoids are (1 - p, p). Other models pass through unchanged.
    """

    def __init__(self, net: nn.Module, single_binary_logit: bool = False) -> None:
        super().__init__()
        self.net = net
        self.single_binary_logit = single_binary_logit

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.net(x)
        return torch.cat([-logits, logits], dim=1) if self.single_binary_logit else logits


def log_softmax_exact(logits: torch.Tensor) -> torch.Tensor:
    """log p_k = -softplus(logsumexp_{j != k}(z_j - z_k)): unlike ``torch.log_softmax``, not 0 where p_k
    rounds to 1 (it computes log(1 + tiny) as log(1.0) = 0 beyond a logit margin of ~17 in float32)."""
    differences = logits[:, None, :] - logits[:, :, None]  # [b, k, j] = z_j - z_k
    own = torch.eye(logits.shape[1], dtype=torch.bool, device=logits.device)
    return -nn.functional.softplus(torch.logsumexp(differences.masked_fill(own, float("-inf")), dim=2))


def log_probabilities(cross_entropy: bool) -> Callable[[torch.Tensor], torch.Tensor]:
    """Logits -> log-probabilities: of the softmax (cross-entropy models) or the per-class sigmoid (BCE).

    Occlusion compares these rather than probabilities: a confident model's probability is exactly
    1.0 in float32 (logit margin above ~17), so hiding a patch could not lower it; its log still moves.
    """
    return log_softmax_exact if cross_entropy else nn.functional.logsigmoid


def disable_inplace(model: nn.Module) -> None:
    """Gradient hooks fail on tensors that a later in-place op (``ReLU(inplace=True)``) overwrites."""
    for module in model.modules():
        if getattr(module, "inplace", False) is True:
            module.inplace = False


def _conv_outputs(model: nn.Module, example: torch.Tensor) -> list[tuple[str, tuple[int, ...]]]:
    """(name, output shape) of every Conv2d in the order a forward pass runs them."""
    seen: list[tuple[str, tuple[int, ...]]] = []
    handles = [
        module.register_forward_hook(lambda _m, _i, out, name=name: seen.append((name, tuple(out.shape))))
        for name, module in model.named_modules()
        if isinstance(module, nn.Conv2d)
    ]
    try:
        with torch.no_grad():
            model.eval()(example)
    finally:
        for handle in handles:
            handle.remove()
    return seen


def find_target_layer(model: nn.Module, cam_layer: str | None, example: torch.Tensor) -> str:
    """The layer Grad-CAM reads: ``cam_layer``, the model's ModelSpec's (a family whose last Conv2d is
    not the feature map its global pooling reads names it), else the last Conv2d run in a forward
    pass whose output is still a spatial map (more than 1 x 1), i.e. the last convolutional feature
    map before global pooling (a VGG's 1 x 1 "fc" convs do not count)."""
    if cam_layer is not None:
        if cam_layer not in {name for name, _ in model.named_modules()}:
            raise ConfigError(f"{type(model).__name__} has no submodule {cam_layer!r}, given as its cam_layer")
        return cam_layer
    spatial = [name for name, shape in _conv_outputs(model, example) if len(shape) == 4 and shape[2] * shape[3] > 1]
    if not spatial:
        raise ConfigError(
            f"{type(model).__name__} runs no Conv2d with a spatial output, so Grad-CAM has no feature map; "
            "give the model's ModelSpec a cam_layer"
        )
    return spatial[-1]


def _normalised(evidence: torch.Tensor) -> tuple[np.ndarray, float]:
    """(H, W) non-negative evidence -> (map / max in [0, 1], max); all zero when there is none."""
    values = evidence.detach().float().clamp(min=0).cpu().numpy()
    peak = float(values.max()) if values.size else 0.0
    return (values / peak if peak > 0 else np.zeros_like(values)), peak


class SaliencyEngine:
    """Maps for one model: ``cam(x, k, method)`` for one image and class, ``occlusion(x)`` for all classes.

    ``model`` returns one logit per class (wrap it in ``ClassLogits``); ``target_layer`` names a
    module of it; ``log_probability`` turns logits into the log-probabilities the model was trained
    to give (``log_probabilities``), whose drop occlusion measures.
    """

    def __init__(
        self,
        model: nn.Module,
        target_layer: str,
        log_probability: Callable[[torch.Tensor], torch.Tensor],
        occlusion: OcclusionSettings | None = None,
    ) -> None:
        from monai.visualize import GradCAM, GradCAMpp, OcclusionSensitivity
        from monai.visualize.class_activation_maps import ModelWithHooks

        disable_inplace(model)
        self.model = model.eval()
        self.log_probability = log_probability
        self.occlusion_settings = occlusion or OcclusionSettings()
        hooks = ModelWithHooks(model, target_layer, register_forward=True, register_backward=True)
        keep = lambda x: x  # noqa: E731  (MONAI's default post-processing flips the map: min -> 1, max -> 0)
        self._cams = {
            "gradcam": GradCAM(hooks, target_layer, postprocessing=keep),
            "gradcam++": GradCAMpp(hooks, target_layer, postprocessing=keep),
        }
        self._occlusion_class = OcclusionSensitivity

    def cam(self, x: torch.Tensor, class_index: int, method: str) -> tuple[np.ndarray, float]:
        """Grad-CAM or Grad-CAM++ of one image (1, C, H, W) for class ``class_index``."""
        if method not in self._cams:
            raise ConfigError(f"unknown CAM method {method!r}; choose from {list(self._cams)}")
        with torch.enable_grad():
            result = self._cams[method](x, class_idx=class_index)
        return _normalised(result[0, 0])

    def occlusion(self, x: torch.Tensor, class_indices: Sequence[int]) -> dict[int, tuple[np.ndarray, float]]:
        """Occlusion sensitivity of one image (1, C, H, W): for each class, how much its log-probability
        drops when a patch around each pixel is hidden (rises count as no evidence)."""
        settings = self.occlusion_settings
        side = int(x.shape[-1])
        occluder = self._occlusion_class(
            self.model,
            mask_size=settings.mask_size(side),
            n_batch=settings.n_batch,
            verbose=False,
            mode=settings.mode,
            overlap=settings.overlap,
            activate=self.log_probability,
        )
        with torch.no_grad(), warnings.catch_warnings():
            # MONAI indexes with lists of slices, which torch deprecates; the result is unchanged
            warnings.filterwarnings("ignore", message="Using a non-tuple sequence", category=UserWarning)
            baseline = self.log_probability(self.model(x))[0]
            occluded, _ = occluder(x)
        return {k: _normalised(baseline[k] - occluded[0, k].as_tensor()) for k in class_indices}


def compute_maps(
    engine: SaliencyEngine, x: torch.Tensor, class_indices: Sequence[int], methods: Sequence[str]
) -> dict[tuple[int, str], tuple[np.ndarray, float]]:
    """(class, method) -> (map, peak) for one normalised image (1, C, H, W)."""
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise ConfigError(f"unknown saliency method(s) {unknown}; choose from {list(METHODS)}")
    result: dict[tuple[int, str], tuple[np.ndarray, float]] = {}
    for method in methods:
        if method == "occlusion":
            for k, value in engine.occlusion(x, class_indices).items():
                result[k, method] = value
        else:
            for k in class_indices:
                result[k, method] = engine.cam(x, k, method)
    return result
