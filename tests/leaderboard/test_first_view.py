"""The first view prepared before the server opens its port (leaderboard.data.prepare_first_view, called by
leaderboard.serve): the page shows the prepared standings without computing them again, and a run published
after the preparation is ranked on the next view (the folder's fingerprint keys what was prepared)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from benchmark.errors import RecordError
from benchmark.results.standings import task_standings
from leaderboard import data, serve
from tests.conftest import REPO
from tests.fixtures.runs.make import make_predictions, patients, scores, toy_task, truth, write_run

APP = REPO / "leaderboard" / "app.py"
TASK = toy_task(task_hash="f" * 64, name="first")


class SharedTestSet:
    """One generated test set: every model's runs score the same images, as runs of one task hash do."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.pid = patients(40, self.rng, 3)
        self.y = truth(self.pid, tuple(TASK["labels"]), TASK["problem"], self.rng)
        self.hour = 0

    def publish(self, root: Path, model: str, skill: float, seeds: tuple[int, ...] = (0, 1, 2)) -> None:
        for seed in seeds:
            frame = make_predictions(self.pid, self.y, tuple(TASK["labels"]), scores(self.y, "binary", skill, self.rng))
            created_at = (datetime(2025, 1, 1, tzinfo=timezone.utc) + timedelta(hours=self.hour)).isoformat()
            write_run(root, frame, TASK, model, seed, created_at=created_at)
            self.hour += 1


def ranked_models(root: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ranked table's models on the board's first view of ``root`` (no URL query)."""
    monkeypatch.setenv(data.RESULTS_ENV, str(root))
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at.dataframe[0].value["model"].tolist()


def refuse_to_rank(*args: object, **kwargs: object) -> None:
    raise AssertionError("the standings were computed again")


def test_the_first_view_shows_the_prepared_standings_without_computing_them(tmp_path, monkeypatch):
    root = tmp_path / "results"
    runs = SharedTestSet(1)
    runs.publish(root, "good_net", 1.5)
    runs.publish(root, "poor_net", 0.2)
    expected = task_standings(root, "first").ranked["entry"].tolist()

    prepared = data.prepare_first_view(root)
    assert (prepared.task, prepared.task_hash, prepared.entries) == ("first", TASK["hash"], 2)
    assert "first view prepared" in prepared.describe()
    monkeypatch.setattr(data, "task_standings", refuse_to_rank)  # what data.standings computes with
    assert ranked_models(root, monkeypatch) == expected == ["good_net", "poor_net"]


def test_a_run_published_after_the_preparation_is_ranked_on_the_next_view(tmp_path, monkeypatch):
    root = tmp_path / "results"
    runs = SharedTestSet(2)
    runs.publish(root, "good_net", 1.5)
    runs.publish(root, "poor_net", 0.2)
    data.prepare_first_view(root)
    runs.publish(root, "new_net", 3.0)  # after the server started: the prepared standings are stale

    shown = ranked_models(root, monkeypatch)
    assert shown == task_standings(root, "first").ranked["entry"].tolist()
    assert sorted(shown) == ["good_net", "new_net", "poor_net"]

    monkeypatch.setattr(data, "task_standings", refuse_to_rank)  # a view of a folder that changed computes
    runs.publish(root, "later_net", 0.1)
    with pytest.raises(AssertionError, match="computed again"):
        data.standings(str(root), data.fingerprint(root), "first", TASK["hash"])


def test_serve_prepares_the_folder_named_after_the_double_dash_and_leaves_errors_to_the_page(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    serve.prepare(["run", str(APP), "--server.port", "8600", "--", "--results", str(empty)])
    assert f"no runs in {empty} yet" in capsys.readouterr().err

    root = tmp_path / "results"
    SharedTestSet(3).publish(root, "only_net", 1.0)
    serve.prepare(["run", str(APP), "--", "--results", str(root)])
    assert "task first (ffffffffffff) ranked, 1 entries" in capsys.readouterr().err

    broken = tmp_path / "broken"
    (broken / "20250101T000000Z-first-x-s0-abcdef").mkdir(parents=True)
    (broken / "20250101T000000Z-first-x-s0-abcdef" / "record.json").write_text("{not json")
    with pytest.raises(RecordError):  # what the page shows on view
        data.prepare_first_view(broken)
    serve.prepare(["run", str(APP), "--", "--results", str(broken)])
    assert "first view not prepared (RecordError" in capsys.readouterr().err
