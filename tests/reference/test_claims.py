"""Published claims beside the board: report 001's two accuracy claims on covid3 get the estimate and CI of
the baseline's entry (checked against scikit-learn on the seed-averaged predictions) and the verdict the
rounding rule gives; claims without an entry say why; export carries them."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import accuracy_score

from benchmark.cli import main
from benchmark.reference.claims import task_verdicts
from benchmark.reference.ledger import load_ledger
from benchmark.results.standings import task_standings
from benchmark.results.store import ResultsDir
from benchmark.tasks import TASKS
from tests.fixtures.runs.make import ToyModel, toy_task, write_task_runs

COVID3 = TASKS.get("covid3")
TASK = toy_task("multiclass", tuple(COVID3.labels), COVID3.task_hash, name="covid3")
CLAIMS = {"matthews-cnn-accuracy": "matthews_cnn", "matthews-ae-accuracy": "matthews_cnn_ae"}


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory):
    """Three seeds of matthews_cnn on a generated 66-image-like test set; no matthews_cnn_ae entry."""
    root = tmp_path_factory.mktemp("board")
    write_task_runs(root, TASK, [ToyModel("matthews_cnn", 1.2, origin="reference")], 40, np.random.default_rng(3))
    return root


def test_a_claim_gets_the_entrys_estimate_and_the_rounding_verdict(board):
    verdicts = {v.claim_id: v for v in task_verdicts(ResultsDir(board, read_only=True), "covid3", n_resamples=300)}
    assert set(CLAIMS) <= set(verdicts)
    ours = verdicts["matthews-cnn-accuracy"]
    store = ResultsDir(board, read_only=True)
    runs = [store.load_predictions(r.run_id) for r in store.query()]
    scores = np.mean([run[[f"score:{label}" for label in COVID3.labels]].to_numpy() for run in runs], axis=0)
    truth = runs[0][[f"true:{label}" for label in COVID3.labels]].to_numpy().argmax(axis=1)
    assert ours.estimate == pytest.approx(accuracy_score(truth, scores.argmax(axis=1)))
    row = task_standings(store, "covid3", metric="accuracy", n_resamples=300).ranked.iloc[0]
    assert (ours.ci_low, ours.ci_high) == (pytest.approx(row["ci_low"]), pytest.approx(row["ci_high"]))
    published_low, published_high = 0.905, 0.915  # "0.91" as printed
    expected = "inside" if published_high >= ours.ci_low and published_low <= ours.ci_high else None
    expected = expected or ("above" if published_low > ours.ci_high else "below")
    assert ours.outcome == expected


def test_a_claim_without_an_entry_says_why(board):
    verdicts = {v.claim_id: v for v in task_verdicts(ResultsDir(board, read_only=True), "covid3", n_resamples=300)}
    missing = verdicts["matthews-ae-accuracy"]
    assert missing.outcome == "not_comparable" and missing.estimate is None
    assert "no entry of matthews_cnn_ae on this board yet" in missing.reason
    every = [c.id for c in load_ledger().claims_for("covid3")]
    assert sorted(verdicts) == sorted(every)  # every published value on the task is listed


def test_export_carries_the_claims(board, capsys):
    args = ["export", "--task", "covid3", "--results", str(board), "--n-resamples", "300", "--format", "json"]
    assert main(args) == 0
    claims = {row["claim"]: row for row in json.loads(capsys.readouterr().out)["claims"]}
    assert claims["matthews-cnn-accuracy"]["published"] == "0.91"
    assert claims["matthews-cnn-accuracy"]["verdict"] in ("inside", "above", "below")
    assert main([*args[:-2], "--format", "markdown"]) == 0
    assert "**Published claims on covid3**" in capsys.readouterr().out
    assert main([*args[:-2], "--format", "markdown", "--no-claims"]) == 0
    assert "Published claims" not in capsys.readouterr().out


def test_the_claims_page_lists_tasks_without_runs(board, monkeypatch):
    from tests.leaderboard.test_app import app

    at = app(board, monkeypatch, page="views/claims.py")
    assert "nih14" in at.selectbox[0].options and "chexpert3" in at.selectbox[0].options
    at.selectbox[0].select("nih14").run()
    assert not at.exception
    table = at.dataframe[0].value
    assert set(table["verdict"]) == {"not comparable"} and table["claim"].str.startswith("wang2017").any()
