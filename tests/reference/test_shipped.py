"""The shipped reference runs (leaderboard/reference/): each belongs to its task's current hash, its
predictions cover exactly the pinned test ids, nothing but records and predictions is shipped, and the
cheapest one reproduced by `benchmark reproduce` gives identical metrics."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch

from benchmark.cli import main
from benchmark.data.build.lung64 import build_lung3_64
from benchmark.reference.board import shipped_results
from benchmark.results.record import RECORD_FILE, RunRecord
from benchmark.results.store import PREDICTIONS_FILE, VAL_PREDICTIONS_FILE, ResultsDir
from benchmark.tasks import TASKS

SHIPPED_FILES = {RECORD_FILE, PREDICTIONS_FILE, VAL_PREDICTIONS_FILE}


def shipped() -> list[RunRecord]:
    folder = shipped_results()
    return [
        ResultsDir(folder, read_only=True).load_record(p.name)
        for p in sorted(folder.iterdir())
        if (p / RECORD_FILE).is_file()
    ]


@pytest.fixture(scope="module")
def data_roots(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Where each shipped task's data is: ../shared/data, and lung3_64 built from its real NIH images."""
    built = tmp_path_factory.mktemp("lung")
    task = TASKS.get("lung3_64")
    build_lung3_64(task, shared_data, shared_data / "nih14_64px", built / "lung3_64" / "lung3_64.npz")
    return {"lung3_64": built}


def root_of(task: str, roots: dict[str, Path], shared_data: Path) -> Path:
    return roots.get(task, shared_data)


def test_the_board_ships_records_and_predictions_only():
    records = shipped()
    assert records, "the reference board ships no run"
    for record in records:
        folder = shipped_results() / record.run_id
        assert {p.name for p in folder.iterdir()} <= SHIPPED_FILES, record.run_id
        assert record.origin == "reference" and record.files is not None
        assert any(name.endswith(".pt") for name in record.files)  # the weights' sha256 stays in the record


def test_every_shipped_run_is_of_its_tasks_current_hash():
    stale = [f"{r.run_id} ({r.task.name})" for r in shipped() if r.task.hash != TASKS.get(r.task.name).task_hash]
    assert not stale, f"task files changed since these reference runs: {stale}; re-run them from the plan"


def test_shipped_predictions_cover_exactly_the_pinned_test_ids(data_roots, shared_data):
    store = ResultsDir(shipped_results(), read_only=True)
    for task_name in sorted({r.task.name for r in shipped()}):
        data = TASKS.get(task_name).load_data(root_of(task_name, data_roots, shared_data))
        expected = sorted(data.frame.loc[data.frame["split"] == "test", "image_id"].astype(str))
        for record in (r for r in shipped() if r.task.name == task_name):
            ids = store.read_predictions(record)["image_id"].astype(str).tolist()  # checked against its sha256
            assert sorted(ids) == expected and len(ids) == len(set(ids)), record.run_id


@contextmanager
def threads(n: int) -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.mark.slow  # trains the cheapest reference run again
def test_the_cheapest_reference_run_reproduces_identically(data_roots, shared_data, tmp_path, capsys):
    cheapest = min(shipped(), key=lambda r: r.durations_s.total)
    results = tmp_path / "results"
    shutil.copytree(shipped_results() / cheapest.run_id, results / cheapest.run_id)
    root = root_of(cheapest.task.name, data_roots, shared_data)
    with threads(cheapest.hardware.torch_threads):  # CPU results are bitwise equal for the same thread count
        code = main(
            ["reproduce", cheapest.run_id, "--results", str(results), "--data-root", str(root), "--device", "cpu"]
        )
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"identical: all {len(cheapest.metrics)} metrics" in out
