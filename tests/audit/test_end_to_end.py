"""`benchmark audit` end to end on a generated task whose classes differ only in the image border: the three
conditions are trained and scored, the masked runs stay out of the task's standings, the report's CIs are
Task.evaluate's on the masked runs' predictions, the export and the leaderboard show it, a second audit
reuses every run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from benchmark.audit.mask import CONDITIONS, FULL, LUNG_HIDDEN, LUNG_ONLY, LungMask, MaskError
from benchmark.audit.report import export_section
from benchmark.audit.run import AuditRequest, masked_runs_dir, report_path, run_audit
from benchmark.errors import UnknownNameError
from benchmark.results.standings import task_standings
from benchmark.results.store import ResultsDir
from benchmark.tasks import TASKS, Task
from tests.audit.border_data import make_border_dataset
from tests.conftest import pinned_copy

OVERRIDES = {"image_size": 16, "epochs": 2, "lr": 0.01, "batch_size": 16, "early_stopping_patience": None}


@pytest.fixture(scope="module")
def border_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_border_dataset(tmp_path_factory.mktemp("border"))


@pytest.fixture(scope="module")
def border_task(border_root: Path) -> Task:
    return pinned_copy(TASKS.get("covid3"), border_root, bootstrap={"n_resamples": 200, "seed": 0})


@pytest.fixture(scope="module")
def audited(border_task: Task, border_root: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    results = tmp_path_factory.mktemp("results")
    request = AuditRequest(border_task, "lotko_cnn", (0,), str(border_root), results, dict(OVERRIDES))
    report, _ = run_audit(request)
    return report, results


def test_report_written_with_three_conditions(audited: tuple[dict, Path], border_task: Task) -> None:
    report, results = audited
    path = report_path(results, border_task.name, "lotko_cnn")
    assert json.loads(path.read_text()) == json.loads(json.dumps(report, default=str).replace("NaN", "null"))
    assert [row["condition"] for row in report["rows"]] == list(CONDITIONS)
    assert report["settings"]["mask"]["pixel_rows"] == [2, 14]  # 2.4 and 14.4 at 16 px
    assert report["settings"]["mask"]["pixel_cols"] == [2, 14]  # 1.92 and 14.08
    hashes = {row["task_hash"] for row in report["rows"]}
    assert len(hashes) == 3 and report["task_hash"] == border_task.task_hash in hashes


def test_masked_runs_stay_out_of_the_task_standings(audited: tuple[dict, Path], border_task: Task) -> None:
    report, results = audited
    own = ResultsDir(results).query()
    assert [run.run_id for run in own] == report["settings"]["runs"][FULL]
    standings = task_standings(results, border_task.name)
    assert standings.task_hash == border_task.task_hash and not standings.other_task_hashes
    shown = [run_id for ids in standings.entries["run_ids"] for run_id in ids]
    assert shown == report["settings"]["runs"][FULL]
    masked = ResultsDir(masked_runs_dir(results)).query()
    assert sorted(run.run_id for run in masked) == sorted(
        report["settings"]["runs"][LUNG_HIDDEN] + report["settings"]["runs"][LUNG_ONLY]
    )
    assert all(run.task_hash != border_task.task_hash for run in masked)


def test_report_cis_are_task_evaluate_on_masked_predictions(audited: tuple[dict, Path], border_task: Task) -> None:
    report, results = audited
    stores = {FULL: ResultsDir(results), LUNG_HIDDEN: ResultsDir(masked_runs_dir(results))}
    stores[LUNG_ONLY] = stores[LUNG_HIDDEN]
    for row in report["rows"]:
        (run_id,) = report["settings"]["runs"][row["condition"]]
        reference = border_task.evaluate(stores[row["condition"]].load_predictions(run_id))["metrics"]["auroc"]
        got = (row["value"], row["ci_low"], row["ci_high"])
        assert got == pytest.approx((reference["value"], reference["ci_low"], reference["ci_high"]), abs=1e-12)
        assert row["n_images"] == border_task.expected_counts["test"]


def test_border_signal_is_flagged(audited: tuple[dict, Path]) -> None:
    """The classes are told apart by the border only: hiding the lung field keeps them apart, showing only
    the lung field loses them."""
    report, _ = audited
    rows = {row["condition"]: row for row in report["rows"]}
    assert rows[LUNG_HIDDEN]["value"] > 0.9 and rows[LUNG_ONLY]["ci_low"] < 0.6
    assert report["summary"]["flagged"]


def test_export_section_and_leaderboard_warning(audited: tuple[dict, Path], border_task: Task) -> None:
    report, results = audited
    standings = task_standings(results, border_task.name)
    markdown, rows = export_section(ResultsDir(results, read_only=True), standings, {})
    assert "Shortcut audit" in markdown and "lung field hidden" in markdown and "FLAGGED" in markdown
    assert [row["condition"] for row in rows] == list(CONDITIONS) and all(row["flagged"] for row in rows)
    other = type(standings)(**{**standings.__dict__, "task_hash": "f" * 64})
    assert export_section(ResultsDir(results, read_only=True), other, {}) is None  # another task version

    def page(root: str, task: str, task_hash: str) -> None:
        from types import SimpleNamespace

        from leaderboard import audit_flag

        audit_flag.show(root, SimpleNamespace(task_name=task, task_hash=task_hash))

    at = AppTest.from_function(
        page, args=(str(results), border_task.name, border_task.task_hash), default_timeout=60
    ).run()
    assert not at.exception and len(at.warning) == 1
    hidden = next(row for row in report["rows"] if row["condition"] == LUNG_HIDDEN)
    assert f"{hidden['value']:.3f}" in at.warning[0].value
    at = AppTest.from_function(page, args=(str(results), border_task.name, "f" * 64), default_timeout=60).run()
    assert not at.exception and len(at.warning) == 0


def test_second_audit_reuses_every_run(audited: tuple[dict, Path], border_task: Task, border_root: Path) -> None:
    report, results = audited
    before = sorted(p.name for p in results.iterdir()), sorted(p.name for p in masked_runs_dir(results).iterdir())
    again, _ = run_audit(AuditRequest(border_task, "lotko_cnn", (0,), str(border_root), results, dict(OVERRIDES)))
    after = sorted(p.name for p in results.iterdir()), sorted(p.name for p in masked_runs_dir(results).iterdir())
    assert before == after and again["settings"]["runs"] == report["settings"]["runs"]
    assert np.allclose([r["value"] for r in again["rows"]], [r["value"] for r in report["rows"]])


def test_bad_input_writes_nothing(border_task: Task, border_root: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    with pytest.raises(MaskError, match="covers no pixel"):
        run_audit(AuditRequest(border_task, "lotko_cnn", (0,), str(border_root), results, dict(OVERRIDES),
                               mask=LungMask(rows=(0.5, 0.52))))  # fmt: skip
    with pytest.raises(UnknownNameError):
        run_audit(AuditRequest(border_task, "no_such_model", (0,), str(border_root), results))
    with pytest.raises(UnknownNameError):
        run_audit(AuditRequest("no_such_task", "lotko_cnn", (0,), str(border_root), results))
    assert not results.exists()


def test_ranking_page_shows_the_flag(audited: tuple[dict, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """The leaderboard's ranking page (leaderboard/app.py on the audited results folder) carries the warning."""
    from leaderboard import data
    from tests.conftest import REPO

    _, results = audited
    monkeypatch.setenv(data.RESULTS_ENV, str(results))
    at = AppTest.from_file(str(REPO / "leaderboard" / "app.py"), default_timeout=120).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Shortcut audit" in w.value and "FLAGGED" in w.value for w in at.warning)
