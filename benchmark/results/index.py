"""The SQLite index of run directories: one row per run, for listing and querying without reading
every ``record.json``.

Run directories are the truth; the index is a cache of a few fields of each record and can always
be rebuilt from them. Writers insert under a write lock (WAL mode, busy timeout, insert-or-ignore
keyed by run id), so several ``benchmark run`` processes publishing at once neither corrupt it
nor list a run twice.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import Any

INDEX_FILE = "index.sqlite3"
INDEX_SCHEMA = 1  # stored as PRAGMA user_version; another value means the table is recreated and refilled
MIN_SEEDS_RANKED = 3  # an entry with fewer seeds is shown but not ranked
BUSY_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class IndexedRun:
    """The index row of one run. ``path`` is the run directory relative to the results root."""

    run_id: str
    created_at: str
    origin: str
    task_name: str
    task_version: int
    task_hash: str
    split_sha256: str
    model_name: str
    model_family: str | None
    source_hash: str | None
    parameters: int | None
    seed: int
    run_key: str
    entry_key: str
    primary_metric: str
    primary_value: float | None
    primary_ci_low: float | None
    primary_ci_high: float | None
    n_test: int
    submission_name: str | None
    path: str

    @classmethod
    def from_record(cls, record: dict[str, Any], path: str) -> IndexedRun:
        task, model = record["task"], record["model"]
        primary = task["primary_metric"]
        metric = record["metrics"].get(primary, {})
        return cls(
            run_id=record["run_id"],
            created_at=record["created_at"],
            origin=record["origin"],
            task_name=task["name"],
            task_version=int(task["version"]),
            task_hash=task["hash"],
            split_sha256=task["split_sha256"],
            model_name=model["name"],
            model_family=model.get("family"),
            source_hash=model.get("source_hash"),
            parameters=model.get("parameters"),
            seed=int(record["seed"]),
            run_key=record["run_key"],
            entry_key=entry_key(record),
            primary_metric=primary,
            primary_value=metric.get("value"),
            primary_ci_low=metric.get("ci_low"),
            primary_ci_high=metric.get("ci_high"),
            n_test=int(record["n_test"]),
            submission_name=(record.get("submission") or {}).get("name"),
            path=path,
        )


COLUMNS = tuple(f.name for f in fields(IndexedRun))
_TYPES = {int: "INTEGER", float: "REAL", str: "TEXT"}


def entry_key(record: dict[str, Any]) -> str:
    """What makes runs seeds of one leaderboard entry: same task, model, code, recipe and initial
    weights; only the seed differs. Derived from the record, so old records get it too."""
    model = record["model"]
    weights = (record.get("weights") or {}).get("sha256")
    blob = json.dumps(
        [record["task"]["hash"], model["name"], model.get("source_hash"), record.get("recipe"), weights],
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


@dataclass(frozen=True)
class Entry:
    """The runs of one (task, model, code, recipe) over seeds; ranked with at least 3 seeds."""

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


def group_entries(runs: Iterable[IndexedRun]) -> list[Entry]:
    """Runs grouped by entry key, in the order of each entry's first run."""
    groups: dict[str, list[IndexedRun]] = {}
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


def _column_type(name: str) -> str:
    hint = str(IndexedRun.__annotations__[name])
    base = next(t for t in _TYPES if hint.startswith(t.__name__))
    return _TYPES[base] + ("" if "None" in hint else " NOT NULL")


_CREATE = (
    "CREATE TABLE runs ("
    + ", ".join(f"{c} {_column_type(c)}" + (" PRIMARY KEY" if c == "run_id" else "") for c in COLUMNS)
    + ")"
)
_INDEXES = ("task_name", "task_hash", "model_name", "origin", "run_key", "entry_key")


class RunIndex:
    """The index file of one results directory."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        # isolation_level=None: no implicit transactions; every write below is one BEGIN IMMEDIATE block
        with closing(sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # WAL keeps the file consistent; the run dirs keep the data
            if conn.execute("PRAGMA user_version").fetchone()[0] != INDEX_SCHEMA:
                with _transaction(conn):
                    if conn.execute("PRAGMA user_version").fetchone()[0] != INDEX_SCHEMA:
                        conn.execute("DROP TABLE IF EXISTS runs")
                        conn.execute(_CREATE)
                        for column in _INDEXES:
                            conn.execute(f"CREATE INDEX runs_{column} ON runs ({column})")
                        conn.execute(f"PRAGMA user_version = {INDEX_SCHEMA}")
            yield conn

    def add(self, run: IndexedRun) -> bool:
        """Insert one run; False when its run id is already listed."""
        with self._connection() as conn, _transaction(conn):
            return _insert(conn, [run]) == 1

    def replace_all(self, load: Callable[[], Iterable[IndexedRun]]) -> int:
        """Empty the index and fill it with ``load()``, called under the write lock so that no run
        published meanwhile is lost: a writer that renamed its run directory before the lock is
        seen by ``load``; one that did after inserts its row after this transaction."""
        with self._connection() as conn, _transaction(conn):
            conn.execute("DELETE FROM runs")
            return _insert(conn, load())

    def paths(self) -> set[str]:
        with self._connection() as conn:
            return {row[0] for row in conn.execute("SELECT path FROM runs")}

    def query(
        self,
        task: str | None = None,
        task_hash: str | None = None,
        model: str | None = None,
        origin: str | None = None,
        run_key: str | None = None,
        entry_key: str | None = None,
    ) -> list[IndexedRun]:
        """Runs matching every filter given (exact match), oldest first."""
        given = query_filters(task, task_hash, model, origin, run_key, entry_key)
        where = " AND ".join(f"{k} = ?" for k in given) or "1"
        sql = f"SELECT {', '.join(COLUMNS)} FROM runs WHERE {where} ORDER BY created_at, run_id"
        with self._connection() as conn:
            return [IndexedRun(*row) for row in conn.execute(sql, tuple(given.values()))]

    def snapshot(self) -> list[IndexedRun] | None:
        """Every row, read without writing anything: no WAL or shared-memory file is created, no lock
        taken (SQLite's ``immutable`` mode). None when the file is missing, of another schema,
        unreadable, or has a write-ahead log beside it (a writer is active or was interrupted: its
        rows may be only in the log), so the caller reads the run directories instead. A reader that
        takes no lock can meet a writer: callers check the rows against the run directories."""
        wal = self.path.with_name(self.path.name + "-wal")
        if not self.path.is_file() or (wal.exists() and wal.stat().st_size > 0):
            return None
        uri = f"file:{urllib.parse.quote(str(self.path.resolve()))}?mode=ro&immutable=1"
        try:
            with closing(sqlite3.connect(uri, uri=True)) as conn:
                if conn.execute("PRAGMA user_version").fetchone()[0] != INDEX_SCHEMA:
                    return None
                sql = f"SELECT {', '.join(COLUMNS)} FROM runs ORDER BY created_at, run_id"
                return [IndexedRun(*row) for row in conn.execute(sql)]
        except sqlite3.Error:
            return None

    def integrity_check(self) -> str:
        """``ok`` or SQLite's description of the damage."""
        with self._connection() as conn:
            return "; ".join(row[0] for row in conn.execute("PRAGMA integrity_check"))


def query_filters(
    task: str | None = None,
    task_hash: str | None = None,
    model: str | None = None,
    origin: str | None = None,
    run_key: str | None = None,
    entry_key: str | None = None,
) -> dict[str, str]:
    """The filters given, by index column."""
    filters = {
        "task_name": task,
        "task_hash": task_hash,
        "model_name": model,
        "origin": origin,
        "run_key": run_key,
        "entry_key": entry_key,
    }
    return {k: v for k, v in filters.items() if v is not None}


def select_runs(runs: Iterable[IndexedRun], filters: dict[str, str]) -> list[IndexedRun]:
    """``RunIndex.query`` on rows in memory: those matching every filter, oldest first."""
    chosen = [run for run in runs if all(getattr(run, column) == value for column, value in filters.items())]
    return sorted(chosen, key=lambda run: (run.created_at, run.run_id))


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")  # take the write lock now (waits up to the busy timeout)
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _insert(conn: sqlite3.Connection, runs: Iterable[IndexedRun]) -> int:
    sql = f"INSERT OR IGNORE INTO runs ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
    before = conn.total_changes
    conn.executemany(sql, (astuple(run) for run in runs))
    return conn.total_changes - before
