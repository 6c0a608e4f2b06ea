"""One task's leaderboard table: ranked entries compared with paired tests, unranked entries apart.

`benchmark export` and the Streamlit leaderboard both build their table here, so they always
agree. Only runs of one task hash are ever ranked together. An entry (the seeds of one model,
code, recipe and initial weights; ``benchmark.results.entries``) is ranked when it has at least
``MIN_SEEDS_RANKED`` seeds; the ranked entries are compared with ``benchmark.stats.compare``
(Holm-corrected paired tests, top group). Entries with fewer seeds are scored the same way and
shown apart, never ranked. Re-runs made by ``benchmark reproduce`` and repeated (entry, seed)
runs do not count twice: the first published run of each (entry, seed) is used. A run whose
record or predictions are damaged (missing, unreadable, or not the file its record hashed) is left
out and listed in ``damaged`` with the reason, never fatal to the table. ``trivial`` holds what
predictors of nothing score on the same test truth (``benchmark.metrics.trivial``), shown beside, never ranked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmark.errors import RecordError, RunDamagedError, RunNotFoundError
from benchmark.metrics.predictions import prediction_arrays, prediction_labels
from benchmark.metrics.trivial import TRIVIAL_COLUMNS, trivial_table
from benchmark.results.combined import CombinedResults, ResultsReader
from benchmark.results.entries import group_entries
from benchmark.results.index import IndexedRun, RunFilter
from benchmark.results.record import RunRecord
from benchmark.results.store import ResultsDir
from benchmark.stats import ENTRY_COLUMNS, Comparison, Run, compare
from benchmark.stats.compare import seed_averaged
from benchmark.stats.paired import align_predictions
from benchmark.stats.selective import aurc
from benchmark.tasks import TASKS
from benchmark.tasks.registry import registered_subsets

EXTRA_COLUMNS = [
    "family",  # model family from the record
    "image_size",  # input side in pixels
    "created_at",  # newest run of the entry (ISO 8601)
    "submission",  # submission name, or None for a baseline
    "ranked",  # True: at least MIN_SEEDS_RANKED seeds
    "aurc",  # area under the risk-coverage curve of the seed-averaged predictions (benchmark.stats.selective)
]
STANDINGS_COLUMNS = [*ENTRY_COLUMNS, *EXTRA_COLUMNS]


@dataclass(frozen=True)
class Standings:
    """``ranked`` and ``unranked`` have STANDINGS_COLUMNS (ranked best first; unranked entries have no
    rank, p-value or top group); ``comparison`` holds the ranked entries' pairwise tests and settings."""

    task_name: str
    task_hash: str
    task_version: int
    split_sha256: str
    metric: str
    ranked: pd.DataFrame
    unranked: pd.DataFrame
    comparison: Comparison | None
    other_task_hashes: tuple[str, ...] = ()  # hashes of the same task name in the store, not shown here
    set_aside: tuple[str, ...] = field(default=())  # run ids not counted: reproductions, repeated seeds
    damaged: tuple[tuple[str, str], ...] = field(default=())  # (run id, why) of runs left out as damaged
    # predictors of nothing on the test truth (benchmark.metrics.trivial.TRIVIAL_COLUMNS), never ranked
    trivial: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=TRIVIAL_COLUMNS))

    @property
    def entries(self) -> pd.DataFrame:
        """Ranked entries then unranked ones, one table."""
        return pd.concat([self.ranked, self.unranked], ignore_index=True)


def task_hashes(store: ResultsReader, task: str) -> list[str]:
    """Task hashes of ``task`` in the store, the newest run's hash first."""
    runs = sorted(store.query(RunFilter(task=task)), key=lambda r: r.created_at, reverse=True)
    return list(dict.fromkeys(r.task_hash for r in runs))


def default_task_hash(store: ResultsReader, task: str) -> str:
    """The registered task's current hash when the store has runs of it, else the newest run's hash."""
    hashes = task_hashes(store, task)
    if not hashes:
        raise RunNotFoundError(f"no runs of task {task!r} under {store.root}; `benchmark runs` lists what is there")
    current = TASKS.get(task).task_hash if task in TASKS else None
    return current if current in hashes else hashes[0]


def counted_runs(rows: Sequence[IndexedRun], records: dict[str, RunRecord]) -> tuple[list[str], list[str]]:
    """(run ids counted, run ids set aside): the first published run of each (entry, seed), no reproductions."""
    counted, aside, seen = [], [], set()
    for row in sorted(rows, key=lambda r: (r.created_at, r.run_id)):
        key = (row.entry_key, row.seed)
        if records[row.run_id].reproduces is not None or key in seen:
            aside.append(row.run_id)
        else:
            seen.add(key)
            counted.append(row.run_id)
    return counted, aside


def _readable_records(
    store: ResultsReader, rows: Sequence[IndexedRun]
) -> tuple[dict[str, RunRecord], list[tuple[str, str]]]:
    """The records of ``rows`` that load, and (run id, why) of those that do not."""
    records, damaged = {}, []
    for row in rows:
        try:
            records[row.run_id] = store.load_record(row.run_id)
        except RecordError as exc:  # RunDamagedError too
            damaged.append((row.run_id, str(exc)))
    return records, damaged


def _readable_runs(
    store: ResultsReader, records: Sequence[RunRecord], damaged: list[tuple[str, str]]
) -> dict[str, Run]:
    """Each record with its checked predictions; a damaged run is added to ``damaged`` and left out."""
    runs = {}
    for record in records:
        try:
            runs[record.run_id] = Run(record, store.read_predictions(record))
        except RecordError as exc:
            damaged.append((record.run_id, str(exc)))
    return runs


def _entry_aurc(members: Sequence[Run]) -> float:
    """AURC of the entry's seed-averaged predictions at its mean thresholds, as ``compare`` scores the entry."""
    frames = align_predictions([run.predictions for run in members], [run.run_id for run in members])
    averaged = seed_averaged(frames)
    y_true, y_score = prediction_arrays(averaged, prediction_labels(averaged))
    thresholds = [run.thresholds for run in members]
    mean = None if any(t is None for t in thresholds) else list(np.mean(thresholds, axis=0))
    return aurc(y_true, y_score, members[0].problem, mean)


def _entry_table(comparison: Comparison, runs: dict[str, Run], ranked: bool) -> pd.DataFrame:
    table = comparison.entries.copy()
    first = [runs[ids[0]].record for ids in table["run_ids"]]
    table["family"] = [r.model.family for r in first]
    table["image_size"] = [r.model.input.image_size if r.model.input else None for r in first]
    table["created_at"] = [max(runs[i].record.created_at for i in ids) for ids in table["run_ids"]]
    table["submission"] = [r.submission.name if r.submission else None for r in first]
    table["ranked"] = ranked
    table["aurc"] = [_entry_aurc([runs[i] for i in ids]) for ids in table["run_ids"]]
    if not ranked:
        table["rank"] = np.nan
        table["p_vs_best"] = np.nan
        table["top_group"] = False
    return table[STANDINGS_COLUMNS]


def _trivial(run: Run, metric: str, subsets: dict[str, tuple[str, ...]] | None) -> pd.DataFrame:
    """The trivial predictors on ``run``'s test truth: every run of one task hash has the same test set."""
    task = run.record.task
    y_true, _ = prediction_arrays(run.predictions, task.labels)
    return trivial_table(task.problem, task.labels, y_true, metric, subsets)


def task_standings(
    results: str | Path | ResultsReader,
    task: str,
    task_hash: str | None = None,
    metric: str | None = None,
    **compare_options: Any,
) -> Standings:
    """The leaderboard of ``task`` (at ``task_hash``, default ``default_task_hash``) on ``metric``
    (default: the task's primary metric). ``compare_options`` go to ``benchmark.stats.compare``
    (test, correction, n_resamples, seed, alpha). ``results`` may be a ``ResultsDir`` (e.g. opened
    read-only, as the leaderboard does) or several folders read as one (``CombinedResults``)."""
    store = results if isinstance(results, (ResultsDir, CombinedResults)) else ResultsDir(Path(results))
    task_hash = task_hash or default_task_hash(store, task)
    rows = store.query(RunFilter(task=task, task_hash=task_hash))
    if not rows:
        raise RunNotFoundError(f"no runs of task {task!r} with hash {task_hash[:12]} under {store.root}")
    records, damaged = _readable_records(store, rows)
    counted, aside = counted_runs([row for row in rows if row.run_id in records], records)
    runs = _readable_runs(store, [records[i] for i in counted], damaged)
    if not runs and damaged:  # every run of the task is damaged: nothing to show
        raise RunDamagedError("; ".join(why for _, why in damaged))
    counted = [i for i in counted if i in runs]
    entries = group_entries(row for row in rows if row.run_id in runs)
    ranked_ids = [i for entry in entries if entry.ranked for i in entry.run_ids]
    unranked_ids = [i for entry in entries if not entry.ranked for i in entry.run_ids]
    options = {"subsets": registered_subsets(task, task_hash), **compare_options}
    comparison = compare([runs[i] for i in ranked_ids], metric, **options) if ranked_ids else None
    apart = compare([runs[i] for i in unranked_ids], metric, **options) if unranked_ids else None
    shown = comparison or apart
    assert shown is not None  # rows is not empty
    empty = pd.DataFrame(columns=STANDINGS_COLUMNS)
    recorded_task = records[counted[0]].task
    return Standings(
        task_name=task,
        task_hash=task_hash,
        task_version=recorded_task.version,
        split_sha256=recorded_task.split_sha256,
        metric=shown.metric,
        ranked=_entry_table(comparison, runs, ranked=True) if comparison else empty,
        unranked=_entry_table(apart, runs, ranked=False) if apart else empty,
        comparison=comparison,
        other_task_hashes=tuple(h for h in task_hashes(store, task) if h != task_hash),
        set_aside=tuple(aside),
        damaged=tuple(damaged),
        trivial=_trivial(runs[counted[0]], shown.metric, options["subsets"]),
    )
