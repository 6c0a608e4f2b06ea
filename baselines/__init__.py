"""Baseline model families, one per module; importing a module registers its models.

``import_all()`` registers every family (``MODELS.names()`` does this); ``import_family_of(name)``
imports only the module that registers ``name``, so `benchmark run --model lotko_cnn` does not
load timm and MONAI for the families it does not use. Which module registers which name is read
from the ``register_model("...")`` calls in the source, without importing anything.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from functools import cache
from pathlib import Path

FOLDER = Path(__file__).resolve().parent


def family_modules() -> list[str]:
    """The family modules (``_heads`` and other private modules are shared code, not families)."""
    return sorted(m.name for m in pkgutil.iter_modules([str(FOLDER)]) if not m.name.startswith("_"))


def import_all() -> None:
    for module in family_modules():
        importlib.import_module(f"{__name__}.{module}")


def _registered_name(node: ast.AST) -> str | None:
    """The name a ``register_model(...)`` call registers, else None."""
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
    if called != "register_model":
        return None
    first = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "name"), None)
    if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
        raise ValueError(f"register_model call at line {node.lineno} does not name its model with a string literal")
    return first.value


@cache
def registered_names() -> dict[str, str]:
    """Model name -> the family module that registers it, from the source (nothing is imported)."""
    found: dict[str, str] = {}
    for module in family_modules():
        path = FOLDER / f"{module}.py"
        tree = ast.parse(path.read_text(), str(path))
        found |= {name: module for node in ast.walk(tree) if (name := _registered_name(node)) is not None}
    return found


def import_family_of(name: str) -> None:
    """Import the family module registering ``name``; nothing when no baseline has that name."""
    module = registered_names().get(name)
    if module is not None:
        importlib.import_module(f"{__name__}.{module}")
