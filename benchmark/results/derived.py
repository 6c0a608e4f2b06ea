"""Evaluations of a published run made after it was published: ``<run_dir>/derived/<kind>/<name>.json``.

A run directory is written whole and its record.json is never touched again (its ``files`` hold the
sha256 of what was published). Scores computed later from the run (``benchmark evaluate --external``,
``benchmark robustness``...) live beside it as derived files: one JSON object per (kind, name), written
atomically, each naming what it was computed from (``inputs``: e.g. the sha256 of the weights or of
the predictions file it read) so a reader can tell a stale one. ``kind`` is one of ``KINDS``.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from benchmark.errors import RecordError
from benchmark.results.store import write_atomically, write_json

DERIVED_DIR = "derived"
KINDS = ("external", "expert", "robustness")
DERIVED_SCHEMA = 1
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def derived_path(run_dir: Path, kind: str, name: str) -> Path:
    """Where (kind, name) of this run lives; both are checked (a known kind, a name safe as a file name)."""
    if kind not in KINDS:
        raise RecordError(f"derived results of kind {kind!r} do not exist; the kinds are {list(KINDS)}")
    if not _NAME.match(name):
        raise RecordError(f"{name!r} cannot name a derived result: use letters, digits, '.', '_' and '-' only")
    return Path(run_dir) / DERIVED_DIR / kind / f"{name}.json"


def write_derived(run_dir: Path, kind: str, name: str, result: dict[str, Any], inputs: dict[str, Any]) -> Path:
    """Write (kind, name) of the run at ``run_dir`` atomically (replacing an older one); returns its path."""
    path = derived_path(run_dir, kind, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "schema": DERIVED_SCHEMA,
        "kind": kind,
        "name": name,
        "created_at": datetime.now(timezone.utc).isoformat(),
        "inputs": inputs,
        "result": result,
    }
    write_atomically(path, lambda temporary: write_json(temporary, payload))
    return path


def read_derived(run_dir: Path, kind: str) -> dict[str, dict[str, Any]]:
    """Every derived result of ``kind`` of the run, by name (the full payload: inputs, created_at, result).
    An unreadable file is refused with a ``RecordError`` naming it and the fix."""
    folder = Path(run_dir) / DERIVED_DIR / kind
    if kind not in KINDS:
        raise RecordError(f"derived results of kind {kind!r} do not exist; the kinds are {list(KINDS)}")
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            payload = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise RecordError(
                f"{path} is not a readable derived result ({type(exc).__name__}: {exc}): delete it and compute it "
                "again (it is derived from the run, which is untouched)"
            ) from exc
        if not isinstance(payload, dict) or payload.get("schema") != DERIVED_SCHEMA or "result" not in payload:
            raise RecordError(
                f"{path} is not a derived result of schema {DERIVED_SCHEMA}: delete it and compute it again"
            )
        found[path.stem] = payload
    return found
