"""The leaderboard's data: read-only queries of a results folder, cached across sessions.

Every cached function takes the results root and its ``fingerprint`` (modification times and
sizes of the folder and its index, and the number of run directories): a run published, copied
in or removed changes the fingerprint, so the next page view reads the folder again instead of a
stale cache. The store is always opened with ``ResultsDir(root, read_only=True)``, with the shipped
reference board's folder beside it (``store``; also read-only): the app never writes a results
folder, and it reads a run's files only from inside the folder holding the run.

``prepare_first_view`` computes what the first view of the board shows (the run list, the default task's
standings) before the server opens its port (``leaderboard.serve``): the functions
marked ``_preparable`` return a prepared value when called with the same arguments, fingerprint included,
so a run published since is never hidden by it (the fingerprint differs and the value is computed).
"""

from __future__ import annotations

import argparse
import functools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pandas as pd
import streamlit as st

from benchmark.errors import RecordError, RunNotFoundError
from benchmark.reference.board import reference_roots, with_reference
from benchmark.results.combined import CombinedResults, ResultsReader
from benchmark.results.index import COLUMNS, INDEX_FILE
from benchmark.results.integrity import read_verified
from benchmark.results.record import RECORD_FILE, RunRecord
from benchmark.results.standings import Standings, default_task_hash, task_hashes, task_standings
from benchmark.results.store import DEFAULT_RESULTS, PREDICTIONS_FILE, ResultsDir, predictions_in, resolves_inside
from leaderboard import curves, gallery, tables

if TYPE_CHECKING:
    from benchmark.results.citation import Citation

RESULTS_ENV = "CXRBENCH_RESULTS"
Fingerprint = tuple[int, ...]
F = TypeVar("F", bound=Callable[..., Any])

# (function name, results root as str, the other arguments, fingerprint included) -> value: what
# ``prepare_first_view`` computed before the server opened its port.
_PREPARED: dict[tuple[Any, ...], Any] = {}
_COMPUTE: dict[str, Callable[..., Any]] = {}  # name -> a ``_preparable`` function's computation, uncached


def _key(function: Callable[..., Any], root: str | Path, *args: Any) -> tuple[Any, ...]:
    return (function.__name__, str(root), *args)


def _preparable(function: F) -> F:
    """``function(root, fp, ...)`` returns the prepared value of these arguments when there is one."""
    _COMPUTE[function.__name__] = function

    @functools.wraps(function)
    def prepared_or_computed(root: str | Path, *args: Any) -> Any:
        key = _key(function, root, *args)
        return _PREPARED[key] if key in _PREPARED else function(root, *args)

    return prepared_or_computed  # type: ignore[return-value]


def parse_root(argv: Sequence[str], environ: Mapping[str, str]) -> Path:
    """The results folder: ``--results DIR`` among the app's arguments (after ``--`` on the streamlit
    command line), else $CXRBENCH_RESULTS, else ./results; absolute, so caches key on one name."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--results")
    known, _ = parser.parse_known_args(list(argv))
    return Path(known.results or environ.get(RESULTS_ENV) or DEFAULT_RESULTS).expanduser().absolute()


def references() -> tuple[Path, ...]:
    """The reference folders read beside the results folder that exist (``benchmark.reference.board``:
    the shipped board unless $CXRBENCH_REFERENCE says otherwise)."""
    return tuple(root for root in reference_roots() if root.is_dir())


def store(root: str | Path) -> ResultsReader:
    """The results folder, read-only, with the reference folders beside it (each read-only)."""
    return with_reference(Path(root), read_only=True)


def fingerprint(root: str | Path) -> Fingerprint:
    """Cheap identity of the folders' content: changes when a run is added, copied in or removed."""
    return tuple(stamp for folder in (Path(root), *references()) for stamp in _folder_stamps(folder))


def _folder_stamps(root: Path) -> Fingerprint:
    if not root.is_dir():
        return (0,)
    stamps = [root.stat().st_mtime_ns, len(ResultsDir(root).run_dirs())]  # a listing: cheaper than the checked one
    for name in (INDEX_FILE, INDEX_FILE + "-wal"):
        path = root / name
        stat = path.stat() if path.is_file() else None
        stamps += [stat.st_mtime_ns, stat.st_size] if stat else [0, 0]
    return tuple(stamps)


def run_dir(root: str | Path, run_id: str) -> Path:
    """The directory of ``run_id`` (a unique prefix is enough), refused (RunNotFoundError) when the id is
    a path, or the directory or its record or predictions resolve outside the folder holding it (a
    symlink out)."""
    if not run_id or Path(run_id).name != run_id or run_id in (".", ".."):
        raise RunNotFoundError(f"{run_id!r} is not a run id: run ids name a folder directly inside the results root")
    reader = store(root)
    holder = reader.store_of(run_id).root if isinstance(reader, CombinedResults) else Path(root)
    path = reader.find(run_id)
    if not resolves_inside(holder, path, path / RECORD_FILE, path / PREDICTIONS_FILE):
        raise RunNotFoundError(f"run {run_id!r} resolves outside the results root {holder}; it is not served")
    return path


@st.cache_data(show_spinner=False, max_entries=32)
@_preparable
def runs(root: str, fp: Fingerprint) -> pd.DataFrame:
    """Every run of the folder as index rows (``benchmark.results.index.COLUMNS``), oldest first. Folders
    whose record is unreadable, or copies of another run's folder, are left out (``unlisted_folders``
    names them); when they are all the folder holds, RecordError names them instead of an empty table."""
    listed = store(root).query()
    if not listed:
        unlisted = store(root).unlisted()
        if unlisted:
            raise RecordError(f"{root} holds no readable run; " + "; ".join(f"{u.path}: {u.reason}" for u in unlisted))
    return pd.DataFrame([asdict(run) for run in listed], columns=list(COLUMNS))


@st.cache_data(show_spinner=False, max_entries=64)
@_preparable
def hashes(root: str, fp: Fingerprint, task: str) -> tuple[list[str], str]:
    """(the task's hashes in the folder, newest run's first; the default one, as ``benchmark export`` picks it)."""
    found = task_hashes(store(root), task)
    # One hash needs no lookup of the registered task (which imports the data adapters).
    return found, found[0] if len(found) == 1 else default_task_hash(store(root), task)


@st.cache_data(show_spinner="Ranking: paired bootstrap tests of every pair of entries…", max_entries=64)
@_preparable
def standings(root: str, fp: Fingerprint, task: str, task_hash: str) -> Standings:
    """The task's standings as ``benchmark export`` computes them (same defaults)."""
    return task_standings(store(root), task, task_hash)


@st.cache_data(show_spinner=False, max_entries=4096)
def record(root: str, fp: Fingerprint, run_id: str) -> RunRecord:
    return store(root).load_record(run_dir(root, run_id).name)


def records(root: str, fp: Fingerprint, run_ids: Sequence[str]) -> dict[str, RunRecord]:
    return {run_id: record(root, fp, run_id) for run_id in run_ids}


@st.cache_data(show_spinner=False, max_entries=64)
@_preparable
def label_aurocs(root: str, fp: Fingerprint, task: str, task_hash: str) -> pd.DataFrame:
    """Entries x labels: mean recorded AUROC per label (``leaderboard.tables.label_aurocs``)."""
    table = standings(root, fp, task, task_hash)
    return _aurocs_of(table, records(root, fp, _run_ids(table)))


def _run_ids(table: Standings) -> list[str]:
    return [i for ids in table.entries["run_ids"] for i in ids]


def _aurocs_of(table: Standings, found: dict[str, RunRecord]) -> pd.DataFrame:
    labels = next(iter(found.values())).task.labels
    return tables.label_aurocs(table.entries, found, labels)


@st.cache_data(show_spinner=False, max_entries=32)
@_preparable
def unlisted_folders(root: str, fp: Fingerprint) -> list[tuple[str, str]]:
    """(folder, why) of folders holding a record.json that no page lists: an unreadable record, or a
    copied or renamed run folder (``benchmark index`` reports the same)."""
    return [(folder.path, folder.reason) for folder in store(root).unlisted()]


def damaged_runs(root: str, fp: Fingerprint, task: str, task_hash: str) -> dict[str, str]:
    """Run id -> why, for the task's runs left out of its standings as damaged (a missing, unreadable or
    replaced predictions file, an unreadable record): what the pages show instead of a traceback."""
    return dict(standings(root, fp, task, task_hash).damaged)


def run_predictions(root: str | Path, run_id: str) -> pd.DataFrame:
    """A run's Predictions table, checked against the sha256 its record holds (RunDamagedError if not)."""
    path = run_dir(root, run_id)
    return predictions_in(path, store(root).load_record(path.name))


@st.cache_data(show_spinner="Averaging each entry's predictions over its seeds…", max_entries=16)
def entry_predictions(root: str, fp: Fingerprint, task: str, task_hash: str) -> dict[str, pd.DataFrame]:
    """Entry -> its seed-averaged Predictions table (the predictions its estimate is computed on). The
    standings leave damaged runs out; a file damaged since raises RunDamagedError (the pages show it)."""
    entries = standings(root, fp, task, task_hash).entries
    frames = {
        name: [run_predictions(root, i) for i in ids]
        for name, ids in zip(entries["entry"], entries["run_ids"], strict=True)
    }
    return curves.entry_predictions(frames)


@st.cache_data(show_spinner="Bootstrapping ROC bands (2,000 patient resamples per model)…", max_entries=128)
def roc(root: str, fp: Fingerprint, task: str, task_hash: str, label: str, chosen: tuple[str, ...]) -> pd.DataFrame:
    predictions = entry_predictions(root, fp, task, task_hash)
    return curves.roc_table({name: predictions[name] for name in chosen}, label)


@st.cache_data(show_spinner=False, max_entries=128)
def calibration(
    root: str, fp: Fingerprint, task: str, task_hash: str, label: str, chosen: tuple[str, ...]
) -> pd.DataFrame:
    predictions = entry_predictions(root, fp, task, task_hash)
    return curves.calibration_table({name: predictions[name] for name in chosen}, label)


def predictions_bytes(root: str, run_id: str) -> bytes:
    """The run's predictions.parquet as stored (read when the download is asked for), checked against
    the sha256 its record holds: a damaged file raises RunDamagedError rather than being served."""
    path = run_dir(root, run_id)
    return read_verified(path, store(root).load_record(path.name), PREDICTIONS_FILE)


@st.cache_data(show_spinner=False, max_entries=256)
def citation(root: str, fp: Fingerprint, run_id: str) -> Citation:
    """What ``benchmark cite RUN_ID`` prints (BibTeX, methods paragraph, a note if the task file changed)."""
    from benchmark.results.citation import cite_run  # imports the registered tasks: only when a run page asks

    return cite_run(store(root), record(root, fp, run_id))


@st.cache_data(show_spinner=False, max_entries=32)
def saliency_runs(root: str, fp: Fingerprint) -> list[str]:
    return gallery.runs_with_saliency(root)


@st.cache_data(show_spinner="Reading the saliency maps…", max_entries=32)
def saliency(root: str, fp: Fingerprint, run_id: str) -> gallery.RunSaliency:
    return gallery.load_saliency(root, run_id)


@st.cache_data(show_spinner=False, max_entries=32)
def saliency_scores(root: str, fp: Fingerprint, run_ids: tuple[str, ...]) -> pd.DataFrame:
    return gallery.score_table(root, list(run_ids))


@st.cache_data(show_spinner=False)
def claim_tasks() -> list[str]:
    """The tasks the literature ledger has claims on, in the ledger's order."""
    from benchmark.reference.ledger import load_ledger

    return list(dict.fromkeys(claim.task for claim in load_ledger().claims))


@st.cache_data(show_spinner=False)
def claim_sources(task: str) -> dict[str, str]:
    """Source key -> BibTeX of the sources of ``task``'s claims."""
    from benchmark.reference.ledger import load_ledger

    ledger = load_ledger()
    keys = dict.fromkeys(claim.source for claim in ledger.claims_for(task))
    return {key: ledger.sources[key].bibtex for key in keys}


@st.cache_data(show_spinner="comparing the published claims with the board...", max_entries=16)
def verdicts(root: str, fp: Fingerprint, task: str) -> pd.DataFrame:
    """Every published value on ``task`` with our estimate, CI and verdict (``benchmark.reference.claims``)."""
    from benchmark.reference.claims import task_verdicts, verdict_table

    return verdict_table(task_verdicts(store(root), task))


def task_names(listed: pd.DataFrame) -> list[str]:
    """The tasks of the run list, in the order the task picker offers them (the first is the default view)."""
    return sorted(listed["task_name"].unique().tolist())


@dataclass(frozen=True)
class Prepared:
    """What ``prepare_first_view`` computed, for the server's log."""

    root: str
    task: str | None  # None: the folder holds no run (the first view is the empty state)
    task_hash: str | None
    entries: int
    seconds: float

    def describe(self) -> str:
        if self.task is None:
            return f"first view prepared in {self.seconds:.1f} s: no runs in {self.root} yet"
        return (
            f"first view prepared in {self.seconds:.1f} s, before the port opened: the run list, task "
            f"{self.task} ({(self.task_hash or '')[:12]}) ranked, {self.entries} entries with their paired tests; "
            "a run published later is ranked on the next page view"
        )


def prepare_first_view(root: str | Path) -> Prepared:
    """Compute what the board's first view (the ranking page of the default task, no URL query) reads: the
    run list, the default task's hashes and standings, the unlisted folders (the per-label AUROC heatmap is on the
    Plots page). Kept under the
    folders' current fingerprint (``_PREPARED``), replacing what an earlier call kept. A typed error
    (BenchmarkError) is left to the page, which shows it on view."""
    started = time.perf_counter()
    root = str(root)
    fp = fingerprint(root)
    kept: dict[tuple[Any, ...], Any] = {}

    def keep(function: Callable[..., Any], *args: Any) -> Any:
        value = _COMPUTE[function.__name__](root, fp, *args)  # outside Streamlit's cache: no server runs yet
        kept[_key(function, root, fp, *args)] = value
        return value

    listed = keep(runs)
    keep(unlisted_folders)
    task = task_hash = None
    entries = 0
    if not listed.empty:
        task = task_names(listed)[0]
        found, default = keep(hashes, task)
        task_hash = found[0] if len(found) == 1 else default
        entries = len(keep(standings, task, task_hash).entries)
    _PREPARED.clear()
    _PREPARED.update(kept)
    return Prepared(root, task, task_hash, entries, time.perf_counter() - started)
