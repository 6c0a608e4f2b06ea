"""Dataset adapters, one module per dataset as its publisher distributes it.

Each module registers its adapter(s) with ``@register_source("kind")``; every module in this
package is imported when the registry is first used, so adding a dataset is adding a file.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmark.data.source import SourceIndex
from benchmark.registry import Registry

Adapter = Callable[[Path, dict[str, Any], list[str], str], SourceIndex]


def _import_adapters() -> None:
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")


SOURCES: Registry[Adapter] = Registry("data source", populate=_import_adapters)


def register_source(kind: str) -> Callable[[Adapter], Adapter]:
    """Register ``adapter(root, source_spec, labels, problem) -> SourceIndex`` under ``kind``."""

    def decorate(adapter: Adapter) -> Adapter:
        SOURCES.register(kind, adapter)
        return adapter

    return decorate
