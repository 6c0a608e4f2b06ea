"""The evaluations other parts of CXR-Bench attach to a run, read generically.

A run's record may hold sections filled at run time (``external`` by set name, ``expert``,
``subgroups``) and its folder may hold derived results (``benchmark.results.derived``: ``external``,
``expert``, ``robustness``). Every payload follows one convention (CONTRACTS): ``rows`` (the main
table, flat dicts), ``settings`` (how it was computed) and an optional ``summary``. The report shows
any payload as its table and summary, so a new kind of evaluation appears without code here; a payload
that does not follow the convention is shown as its JSON with a note, never dropped silently.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from benchmark.results.derived import KINDS, read_derived
from benchmark.results.record import RunRecord

RECORD_SECTIONS = ("subgroups", "external", "expert")
# CONTRACTS' column names, in reading order: shown first (records store their keys sorted by name)
LEADING_COLUMNS = ("attribute", "group", "high_group", "low_group", "finding", "corruption", "severity", "metric",
                   "value", "auroc", "gap", "ci_low", "ci_high", "relative_drop", "n_images", "n_patients")  # fmt: skip
TITLES = {
    "subgroups": "Subgroups",
    "external": "External test sets",
    "expert": "Expert labels",
    "robustness": "Robustness to corruptions",
}


@dataclass(frozen=True)
class Payload:
    """One evaluation: ``kind`` (subgroups, external, expert, robustness), ``name`` (an external set, a
    derived result's name; empty for a single record section), where it was read (``record`` or
    ``derived``), its ``rows`` as a table, ``settings`` and ``summary``. ``problem`` says why a payload
    that does not follow the convention is shown raw (``raw`` is its JSON)."""

    kind: str
    name: str
    source: str
    rows: pd.DataFrame
    settings: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] | None = None
    created_at: str | None = None
    problem: str | None = None
    raw: str | None = None

    @property
    def title(self) -> str:
        base = TITLES.get(self.kind, self.kind)
        return f"{base}: {self.name}" if self.name else base


def payload(kind: str, name: str, source: str, value: Any, created_at: str | None = None) -> Payload:
    """``value`` read by the convention; anything else kept raw with the reason."""
    if not isinstance(value, Mapping) or not isinstance(value.get("rows"), list):
        return _raw(kind, name, source, value, "it has no 'rows' list", created_at)
    rows = value["rows"]
    if not all(isinstance(row, Mapping) for row in rows):
        return _raw(kind, name, source, value, "its rows are not all objects", created_at)
    settings = value.get("settings") if isinstance(value.get("settings"), Mapping) else {}
    summary = value.get("summary") if isinstance(value.get("summary"), Mapping) else None
    table = ordered(pd.DataFrame([dict(row) for row in rows]))
    return Payload(kind, name, source, table, dict(settings), None if summary is None else dict(summary), created_at)


def ordered(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with the convention's columns first, in ``LEADING_COLUMNS`` order, then the others."""
    first = [c for c in LEADING_COLUMNS if c in table.columns]
    return table[first + [c for c in table.columns if c not in first]]


def _raw(kind: str, name: str, source: str, value: Any, why: str, created_at: str | None) -> Payload:
    text = json.dumps(value, indent=2, sort_keys=True, default=str)
    return Payload(kind, name, source, pd.DataFrame(), created_at=created_at, problem=why, raw=text)


def record_payloads(record: RunRecord) -> list[Payload]:
    """The record's sections: ``external`` holds one payload per set name, the others one payload."""
    found = []
    for kind in RECORD_SECTIONS:
        value = getattr(record, kind)
        if value is None:
            continue
        if kind == "external" and isinstance(value, Mapping) and "rows" not in value:
            found += [payload(kind, str(name), "record", part) for name, part in sorted(value.items())]
        else:
            found.append(payload(kind, "", "record", value))
    return found


def derived_payloads(run_dir: Path) -> list[Payload]:
    """Every derived result beside the run (``<run_dir>/derived/<kind>/<name>.json``), by kind then name.
    An unreadable file raises ``RecordError`` naming it (read_derived)."""
    found = []
    for kind in KINDS:
        for name, stored in read_derived(run_dir, kind).items():
            found.append(payload(kind, name, "derived", stored.get("result"), stored.get("created_at")))
    return found


def run_payloads(record: RunRecord, run_dir: Path) -> list[Payload]:
    """The record's sections then the derived results, in the order of ``TITLES``."""
    order = {kind: i for i, kind in enumerate(TITLES)}
    found = record_payloads(record) + derived_payloads(run_dir)
    return sorted(found, key=lambda p: (order.get(p.kind, len(order)), p.source != "record", p.name))
