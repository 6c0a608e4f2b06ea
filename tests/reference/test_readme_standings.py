"""The README's standings are the export of the shipped board: a test fails when they differ."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmark.reference.readme import ANCHOR, render_blocks, shipped_tasks
from tests.fixtures.runs.make import ToyModel, toy_task, write_task_runs

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_standings_equal_the_export_of_the_shipped_board():
    text = README.read_text()
    assert ANCHOR in text
    assert render_blocks(text) == text, "README standings differ: run `python -m benchmark.reference.readme`"
    for task in shipped_tasks():
        assert f"<!-- standings:{task} -->" in text


def test_blocks_are_written_for_new_tasks_and_replaced_when_the_board_changes(tmp_path):
    board = tmp_path / "board"
    write_task_runs(board, toy_task(name="toyreadme"), [ToyModel("strong", 2.0, origin="reference")], 30,
                    np.random.default_rng(1))  # fmt: skip
    readme = f"# Title\n\n{ANCHOR}\n\nrest\n"
    written = render_blocks(readme, board)
    assert "<!-- standings:toyreadme -->\n**" in written and "| strong |" in written.replace("\\_", "_")
    assert render_blocks(written, board) == written  # in step: unchanged
    stale = written.replace("| strong |", "| stale |")
    assert render_blocks(stale, board) == written
    assert render_blocks(written, tmp_path / "empty") == readme  # a task gone from the board loses its block
