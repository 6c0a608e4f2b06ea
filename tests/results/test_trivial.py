"""Baselines of nothing: the trivial entries of every task, hand-computed values and scikit-learn, in every export."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, average_precision_score, roc_auc_score

from benchmark.metrics.trivial import TRIVIAL_COLUMNS, trivial_table
from benchmark.results.export import render_standings
from benchmark.results.standings import STANDINGS_COLUMNS, task_standings
from tests.fixtures.runs.make import ToyModel, toy_task, write_task_runs


def test_binary_class_prior_scores_half_auroc_majority_accuracy_and_prevalence_auprc():
    y = np.array([1, 1, 1, 0, 0, 0, 0, 0, 0, 0], dtype=float)[:, None]  # 10 images, 3 positive
    table = trivial_table("binary", ("pneumonia",), y)
    assert table["predictor"].tolist() == ["class prior"] and list(table.columns) == TRIVIAL_COLUMNS
    row = table.iloc[0]
    assert row["auroc"] == 0.5 and row["value"] == 0.5 and row["metric"] == "auroc"
    assert row["accuracy"] == pytest.approx(0.7) and row["prevalence"] == pytest.approx(0.3)
    assert row["auprc"] == pytest.approx(0.3) and not row["ranked"]
    constant = np.full(10, 0.3)
    assert row["auroc"] == roc_auc_score(y[:, 0], constant)
    assert row["auprc"] == pytest.approx(average_precision_score(y[:, 0], constant))
    assert row["accuracy"] == pytest.approx(accuracy_score(y[:, 0], constant >= 0.5))


def test_binary_unknown_truth_is_left_out():
    y = np.array([1, 1, 1, 0, 0, 0, 0, 0, 0, 0, np.nan, np.nan])[:, None]
    row = trivial_table("binary", ("pneumonia",), y).iloc[0]
    assert row["accuracy"] == pytest.approx(0.7) and row["prevalence"] == pytest.approx(0.3)


def test_multiclass_class_prior_predicts_the_majority_class():
    classes = np.array([0] * 5 + [1] * 3 + [2] * 2)  # majority class 0: accuracy 0.5, balanced accuracy 1/3
    y = np.eye(3)[classes]
    table = trivial_table("multiclass", ("a", "b", "c"), y, metric="balanced_accuracy")
    row = table.iloc[0]
    assert len(table) == 1 and row["auroc"] == 0.5
    assert row["accuracy"] == pytest.approx(0.5) and row["value"] == pytest.approx(1 / 3)
    assert np.isnan(row["auprc"]) and np.isnan(row["prevalence"])  # no single prevalence for several classes
    constant = np.tile([0.5, 0.3, 0.2], (10, 1))
    assert row["auroc"] == roc_auc_score(classes, constant, multi_class="ovr")
    assert row["accuracy"] == accuracy_score(classes, constant.argmax(1))


def test_multilabel_all_negative_scores_one_minus_prevalence_per_label():
    a = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 0], dtype=float)  # prevalence 0.2
    b = np.array([1, 1, 1, 1, 1, 1, 0, 0, 0, np.nan])  # 6 of 9 known: prevalence 2/3, above 0.5
    y = np.stack([a, b], axis=1)
    table = trivial_table("multilabel", ("a", "b"), y).set_index("predictor")
    assert table.index.tolist() == ["class prior", "all negative"]
    negative, prior = table.loc["all negative"], table.loc["class prior"]
    assert negative["accuracy"] == pytest.approx(((1 - 0.2) + (1 - 2 / 3)) / 2)
    # the prior predicts b positive (2/3 >= 0.5) and a negative: both labels at their majority
    assert prior["accuracy"] == pytest.approx((0.8 + 2 / 3) / 2)
    for row in (negative, prior):
        assert row["auroc"] == 0.5 and row["prevalence"] == pytest.approx((0.2 + 2 / 3) / 2)
        assert row["auprc"] == pytest.approx(row["prevalence"])
    known = ~np.isnan(b)
    expected = np.mean([average_precision_score(a, np.zeros(10)), average_precision_score(b[known], np.zeros(9))])
    assert negative["auprc"] == pytest.approx(expected)
    assert negative["accuracy"] == pytest.approx(
        np.mean([accuracy_score(a, np.zeros(10)), accuracy_score(b[known], np.zeros(9))])
    )


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("trivial")
    task = toy_task(problem="multilabel", labels=("effusion", "mass"))
    write_task_runs(root, task, [ToyModel("strong", 2.0), ToyModel("solo", 1.0, seeds=(0,))], 25,
                    np.random.default_rng(5))  # fmt: skip
    return root, task_standings(root, "toy", n_resamples=50)


def test_standings_carry_the_trivial_entries_of_their_test_truth(board):
    root, standings = board
    from benchmark.results.store import ResultsDir

    store = ResultsDir(root)
    first = store.load_predictions(standings.ranked["run_ids"].iloc[0][0])
    y = first[["true:effusion", "true:mass"]].to_numpy()
    negative = standings.trivial.set_index("predictor").loc["all negative"]
    assert negative["accuracy"] == pytest.approx(np.mean(1 - y.mean(axis=0)))
    assert negative["auprc"] == pytest.approx(np.mean(y.mean(axis=0)))
    assert not standings.trivial["ranked"].any()
    assert "trivial" not in " ".join(standings.entries["entry"])  # never among the entries, never ranked


def test_every_export_carries_the_trivial_rows_unranked(board):
    _, standings = board
    csv = pd.read_csv(io.StringIO(render_standings(standings, "csv")))
    assert list(csv.columns) == STANDINGS_COLUMNS
    trivial = csv[csv["origin"] == "trivial"]
    assert trivial["entry"].tolist() == ["trivial (no model): class prior", "trivial (no model): all negative"]
    assert trivial["rank"].isna().all() and not trivial["ranked"].any() and not trivial["top_group"].any()
    assert trivial["estimate"].tolist() == [0.5, 0.5]  # the table's metric, auroc

    payload = json.loads(render_standings(standings, "json"))
    assert [row["predictor"] for row in payload["trivial"]] == ["class prior", "all negative"]
    assert all(row["ranked"] is False for row in payload["trivial"])
    assert all("trivial" not in row["entry"] for row in payload["ranked"] + payload["unranked"])

    markdown = render_standings(standings, "markdown")
    table_rows = [line for line in markdown.splitlines() if line.startswith("|")]
    assert len(table_rows) == 2 + 2 and "trivial" not in "\n".join(table_rows)  # header, delimiter, 2 entries
    prevalence = standings.trivial["prevalence"].iloc[0]
    assert "trivial \\(no model\\), never ranked" in markdown
    assert f"AUPRC {prevalence:.4f} \\(prevalence {prevalence:.4f}\\)" in markdown
    assert markdown.count("\n- all negative") == 1

    latex = render_standings(standings, "latex")
    entries = latex.split(r"\hline")[2]
    assert "trivial" not in entries and "class prior" in latex.split(r"\hline")[3]
