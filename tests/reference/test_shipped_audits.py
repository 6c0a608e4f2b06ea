"""The board's shipped shortcut audits (leaderboard/reference.yaml ``audits``): each report is what the audit's
scoring gives on the shipped runs it names, its masked runs ship records and predictions only, and the
leaderboard warns on the flagged task of the default board."""

from __future__ import annotations

import json
import math

import pytest

from benchmark.audit.mask import LungMask
from benchmark.audit.report import task_audits
from benchmark.audit.run import AUDITS_DIR, RUNS_DIR, score_audit
from benchmark.audit.task import MaskedTask
from benchmark.reference.board import shipped_results, with_reference
from benchmark.reference.plan import load_plan
from benchmark.results.record import RECORD_FILE
from benchmark.results.store import ResultsDir
from benchmark.tasks import TASKS


def _reports() -> dict[tuple[str, str], dict]:
    folder = shipped_results() / AUDITS_DIR
    return {(r["task"], r["model"]): r for r in (json.loads(p.read_text()) for p in sorted(folder.glob("*.json")))}


def test_every_planned_audit_is_shipped_with_its_masked_runs():
    reports = _reports()
    assert set(reports) == {(audit.task, audit.model) for audit in load_plan().audits}
    masked = ResultsDir(shipped_results() / AUDITS_DIR / RUNS_DIR, read_only=True)
    for report in reports.values():
        for condition, run_ids in report["settings"]["runs"].items():
            assert len(run_ids) == 3, condition
            for run_id in run_ids:
                folder = (masked if condition != "full" else ResultsDir(shipped_results(), read_only=True)).find(run_id)
                assert (folder / RECORD_FILE).is_file()
                assert not list(folder.glob("*.pt")), f"{folder} ships weights"


@pytest.mark.parametrize("key", sorted(_reports()))
def test_a_shipped_report_is_its_runs_scored_again(key):
    report = _reports()[key]
    task = TASKS.get(report["task"])
    board = ResultsDir(shipped_results(), read_only=True)
    masked = ResultsDir(shipped_results() / AUDITS_DIR / RUNS_DIR, read_only=True)
    runs = {}
    for condition, run_ids in report["settings"]["runs"].items():
        store = board if condition == "full" else masked
        records = [store.load_record(run_id) for run_id in run_ids]
        if condition != "full":  # each masked run is of the masked task: the task plus the report's mask
            expected = MaskedTask.of(task, LungMask(**_bounds(report)), condition).task_hash
            assert {record.task.hash for record in records} == {expected}
            assert all(record.external is None for record in records)  # nothing scored unmasked
        runs[condition] = [(record, store.read_predictions(record)) for record in records]
    again = score_audit(task, runs, LungMask(**_bounds(report)), report["settings"]["margin"], report["model"])
    for shipped, computed in zip(report["rows"], again["rows"], strict=True):
        for column, value in computed.items():
            if isinstance(value, float) and math.isnan(value):
                assert shipped[column] is None, column
            else:
                assert shipped[column] == pytest.approx(value, abs=1e-12), (shipped["condition"], column)
    assert report["summary"]["flagged"] == again["summary"]["flagged"]


def _bounds(report: dict) -> dict:
    mask = report["settings"]["mask"]
    return {"rows": tuple(mask["rows"]), "cols": tuple(mask["cols"]), "fill": mask["fill"]}


def test_the_default_board_reads_the_shipped_audits(tmp_path, monkeypatch):
    monkeypatch.delenv("CXRBENCH_REFERENCE", raising=False)
    results = with_reference(tmp_path / "empty")
    for (task, model), report in _reports().items():
        found = task_audits(results, task, TASKS.get(task).task_hash)
        assert [r["model"] for r in found] == [model] and found[0]["rows"] == report["rows"]
