"""The results index: every published run listed once, queries, rebuilds, parallel writers."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from benchmark.cli import main
from benchmark.results.index import INDEX_FILE, RunFilter, RunIndex
from benchmark.results.store import RECORD_FILE, ResultsDir
from benchmark.training.runner import RunRequest, run_benchmark
from tests.conftest import REPO, cli_env
from tests.fixtures.runs.make import fixture_record, make_predictions, toy_task

FAST = {"epochs": 1, "image_size": 32}


@pytest.fixture(scope="module")
def two_seeds(tiny_covid_task, tiny_covid_root, tmp_path_factory) -> Path:
    """A results directory with lotko_cnn on the fixture task, seeds 0 and 1."""
    results = tmp_path_factory.mktemp("results")
    for seed in (0, 1):
        request = RunRequest(
            task=tiny_covid_task,
            model="lotko_cnn",
            data_root=str(tiny_covid_root),
            seed=seed,
            overrides=FAST,
            results=results,
        )
        run_benchmark(request)
    return results


def _rows(results: Path) -> list[tuple]:
    """The index table as SQLite stores it, read without the code under test."""
    with sqlite3.connect(results / INDEX_FILE) as conn:
        return sorted(conn.execute("SELECT * FROM runs").fetchall())


def test_publishing_lists_each_run_with_the_fields_of_its_record(two_seeds, tiny_covid_task):
    records = {r.run_id: r for r in ResultsDir(two_seeds).records()}
    assert len(records) == 2
    with sqlite3.connect(two_seeds / INDEX_FILE) as conn:
        conn.row_factory = sqlite3.Row
        rows = {row["run_id"]: dict(row) for row in conn.execute("SELECT * FROM runs")}
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert rows.keys() == records.keys()
    for run_id, row in rows.items():
        record = records[run_id]
        auroc = record.metrics["auroc"]
        assert row["task_name"] == tiny_covid_task.name and row["task_hash"] == tiny_covid_task.task_hash
        assert row["split_sha256"] == tiny_covid_task.split_sha256 and row["task_version"] == 1
        assert row["model_name"] == "lotko_cnn" and row["origin"] == "baseline"
        assert row["source_hash"] == record.model.source_hash
        assert row["parameters"] == record.model.parameters
        assert (row["seed"], row["run_key"], row["n_test"]) == (record.seed, record.run_key, 12)
        assert row["primary_metric"] == "auroc"
        assert (row["primary_value"], row["primary_ci_low"], row["primary_ci_high"]) == (
            auroc.value,
            auroc.ci_low,
            auroc.ci_high,
        )
        assert row["path"] == run_id and (two_seeds / row["path"] / RECORD_FILE).is_file()
        assert row["submission_name"] is None


def test_queries_filter_by_task_model_origin_and_run_key(two_seeds, tiny_covid_task):
    results = ResultsDir(two_seeds)
    records = sorted(results.records(), key=lambda r: r.created_at)
    assert [r.run_id for r in results.query()] == [r.run_id for r in records]
    assert len(results.query(RunFilter(task=tiny_covid_task.name, model="lotko_cnn", origin="baseline"))) == 2
    assert len(results.query(RunFilter(task_hash=tiny_covid_task.task_hash))) == 2
    assert results.query(RunFilter(task="nih14")) == [] and results.query(RunFilter(origin="submission")) == []
    assert results.query(RunFilter(model="resnet18")) == []
    for record in records:
        found = results.find_by_run_key(record.run_key)
        assert [r.run_id for r in found] == [record.run_id]
    assert results.find_by_run_key("0" * 20) == []
    (entry,) = results.entries(RunFilter(task=tiny_covid_task.name))
    assert entry.seeds == (0, 1) and not entry.ranked  # seeds of one entry; fewer than 3: unranked


def test_missing_or_stale_index_is_rebuilt_from_the_run_directories(two_seeds, tmp_path):
    results_root = tmp_path / "copy"
    shutil.copytree(two_seeds, results_root)
    expected = _rows(results_root)
    results = ResultsDir(results_root)
    (results_root / INDEX_FILE).unlink()
    assert len(results.query()) == 2 and _rows(results_root) == expected  # missing: rebuilt
    gone = results.query()[0]
    shutil.rmtree(results_root / gone.path)
    assert [r.run_id for r in results.query()] == [r[0] for r in expected if r[0] != gone.run_id]
    shutil.copytree(two_seeds / gone.path, results_root / gone.path)  # a run dir copied in from elsewhere
    assert _rows(results_root) != expected
    assert len(results.query()) == 2 and _rows(results_root) == expected


def test_index_rebuild_command_recreates_the_same_index(two_seeds, tmp_path, capsys):
    results_root = tmp_path / "copy"
    shutil.copytree(two_seeds, results_root)
    expected = _rows(results_root)
    with sqlite3.connect(results_root / INDEX_FILE) as conn:
        conn.execute("DELETE FROM runs")
    assert main(["index", "--rebuild", "--results", str(results_root)]) == 0
    assert "2 run(s)" in capsys.readouterr().out
    assert _rows(results_root) == expected


def test_runs_command_filters(two_seeds, tiny_covid_task, capsys):
    results = str(two_seeds)
    assert main(["runs", "--results", results, "--task", tiny_covid_task.name, "--origin", "baseline"]) == 0
    out = capsys.readouterr().out
    assert all(p.name in out for p in ResultsDir(two_seeds).run_dirs())
    assert main(["runs", "--results", results, "--model", "resnet18"]) == 0
    assert "no matching runs" in capsys.readouterr().out
    record = ResultsDir(two_seeds).records()[1]
    assert main(["runs", "--results", results, "--run-key", record.run_key, "--json"]) == 0
    assert [r["run_id"] for r in json.loads(capsys.readouterr().out)] == [record.run_id]


def test_damaged_record_is_named_and_left_out_never_fatal(two_seeds, tmp_path, capsys, caplog):
    results_root = tmp_path / "copy"
    shutil.copytree(two_seeds, results_root)
    damaged_dir, sound_dir = ResultsDir(results_root).run_dirs()
    damaged = damaged_dir / RECORD_FILE
    damaged.write_text("{not json")
    assert ResultsDir(results_root).rebuild_index() == 1  # the other run is listed
    assert [row[0] for row in _rows(results_root)] == [sound_dir.name]
    assert str(damaged) in caplog.text and "is not a readable run record" in caplog.text
    assert [r.run_id for r in ResultsDir(results_root).query()] == [sound_dir.name]
    assert main(["index", "--results", str(results_root)]) == 1  # not in step: the folder is named
    out = capsys.readouterr().out
    assert "NOT in step" in out and damaged_dir.name in out and "in step with the run directories" not in out
    (damaged_dir / RECORD_FILE).write_text((sound_dir / RECORD_FILE).read_text().replace(sound_dir.name, "x"))
    assert main(["index", "--results", str(results_root)]) == 1  # a changed record is read again
    assert "holds the record of run x" in capsys.readouterr().out


_WRITER = textwrap.dedent(
    """
    import dataclasses
    import sys
    from pathlib import Path
    from benchmark.results.record import RECORD_FILE, RunRecord
    from benchmark.results.store import ResultsDir

    root, worker, count, template = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
    results = ResultsDir(root)
    base = RunRecord.load(template)
    for i in range(count):
        if worker < 0:
            results.rebuild_index()
            continue
        run_id = f"20250101T000000Z-t-m-s{i}-w{worker:02d}r{i:03d}"
        created_at, run_key = f"2025-01-01T00:00:{i:02d}", f"key-{worker}-{i}"
        model = dataclasses.replace(base.model, name=f"m{worker}r{i}")  # an entry each: no seed or score checks
        record = dataclasses.replace(base, run_id=run_id, created_at=created_at, seed=i, run_key=run_key, model=model)
        staging = results.staging_dir(run_id)
        record.write(staging / RECORD_FILE)
        results.publish(staging, record)
    """
)


def test_index_survives_many_writers_and_concurrent_rebuilds(tmp_path):
    """6 processes publish 25 runs each while 2 others rebuild the index over and over."""
    root = tmp_path / "results"
    template = tmp_path / "template.json"
    predictions = make_predictions(
        np.array(["p0", "p1"]), np.array([[0.0], [1.0]]), ("pneumonia",), np.array([[0.2], [0.8]])
    )
    fixture_record("template", predictions, toy_task(name="t"), "m", 0).write(template)
    env = {"PYTHONPATH": str(REPO)}
    jobs = [(w, 25) for w in range(6)] + [(-1, 10), (-2, 10)]
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(root), str(w), str(n), str(template)], env=env, stderr=subprocess.PIPE
        )
        for w, n in jobs
    ]
    errors = [p.communicate()[1].decode() for p in processes]
    assert [p.returncode for p in processes] == [0] * len(jobs), errors
    assert not any("was not updated" in e for e in errors), errors
    with sqlite3.connect(root / INDEX_FILE) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        ids = [row[0] for row in conn.execute("SELECT run_id FROM runs")]
    on_disk = sorted(p.name for p in root.iterdir() if (p / RECORD_FILE).is_file())
    assert len(on_disk) == 150 and sorted(ids) == on_disk  # each run exactly once
    before = _rows(root)
    ResultsDir(root).rebuild_index()
    assert _rows(root) == before


@pytest.mark.slow  # four `benchmark run` processes (index writers at scale: the test above)
def test_parallel_benchmark_runs_each_appear_once(tiny_covid_task, tiny_covid_root, tmp_path):
    """Four `benchmark run` processes started at once into one results directory."""
    env = cli_env(tmp_path / "tasks", tiny_covid_task, name="tinycovid")
    results = tmp_path / "results"
    base = [sys.executable, "-m", "benchmark.cli", "run", "--task", "tinycovid", "--model", "lotko_cnn"]
    options = ["--data-root", str(tiny_covid_root), "--epochs", "1", "--set", "image_size=32"]
    processes = [
        subprocess.Popen(
            [*base, *options, "--seed", str(seed), "--results", str(results)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for seed in range(4)
    ]
    errors = [p.communicate()[1].decode() for p in processes]
    assert [p.returncode for p in processes] == [0] * 4, errors
    run_dirs = sorted(p.name for p in ResultsDir(results).run_dirs())
    assert len(run_dirs) == 4
    with sqlite3.connect(results / INDEX_FILE) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        indexed = sorted(row[0] for row in conn.execute("SELECT run_id FROM runs"))
        seeds = sorted(row[0] for row in conn.execute("SELECT seed FROM runs"))
    assert indexed == run_dirs and seeds == [0, 1, 2, 3]
    before = _rows(results)
    RunIndex(results / INDEX_FILE).replace_all(list)  # emptied ...
    assert _rows(results) == []
    ResultsDir(results).rebuild_index()  # ... and rebuilt from the run directories
    assert _rows(results) == before
