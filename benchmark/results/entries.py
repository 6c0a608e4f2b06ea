"""Leaderboard entries: which runs are seeds of one entry, and when an entry is ranked.

An entry is the runs of one task, model, code, recipe and initial weights; only the seed differs.
The rules here are read by the index (each row carries its entry key), the standings, ``benchmark
compare`` and citations, so they agree on what an entry is.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from benchmark.results.record import RunRecord

MIN_SEEDS_RANKED = 3  # an entry with fewer seeds is shown but not ranked


def entry_key(record: RunRecord) -> str:
    """What makes runs seeds of one leaderboard entry: same task, model, code, recipe and initial
    weights, and training code (when recorded); only the seed differs. Derived from the record, so old
    records get it too."""
    model = record.model
    weights = record.weights.sha256 if record.weights else None
    parts: list[Any] = [record.task.hash, model.name, model.source_hash, record.recipe, weights]
    training = record.training.code_hash if record.training else None
    if training is not None:  # trained by hashed training code: another training code is another entry
        parts.append(training)
    blob = json.dumps(parts, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


class EntryRun(Protocol):
    """What grouping reads of a run: an index row (``IndexedRun``) or a loaded run (``benchmark.stats.Run``)."""

    @property
    def run_id(self) -> str: ...
    @property
    def seed(self) -> int: ...
    @property
    def entry_key(self) -> str: ...
    @property
    def task_name(self) -> str: ...
    @property
    def task_hash(self) -> str: ...
    @property
    def model_name(self) -> str: ...
    @property
    def origin(self) -> str: ...
    @property
    def submission_name(self) -> str | None: ...


@dataclass(frozen=True)
class Entry:
    """The runs of one (task, model, code, recipe) over seeds; ranked with at least 3 seeds.
    ``run_ids`` are in the order the runs were given; a seed run twice is in ``seeds`` once."""

    entry_key: str
    task_name: str
    task_hash: str
    model_name: str
    origin: str
    submission_name: str | None
    seeds: tuple[int, ...]
    run_ids: tuple[str, ...]

    @property
    def ranked(self) -> bool:
        return len(self.seeds) >= MIN_SEEDS_RANKED

    @property
    def repeats_a_seed(self) -> bool:
        return len(self.seeds) < len(self.run_ids)


def group_entries(runs: Iterable[EntryRun]) -> list[Entry]:
    """Runs grouped by entry key, in the order of each entry's first run."""
    groups: dict[str, list[EntryRun]] = {}
    for run in runs:
        groups.setdefault(run.entry_key, []).append(run)
    return [
        Entry(
            key,
            rows[0].task_name,
            rows[0].task_hash,
            rows[0].model_name,
            rows[0].origin,
            rows[0].submission_name,
            tuple(sorted({r.seed for r in rows})),
            tuple(r.run_id for r in rows),
        )
        for key, rows in groups.items()
    ]
