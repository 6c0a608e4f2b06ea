"""The shipped reference board is read beside the user's results: runs, export and the leaderboard show
its entries with the user's, rank a submission against them, and never write the board's folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from benchmark.cli import main
from benchmark.reference.board import REFERENCE_ENV, reference_roots, shipped_results, with_reference
from benchmark.reference.plan import load_plan
from benchmark.results.combined import CombinedResults
from benchmark.results.index import INDEX_FILE
from benchmark.results.standings import task_standings
from benchmark.results.store import ResultsDir
from tests.fixtures.runs.make import ToyModel, toy_task, write_task_runs

TASK = toy_task(name="toyboard")
BOARD_MODELS = [ToyModel("strong", 2.5, origin="reference"), ToyModel("weak", 0.4, origin="reference")]
MINE = ToyModel("submission:mine", 2.0, origin="submission")


def snapshot(folder: Path) -> dict[str, tuple[int, bytes]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.read_bytes()) for p in folder.rglob("*") if p.is_file()
    }


@pytest.fixture
def folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """(the user's results with one 3-seed submission, a reference board with two 3-seed baselines), one test set."""
    board, mine = tmp_path / "board", tmp_path / "results"
    ids = write_task_runs(board, TASK, [*BOARD_MODELS, MINE], n_patients=60, rng=np.random.default_rng(0))
    mine.mkdir()
    for run_id in ids[-3:]:
        shutil.move(board / run_id, mine / run_id)
    for index in [*board.glob(INDEX_FILE + "*"), *mine.glob(INDEX_FILE + "*")]:
        index.unlink()  # a shipped board has no index; the user's is rebuilt
    monkeypatch.setenv(REFERENCE_ENV, str(board))
    return mine, board


def test_the_plan_publishes_where_the_board_is_read():
    assert load_plan().results == shipped_results()
    assert reference_roots({}) == (shipped_results(),)
    assert reference_roots({REFERENCE_ENV: "none"}) == ()


def test_runs_lists_the_board_beside_the_users_results(folders, capsys):
    mine, board = folders
    before = snapshot(board)
    assert main(["runs", "--results", str(mine)]) == 0
    lines = capsys.readouterr().out.splitlines()[1:]
    assert sorted(line.split()[3] for line in lines) == ["reference"] * 6 + ["submission"] * 3
    assert main(["runs", "--results", str(mine), "--no-reference"]) == 0
    assert len(capsys.readouterr().out.splitlines()[1:]) == 3
    assert main(["show", next(p.name for p in board.iterdir()), "--results", str(mine)]) == 0
    assert snapshot(board) == before  # read-only: no index, no side file


def test_a_submission_is_ranked_against_the_board(folders, capsys):
    mine, board = folders
    before = snapshot(board)
    combined = with_reference(mine)
    assert isinstance(combined, CombinedResults)
    standings = task_standings(combined, "toyboard", n_resamples=200)
    assert sorted(standings.ranked["model"]) == ["strong", "submission:mine", "weak"]
    assert set(standings.ranked["origin"]) == {"reference", "submission"}
    mine_only = task_standings(ResultsDir(mine), "toyboard", n_resamples=200)
    assert list(mine_only.ranked["model"]) == ["submission:mine"]
    assert main(["export", "--task", "toyboard", "--results", str(mine), "--n-resamples", "200"]) == 0
    table = capsys.readouterr().out
    assert all(f"| {name} |" in table for name in ("strong", "weak", "submission\\:mine"))  # Markdown-escaped
    assert snapshot(board) == before


def test_the_leaderboard_shows_the_board(folders, monkeypatch):
    from tests.leaderboard.test_app import app, frame

    mine, board = folders
    before = snapshot(board)
    at = app(mine, monkeypatch)
    shown = frame(at)
    assert {"strong", "weak", "submission:mine"} <= set(shown.astype(str).to_numpy().ravel())
    assert snapshot(board) == before
