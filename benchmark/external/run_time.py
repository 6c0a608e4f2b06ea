"""The ``external`` record section of a trained run (stub: filled in by the external test sets work)."""

from __future__ import annotations

from typing import Any


def external_section(context: Any) -> dict[str, Any] | None:
    return None
