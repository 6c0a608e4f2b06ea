"""The SQLite index of run directories: one row per run, for listing and querying without reading
every ``record.json``.

Run directories are the truth; the index is a cache of a few fields of each record and can always
be rebuilt from them. Writers insert under a write lock (WAL mode, busy timeout, insert-or-ignore
keyed by run id), so several ``benchmark run`` processes publishing at once neither corrupt it
nor list a run twice. Folders that hold no listable run (an unreadable record.json, or the record
of another run: a copied or renamed folder) are kept in a second table, ``unlisted``, with the
reason and the record file's size and modification time, so the index can say it is in step
with the folder without reading every record again, and notices when such a folder changes.
"""

from __future__ import annotations

import sqlite3
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import astuple, dataclass, field, fields
from pathlib import Path

from benchmark.results.entries import entry_key
from benchmark.results.record import RunRecord

INDEX_FILE = "index.sqlite3"
INDEX_SCHEMA = 2  # stored as PRAGMA user_version; another value means the table is recreated and refilled
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
    def from_record(cls, record: RunRecord, path: str) -> IndexedRun:
        primary = record.primary
        return cls(
            run_id=record.run_id,
            created_at=record.created_at,
            origin=record.origin,
            task_name=record.task.name,
            task_version=record.task.version,
            task_hash=record.task.hash,
            split_sha256=record.task.split_sha256,
            model_name=record.model.name,
            model_family=record.model.family,
            source_hash=record.model.source_hash,
            parameters=record.model.parameters,
            seed=record.seed,
            run_key=record.run_key,
            entry_key=entry_key(record),
            primary_metric=record.task.primary_metric,
            primary_value=primary.value if primary else None,
            primary_ci_low=primary.ci_low if primary else None,
            primary_ci_high=primary.ci_high if primary else None,
            n_test=record.n_test,
            submission_name=record.submission.name if record.submission else None,
            path=path,
        )


@dataclass(frozen=True)
class UnlistedFolder:
    """A folder of the results root with a record.json that is not listed: ``reason`` says why and what to
    do; ``stamp`` is the record file's size and modification time when it was read (a change is re-read)."""

    path: str
    reason: str
    stamp: str


COLUMNS = tuple(f.name for f in fields(IndexedRun))
UNLISTED_COLUMNS = tuple(f.name for f in fields(UnlistedFolder))
_TYPES = {int: "INTEGER", float: "REAL", str: "TEXT"}
_ORDER = " ORDER BY created_at, run_id"  # oldest first; ``RunFilter.select`` sorts the same way


@dataclass(frozen=True)
class RunFilter:
    """Which runs a query returns: those matching every field given (exact match); None matches all."""

    task: str | None = field(default=None, metadata={"column": "task_name"})
    task_hash: str | None = None
    model: str | None = field(default=None, metadata={"column": "model_name"})
    origin: str | None = None
    run_key: str | None = None
    entry_key: str | None = None

    @staticmethod
    def column_names() -> tuple[str, ...]:
        """The index columns a query can filter on (each has an SQLite index)."""
        return tuple(f.metadata.get("column", f.name) for f in fields(RunFilter))

    def columns(self) -> dict[str, str]:
        """The filters given, by index column."""
        values = (getattr(self, f.name) for f in fields(self))
        return {c: v for c, v in zip(self.column_names(), values, strict=True) if v is not None}

    def select(self, runs: Iterable[IndexedRun]) -> list[IndexedRun]:
        """``RunIndex.query`` on rows in memory: those matching every filter, oldest first."""
        given = self.columns()
        chosen = [run for run in runs if all(getattr(run, column) == value for column, value in given.items())]
        return sorted(chosen, key=lambda run: (run.created_at, run.run_id))


ALL_RUNS = RunFilter()


def _column_type(name: str) -> str:
    hint = str(IndexedRun.__annotations__[name])
    base = next(t for t in _TYPES if hint.startswith(t.__name__))
    return _TYPES[base] + ("" if "None" in hint else " NOT NULL")


_CREATE = (
    "CREATE TABLE runs ("
    + ", ".join(f"{c} {_column_type(c)}" + (" PRIMARY KEY" if c == "run_id" else "") for c in COLUMNS)
    + ")"
)
_CREATE_UNLISTED = "CREATE TABLE unlisted (path TEXT PRIMARY KEY, reason TEXT NOT NULL, stamp TEXT NOT NULL)"
_DAMAGE = ("SQLITE_CORRUPT", "SQLITE_NOTADB")  # SQLite's error names (and their extended forms) for a damaged file


def is_damaged(exc: sqlite3.Error) -> bool:
    """Whether SQLite refused the file as corrupt or as not a database (never a lock timeout or a full disk:
    those say nothing about the file, and moving it aside would lose a good index)."""
    return str(getattr(exc, "sqlite_errorname", "")).startswith(_DAMAGE)


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
                        conn.execute("DROP TABLE IF EXISTS unlisted")
                        conn.execute(_CREATE)
                        conn.execute(_CREATE_UNLISTED)
                        for column in RunFilter.column_names():
                            conn.execute(f"CREATE INDEX runs_{column} ON runs ({column})")
                        conn.execute(f"PRAGMA user_version = {INDEX_SCHEMA}")
            yield conn

    def add(self, run: IndexedRun) -> bool:
        """Insert one run; False when its run id is already listed."""
        with self._connection() as conn, _transaction(conn):
            return _insert(conn, [run]) == 1

    def replace_all(self, load: Callable[[], Iterable[IndexedRun | UnlistedFolder]]) -> int:
        """Empty the index and fill it with ``load()`` (runs, and folders not listed), called under the
        write lock so that no run published meanwhile is lost: a writer that renamed its run directory
        before the lock is seen by ``load``; one that did after inserts its row after this transaction.
        Returns the number of runs listed."""
        with self._connection() as conn, _transaction(conn):
            conn.execute("DELETE FROM runs")
            conn.execute("DELETE FROM unlisted")
            loaded = list(load())
            unlisted = [astuple(u) for u in loaded if isinstance(u, UnlistedFolder)]
            conn.executemany(
                f"INSERT OR REPLACE INTO unlisted VALUES ({', '.join('?' * len(UNLISTED_COLUMNS))})", unlisted
            )
            return _insert(conn, (run for run in loaded if isinstance(run, IndexedRun)))

    def paths(self) -> set[str]:
        with self._connection() as conn:
            return {row[0] for row in conn.execute("SELECT path FROM runs")}

    def unlisted(self) -> list[UnlistedFolder]:
        """The folders the last rebuild did not list, by path."""
        with self._connection() as conn:
            return [UnlistedFolder(*row) for row in conn.execute("SELECT * FROM unlisted ORDER BY path")]

    def query(self, where: RunFilter = ALL_RUNS) -> list[IndexedRun]:
        """Runs matching every filter of ``where``, oldest first."""
        given = where.columns()
        sql = f"SELECT {', '.join(COLUMNS)} FROM runs WHERE {' AND '.join(f'{k} = ?' for k in given) or '1'}"
        with self._connection() as conn:
            return [IndexedRun(*row) for row in conn.execute(sql + _ORDER, tuple(given.values()))]

    def snapshot(self) -> list[IndexedRun] | None:
        """Every row (``snapshot_listing``'s runs)."""
        listing = self.snapshot_listing()
        return None if listing is None else listing[0]

    def snapshot_listing(self) -> tuple[list[IndexedRun], list[UnlistedFolder]] | None:
        """Every row and every unlisted folder, read without writing anything: no WAL or shared-memory
        file is created, no lock taken (SQLite's ``immutable`` mode). None when the file is missing, of
        another schema, unreadable or damaged, or has a write-ahead log beside it (a writer is active or
        was interrupted: its rows may be only in the log), so the caller reads the run directories
        instead. A reader that takes no lock can meet a writer: callers check the rows against the run
        directories."""
        wal = self.path.with_name(self.path.name + "-wal")
        if not self.path.is_file() or (wal.exists() and wal.stat().st_size > 0):
            return None
        uri = f"file:{urllib.parse.quote(str(self.path.resolve()))}?mode=ro&immutable=1"
        try:
            with closing(sqlite3.connect(uri, uri=True)) as conn:
                if conn.execute("PRAGMA user_version").fetchone()[0] != INDEX_SCHEMA:
                    return None
                runs = [IndexedRun(*row) for row in conn.execute(f"SELECT {', '.join(COLUMNS)} FROM runs" + _ORDER)]
                unlisted = [UnlistedFolder(*row) for row in conn.execute("SELECT * FROM unlisted ORDER BY path")]
                return runs, unlisted
        except sqlite3.Error:
            return None

    def integrity_check(self) -> str:
        """``ok`` or SQLite's description of the damage."""
        with self._connection() as conn:
            return "; ".join(row[0] for row in conn.execute("PRAGMA integrity_check"))


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
