"""The leaderboard's table and curve data (leaderboard.tables, leaderboard.curves) against scikit-learn and
the standings they are drawn from."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.calibration import calibration_curve
from sklearn.metrics import roc_auc_score

from benchmark.errors import PredictionsMismatchError
from benchmark.results.standings import task_standings
from benchmark.results.store import PREDICTIONS_FILE, ResultsDir
from leaderboard import curves, tables
from tests.fixtures.runs.make import ToyModel, toy_task, write_task_runs

LABELS = ("covid", "normal", "viral")
MODELS = (
    ToyModel("good", 1.6, family="resnet", image_size=224),
    ToyModel("fair", 0.8, family="cnn"),
    ToyModel("poor", 0.2, family="cnn", origin="submission"),
    ToyModel("single", 1.0, seeds=(4,)),
)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("results")
    write_task_runs(root, toy_task("multiclass", LABELS, "d" * 64, name="other"), MODELS, 50, np.random.default_rng(5))
    return root


@pytest.fixture(scope="module")
def standings(store):
    return task_standings(store, "other", n_resamples=300)


def _predictions(store: Path, run_ids) -> list[pd.DataFrame]:
    return [pd.read_parquet(store / r / PREDICTIONS_FILE) for r in run_ids]


def test_differences_are_entry_minus_reference_with_their_interval(standings):
    estimate = dict(zip(standings.ranked["entry"], standings.ranked["estimate"], strict=True))
    for reference in estimate:
        table = tables.differences_against(standings.comparison.pairs, reference)
        assert sorted(table["model"]) == sorted(set(estimate) - {reference})
        for row in table.itertuples():
            assert row.diff == pytest.approx(estimate[row.model] - estimate[reference])
            assert row.ci_low <= row.diff <= row.ci_high
    worst = tables.differences_against(standings.comparison.pairs, "poor")
    assert (worst["diff"] > 0).all() and worst["diff"].is_monotonic_decreasing


def test_label_aurocs_are_the_mean_of_each_runs_scikit_learn_auroc(store, standings):
    records = {r.run_id: r for r in ResultsDir(store).records()}
    table = tables.label_aurocs(standings.entries, records, LABELS)
    assert table.index.tolist() == standings.entries["entry"].tolist() and table.columns.tolist() == list(LABELS)
    for entry, run_ids in zip(standings.entries["entry"], standings.entries["run_ids"], strict=True):
        frames = _predictions(store, run_ids)
        for label in LABELS:
            expected = np.mean([roc_auc_score(f[f"true:{label}"], f[f"score:{label}"]) for f in frames])
            assert table.loc[entry, label] == pytest.approx(expected)


def test_filters_keep_rows_of_the_chosen_values_only(standings):
    entries = standings.ranked
    assert tables.filter_entries(entries, families=["cnn"])["entry"].tolist() == ["fair", "poor"]
    assert tables.filter_entries(entries, families=["cnn"], origins=["baseline"])["entry"].tolist() == ["fair"]
    assert tables.filter_entries(entries, sizes=[224])["entry"].tolist() == ["good"]
    assert tables.filter_entries(entries)["entry"].tolist() == entries["entry"].tolist()
    options = tables.filter_options(standings)
    assert options["family"] == ["cnn", "resnet", "toy"] and options["origin"] == ["baseline", "submission"]
    assert options["image_size"] == [64, 224]


def test_display_rows_are_the_export_strings_plus_the_entry_fields(standings):
    rows = tables.display_table(standings.ranked, standings.metric)
    first = standings.ranked.iloc[0]
    assert rows["model"].tolist() == standings.ranked["entry"].tolist()
    assert rows["auroc [95% CI]"].iloc[0] == f"{first['estimate']:.4f} [{first['ci_low']:.4f}, {first['ci_high']:.4f}]"
    assert rows["family"].tolist() == ["resnet", "cnn", "cnn"] and rows["input px"].tolist() == [224, 64, 64]
    assert rows["run"].iloc[0] == first["run_ids"][0]
    assert rows["date"].iloc[0] == pd.Timestamp(first["created_at"])


def test_entry_curves_use_the_seed_averaged_predictions(store, standings):
    entries = standings.entries.set_index("entry")
    frames = {name: _predictions(store, entries.loc[name, "run_ids"]) for name in ("good", "poor")}
    averaged = curves.entry_predictions(frames)
    for name, tables_of_entry in frames.items():
        mean = np.mean([f["score:viral"] for f in tables_of_entry], axis=0)
        np.testing.assert_allclose(averaged[name]["score:viral"], mean)

    bins = curves.calibration_table(averaged, "viral")
    for name in ("good", "poor"):
        truth, prob = averaged[name]["true:viral"], averaged[name]["score:viral"]
        observed, predicted = calibration_curve(truth, prob, n_bins=10, strategy="uniform")
        mine = bins[bins["model"] == name]
        np.testing.assert_allclose(mine["fraction_positive"], observed)
        np.testing.assert_allclose(mine["mean_predicted"], predicted)

    roc = curves.roc_table(averaged, "viral", n_resamples=50)
    for name in ("good", "poor"):
        auc = roc_auc_score(averaged[name]["true:viral"], averaged[name]["score:viral"])
        assert roc.loc[roc["model"] == name, "auc"].unique().tolist() == [pytest.approx(auc)]
    assert set(roc["model"]) == {"good", "poor"} and len(roc) == 2 * 101

    shuffled = {"good": [frames["good"][0].sample(frac=1.0, random_state=0)], "poor": frames["poor"][:1]}
    aligned = curves.entry_predictions(shuffled)  # rows follow the first table
    assert aligned["poor"]["image_id"].tolist() == aligned["good"]["image_id"].tolist()
    with pytest.raises(PredictionsMismatchError):
        curves.entry_predictions({"good": frames["good"][:1], "short": [frames["poor"][0].iloc[:-3]]})
