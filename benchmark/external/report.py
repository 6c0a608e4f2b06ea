"""(stub) ``benchmark export``'s section of this kind."""

from __future__ import annotations

from typing import Any


def export_section(results: Any, standings: Any, options: dict[str, Any]) -> tuple[str, list[dict[str, Any]]] | None:
    return None
