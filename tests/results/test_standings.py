"""A task's leaderboard table: ranked entries (>= 3 seeds) compared, unranked apart, one task hash."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from benchmark.errors import RunNotFoundError
from benchmark.results.record import RECORD_FILE, RunRecord
from benchmark.results.standings import STANDINGS_COLUMNS, task_standings
from benchmark.results.store import ResultsDir
from tests.fixtures.runs.make import (
    fixture_record,
    make_predictions,
    patients,
    place_run,
    scores,
    toy_task,
    truth,
    write_run,
)

SKILL = {"strong_net": 1.8, "weak_cnn": 0.3, "solo_model": 1.0}
SEEDS = {"strong_net": (0, 1, 2), "weak_cnn": (0, 1, 2), "solo_model": (0,)}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    rng = np.random.default_rng(3)
    pid = patients(120, rng)
    y = truth(pid, ("pneumonia",), "binary", rng)
    root = tmp_path_factory.mktemp("results")
    frames = {}
    for model, seeds in SEEDS.items():
        for seed in seeds:
            frames[(model, seed)] = make_predictions(pid, y, ("pneumonia",), scores(y, "binary", SKILL[model], rng))
            write_run(root, frames[(model, seed)], toy_task(), model, seed)
    # the same seed again (placed by hand: the store refuses it since it checks seeds), a reproduction and
    # a run of another task hash: none of them is counted
    repeat = fixture_record("20250201T000000Z-toy-weak_cnn-s0-repeat", frames[("weak_cnn", 0)], toy_task(), "weak_cnn",
                            0, created_at="2025-02-01T00:00:00+00:00", run_key="repeat")  # fmt: skip
    place_run(root, repeat, frames[("weak_cnn", 0)])
    ResultsDir(root).rebuild_index()
    old = toy_task(task_hash="f" * 64)
    write_run(root, frames[("strong_net", 0)], old, "strong_net", 0, created_at="2024-01-01T00:00:00+00:00")
    return root, frames


def test_ranked_entries_have_three_seeds_and_single_seed_entries_stand_apart(store):
    root, frames = store
    standings = task_standings(root, "toy", task_hash="a" * 64, n_resamples=300)
    assert list(standings.ranked.columns) == STANDINGS_COLUMNS
    assert standings.ranked["entry"].tolist() == ["strong_net", "weak_cnn"]
    assert standings.ranked["n_seeds"].tolist() == [3, 3] and standings.ranked["ranked"].all()
    assert standings.unranked["entry"].tolist() == ["solo_model"]
    assert standings.unranked["rank"].isna().all() and not standings.unranked["top_group"].any()
    assert standings.other_task_hashes == ("f" * 64,)

    # the estimate is the AUROC of the seed-averaged scores (scikit-learn)
    mean_score = np.mean([frames[("strong_net", s)]["score:pneumonia"] for s in (0, 1, 2)], axis=0)
    truth_column = frames[("strong_net", 0)]["true:pneumonia"]
    assert standings.ranked["estimate"].iloc[0] == pytest.approx(roc_auc_score(truth_column, mean_score))
    per_seed = [roc_auc_score(truth_column, frames[("strong_net", s)]["score:pneumonia"]) for s in (0, 1, 2)]
    assert standings.ranked["mean"].iloc[0] == pytest.approx(np.mean(per_seed))
    assert standings.ranked["sd"].iloc[0] == pytest.approx(np.std(per_seed, ddof=1))
    # a much weaker model is outside the top group
    assert standings.ranked["top_group"].tolist() == [True, False]
    assert standings.comparison is not None and len(standings.comparison.pairs) == 1


def test_repeated_seed_runs_are_set_aside_not_ranked_twice(store):
    root, _ = store
    standings = task_standings(root, "toy", task_hash="a" * 64, n_resamples=200)
    assert len(standings.set_aside) == 1
    aside = RunRecord.load(root / standings.set_aside[0] / RECORD_FILE)
    assert aside.model.name == "weak_cnn" and aside.created_at.startswith("2025-02")


def test_reproductions_are_not_counted(store, tmp_path):
    root, _ = store
    copy = tmp_path / "results"
    for path in ResultsDir(root).run_dirs():
        (copy / path.name).mkdir(parents=True)
        for file in path.iterdir():
            (copy / path.name / file.name).write_bytes(file.read_bytes())
    solo = next(p for p in ResultsDir(copy).run_dirs() if "solo_model" in p.name)
    original = RunRecord.load(solo / RECORD_FILE)
    record = dataclasses.replace(original, run_id=original.run_id + "-again", reproduces=original.run_id, seed=1)
    (copy / record.run_id).mkdir()
    record.write(copy / record.run_id / RECORD_FILE)
    (copy / record.run_id / "predictions.parquet").write_bytes((solo / "predictions.parquet").read_bytes())
    standings = task_standings(copy, "toy", task_hash="a" * 64, n_resamples=200)
    assert record.run_id in standings.set_aside
    assert standings.unranked["n_seeds"].tolist() == [1]


def test_unknown_task_is_a_typed_error(store):
    root, _ = store
    with pytest.raises(RunNotFoundError, match="no runs of task 'nih14'"):
        task_standings(root, "nih14")


def test_export_formats_parse_and_carry_the_table(store, tmp_path, capsys):
    import io

    import pandas as pd
    from pylatexenc.latex2text import LatexNodes2Text
    from pylatexenc.latexwalker import LatexEnvironmentNode, LatexWalker

    from benchmark.cli import main

    root, _ = store
    base = ["export", "--task", "toy", "--task-hash", "a" * 64, "--results", str(root), "--n-resamples", "200"]
    assert main([*base, "--format", "csv"]) == 0
    table = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert list(table.columns) == STANDINGS_COLUMNS
    table = table[table["origin"] != "trivial"]  # the trivial entries follow (tests/results/test_trivial.py)
    assert table["entry"].tolist() == ["strong_net", "weak_cnn", "solo_model"]
    assert table["ranked"].tolist() == [True, True, False]

    assert main([*base, "--format", "json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["task_hash"] == "a" * 64 and [e["entry"] for e in payload["unranked"]] == ["solo_model"]
    assert payload["unranked"][0]["rank"] is None and len(payload["pairs"]) == 1
    assert "Holm" in payload["methods"]

    out = tmp_path / "table.tex"
    assert main([*base, "--format", "latex", "--out", str(out)]) == 0
    latex = out.read_text()
    nodes, _, _ = LatexWalker(latex).get_latex_nodes()
    tabulars = [n for n in nodes if isinstance(n, LatexEnvironmentNode) and n.environmentname == "tabular"]
    assert len(tabulars) == 1
    body = latex.split(r"\hline")[2]  # header, then the entry rows
    assert len([line for line in body.splitlines() if line.endswith(r"\\")]) == 3
    assert r"\textbf{" in latex and "strong\\_net" in latex
    assert "strong_net" in LatexNodes2Text().latex_to_text(latex)

    assert main([*base, "--format", "markdown"]) == 0
    markdown = capsys.readouterr().out
    assert markdown.count("| strong_net |") == 1 and "unranked" in markdown


def test_entry_aurc_is_that_of_the_seed_averaged_predictions(store):
    root, frames = store
    standings = task_standings(root, "toy", task_hash="a" * 64, n_resamples=50)
    entries = standings.entries.set_index("entry")
    for model, seeds in SEEDS.items():
        y = frames[(model, seeds[0])]["true:pneumonia"].to_numpy()
        p = np.mean([frames[(model, s)]["score:pneumonia"].to_numpy() for s in seeds], axis=0)
        error = ((p >= 0.5) != (y == 1))[np.argsort(-np.maximum(p, 1 - p), kind="stable")]  # no ties in these scores
        expected = np.mean(np.cumsum(error) / np.arange(1, len(y) + 1))
        assert entries.loc[model, "aurc"] == pytest.approx(expected, abs=1e-12)
    assert entries.loc["strong_net", "aurc"] < entries.loc["weak_cnn", "aurc"]
