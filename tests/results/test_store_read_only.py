"""ResultsDir(read_only=True): the same runs as the index gives, and nothing in the folder written or created."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from benchmark.errors import ReadOnlyStoreError
from benchmark.results.index import INDEX_FILE, RunFilter
from benchmark.results.record import RECORD_FILE, RunRecord
from benchmark.results.standings import task_standings
from benchmark.results.store import ResultsDir
from tests.fixtures.runs.make import ToyModel, toy_task, write_task_runs

MODELS = (ToyModel("alpha", 1.5), ToyModel("beta", 0.4, family="cnn"), ToyModel("gamma", 1.0, seeds=(0,)))


def folder_state(root: Path) -> dict[str, tuple[str, int]]:
    """Every file and folder under ``root``: sha256 of its bytes (folders: '') and mtime in ns."""
    state = {}
    for path in sorted(root.rglob("*")):
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
        state[str(path.relative_to(root))] = (digest, path.stat().st_mtime_ns)
    state["."] = ("", root.stat().st_mtime_ns)
    return state


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("results")
    rng = np.random.default_rng(0)
    write_task_runs(root, toy_task(), MODELS, 40, rng)
    write_task_runs(root, toy_task("multiclass", ("a", "b", "c"), "d" * 64, name="other"), MODELS[:1], 30, rng, hour=9)
    return root


def _ids(runs) -> list[str]:
    return [r.run_id for r in runs]


def test_read_only_queries_equal_the_index_and_touch_nothing(store):
    before = folder_state(store)
    reader, writer = ResultsDir(store, read_only=True), ResultsDir(store)
    for filters in ({}, {"task": "toy"}, {"model": "beta"}, {"task": "other", "task_hash": "d" * 64}):
        assert _ids(reader.query(RunFilter(**filters))) == [r.run_id for r in _sorted_records(store, **filters)]
    assert folder_state(store) == before  # the reads above created no -wal / -shm file and changed no byte
    assert reader.query() == writer.query()  # the writer's view


def _sorted_records(
    root: Path, task: str | None = None, task_hash: str | None = None, model: str | None = None
) -> list[RunRecord]:
    """Run records read directly from record.json, filtered and ordered as the index orders them."""
    records = [RunRecord.load(p) for p in root.glob(f"*/{RECORD_FILE}")]
    chosen = [
        r
        for r in records
        if (task is None or r.task.name == task)
        and (task_hash is None or r.task.hash == task_hash)
        and (model is None or r.model.name == model)
    ]
    return sorted(chosen, key=lambda r: (r.created_at, r.run_id))


@pytest.mark.parametrize("damage", ["missing", "stale", "log beside it", "not sqlite"])
def test_missing_stale_or_busy_index_is_not_rebuilt_the_records_are_read(store, tmp_path, damage):
    root = tmp_path / "results"
    shutil.copytree(store, root)
    index = root / INDEX_FILE
    if damage == "missing":
        index.unlink()
    elif damage == "stale":  # a run copied in by hand: not in the index
        extra = next(p for p in root.iterdir() if p.is_dir())
        shutil.copytree(extra, root / (extra.name + "-copy"))
        record = (root / (extra.name + "-copy") / "record.json").read_text()
        (root / (extra.name + "-copy") / "record.json").write_text(record.replace(extra.name, extra.name + "-copy"))
    elif damage == "log beside it":  # a writer mid-transaction: the main file lacks rows that are in its log
        with sqlite3.connect(index) as conn:
            conn.execute("DELETE FROM runs WHERE model_name = 'beta'")
        (root / (INDEX_FILE + "-wal")).write_bytes(b"\0" * 64)
    else:
        index.write_bytes(b"this is not a database")
    before = folder_state(root)
    runs = ResultsDir(root, read_only=True).query()
    assert sorted(_ids(runs)) == sorted(p.name for p in root.iterdir() if (p / "record.json").is_file())
    assert folder_state(root) == before


def test_writes_are_refused(store, tmp_path):
    reader = ResultsDir(store, read_only=True)
    for write in (reader.rebuild_index, reader.index, lambda: reader.staging_dir("x")):
        with pytest.raises(ReadOnlyStoreError, match="opened read-only"):
            write()
    assert ResultsDir(tmp_path / "absent", read_only=True).query() == []
    assert not (tmp_path / "absent").exists()


def test_standings_from_a_read_only_store_are_those_of_the_folder(store):
    before = folder_state(store)
    read_only = task_standings(ResultsDir(store, read_only=True), "toy", n_resamples=200)
    assert folder_state(store) == before
    plain = task_standings(store, "toy", n_resamples=200)  # the writer's view (it may open the index for writing)
    assert read_only.ranked.equals(plain.ranked) and read_only.unranked.equals(plain.unranked)
    assert read_only.ranked["entry"].tolist() == ["alpha", "beta"] and read_only.unranked["entry"].tolist() == ["gamma"]


def test_runs_linked_from_outside_the_root_are_not_read(store, tmp_path):
    root = tmp_path / "results"
    shutil.copytree(store, root)
    victim = sorted(p for p in root.iterdir() if (p / "record.json").is_file())[0]
    shutil.move(str(victim), tmp_path / "elsewhere")
    victim.symlink_to(tmp_path / "elsewhere")
    listed = _ids(ResultsDir(root, read_only=True).query())
    assert victim.name not in listed and len(listed) == len(_ids(ResultsDir(store).query())) - 1
    assert victim.name in _ids(ResultsDir(root).query())  # the writer's view is unchanged: it lists what is there
