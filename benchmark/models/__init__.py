"""Models: the registry every baseline and plugin joins (the plugin API), pretrained weights, freezing,
and the source files a model's hash covers.

Plugins import ``ModelInputs``, ``ModelSpec`` and ``register_model`` from here.
"""

from benchmark.models.registry import MODELS, ModelInputs, ModelSpec, Pretrainer, register_model

__all__ = ["MODELS", "ModelInputs", "ModelSpec", "Pretrainer", "register_model"]
