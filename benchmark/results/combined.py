"""Several results folders read as one: the user's own results beside the shipped reference board.

``CombinedResults`` answers the read queries of ``ResultsDir`` (runs, records, checked predictions,
entries) over every folder it holds, first folder first: a run id found in an earlier folder hides
the same id in a later one. It never writes; publishing, the index and the content checks of new
runs stay with each ``ResultsDir`` alone, so a user's own runs are never refused or changed because
the shipped board holds runs of the same entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from benchmark.errors import RunNotFoundError
from benchmark.results.entries import Entry, group_entries
from benchmark.results.index import ALL_RUNS, IndexedRun, RunFilter, UnlistedFolder
from benchmark.results.record import RunRecord
from benchmark.results.store import ResultsDir


@dataclass(frozen=True)
class CombinedResults:
    """A read view of ``stores``, the first being the user's own folder (the others opened read-only)."""

    stores: tuple[ResultsDir, ...]

    def __post_init__(self) -> None:
        if not self.stores:
            raise ValueError("CombinedResults needs at least one results folder")

    @property
    def root(self) -> Path:
        return self.stores[0].root

    @property
    def roots(self) -> list[Path]:
        return [store.root for store in self.stores]

    read_only = True

    def query(self, where: RunFilter = ALL_RUNS) -> list[IndexedRun]:
        """Every folder's rows matching ``where``, oldest first; a run id listed twice counts once."""
        rows: dict[str, IndexedRun] = {}
        for store in self.stores:
            if store.root.is_dir():
                for row in store.query(where):
                    rows.setdefault(row.run_id, row)
        return sorted(rows.values(), key=lambda r: (r.created_at, r.run_id))

    def entries(self, where: RunFilter = ALL_RUNS) -> list[Entry]:
        return group_entries(self.query(where))

    def run_dirs(self) -> list[Path]:
        return [path for store in self.stores if store.root.is_dir() for path in store.run_dirs()]

    def records(self) -> list[RunRecord]:
        return [self.load_record(row.run_id) for row in self.query()]

    def unlisted(self) -> list[UnlistedFolder]:
        return [folder for store in self.stores for folder in store.unlisted()]

    def store_of(self, run_id: str) -> ResultsDir:
        """The folder holding ``run_id`` (an exact id first, then a unique prefix over all folders)."""
        for store in self.stores:
            if (store.root / run_id).is_dir():
                return store
        matches = [store for store in self.stores for path in store.run_dirs() if path.name.startswith(run_id)]
        if len(matches) != 1:
            folders = ", ".join(str(root) for root in self.roots)
            raise RunNotFoundError(
                f"no run {run_id!r} under {folders} ({len(matches)} prefix matches); `benchmark runs` lists them"
            )
        return matches[0]

    def find(self, run_id: str) -> Path:
        return self.store_of(run_id).find(run_id)

    def load_record(self, run_id: str) -> RunRecord:
        return self.store_of(run_id).load_record(run_id)

    def load_predictions(self, run_id: str, split: str = "test") -> pd.DataFrame:
        return self.store_of(run_id).load_predictions(run_id, split)

    def read_predictions(self, record: RunRecord, split: str = "test") -> pd.DataFrame:
        return self.store_of(record.run_id).read_predictions(record, split)

    def val_predictions(self, record: RunRecord) -> pd.DataFrame | None:
        return self.store_of(record.run_id).val_predictions(record)

    def run_file_bytes(self, record: RunRecord, name: str) -> bytes:
        return self.store_of(record.run_id).run_file_bytes(record, name)


ResultsReader = ResultsDir | CombinedResults
"""What the read paths (standings, export, the leaderboard) take: one results folder or several."""
