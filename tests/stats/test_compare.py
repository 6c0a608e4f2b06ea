"""compare() and `benchmark compare` on run directories written from generated predictions."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pylatexenc.latex2text import LatexNodes2Text
from pylatexenc.latexwalker import LatexEnvironmentNode, LatexWalker
from sklearn.metrics import f1_score, roc_auc_score
from statsmodels.stats.multitest import multipletests

from benchmark.cli import main
from benchmark.errors import StatisticsError, TaskMismatchError
from benchmark.stats import ENTRY_COLUMNS, PAIR_COLUMNS, compare, delong_test, draw_resamples, load_runs
from benchmark.stats.render import latex_escape
from benchmark.stats.resample import Clusters
from tests.fixtures.runs.make import make_predictions, patients, scores, toy_task, truth, write_run

MODELS = {"strong_net": 1.6, "strong_twin": 1.55, "weak_cnn": 0.5}  # name -> skill; two seeds each


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], dict]:
    rng = np.random.default_rng(0)
    pid = patients(150, rng)
    y = truth(pid, ("pneumonia",), "binary", rng)
    root = tmp_path_factory.mktemp("results")
    ids, raw = [], {}
    for model, skill in MODELS.items():
        for seed in (0, 1):
            frame = make_predictions(pid, y, ("pneumonia",), scores(y, "binary", skill, rng))
            thresholds = [0.4 + 0.1 * seed]
            ids.append(write_run(root, frame, toy_task(), model, seed, thresholds))
            raw[(model, seed)] = (frame, thresholds[0])
    return root, ids, raw


def _averaged(raw: dict, model: str) -> tuple[np.ndarray, np.ndarray]:
    frames = [raw[(model, seed)][0] for seed in (0, 1)]
    return frames[0]["true:pneumonia"].to_numpy(), np.mean([f["score:pneumonia"].to_numpy() for f in frames], axis=0)


def test_entries_are_scored_on_seed_averaged_predictions_with_seed_spread(results):
    root, ids, raw = results
    comparison = compare(load_runs(root, ids), n_resamples=300)
    entries = comparison.entries
    assert list(entries.columns) == ENTRY_COLUMNS and list(comparison.pairs.columns) == PAIR_COLUMNS
    assert entries["entry"].iloc[0] == comparison.best == "strong_net"
    for row in entries.itertuples():
        y, averaged = _averaged(raw, row.entry)
        assert row.estimate == pytest.approx(roc_auc_score(y, averaged), abs=1e-12)
        per_seed = [roc_auc_score(y, raw[(row.entry, s)][0]["score:pneumonia"]) for s in (0, 1)]
        assert (row.mean, row.sd) == pytest.approx((np.mean(per_seed), np.std(per_seed, ddof=1)), abs=1e-12)
        assert row.n_seeds == 2 and row.seeds == [0, 1] and row.origin == "baseline"
        assert row.ci_low < row.estimate < row.ci_high
    assert entries["rank"].tolist() == [1, 2, 3]
    assert comparison.settings["unit"] == "patient" and comparison.settings["n_units"] == 150


def test_pairs_share_resamples_and_holm_picks_the_top_group(results):
    root, ids, raw = results
    comparison = compare(load_runs(root, ids), n_resamples=300, seed=4)
    pairs = comparison.pairs
    np.testing.assert_allclose(pairs["p_adjusted"], multipletests(pairs["p_value"], method="holm")[1])
    assert comparison.top_group == ["strong_net", "strong_twin"]
    weak = pairs[pairs["entry_b"] == "weak_cnn"]
    assert weak["significant"].all() and (weak["diff"] > 0).all()
    # One pair replayed with sklearn on the same patient resamples.
    frame = raw[("strong_net", 0)][0]
    resamples = draw_resamples(Clusters.of(frame["patient_id"].to_numpy()), 300, seed=4)
    y, a = _averaged(raw, "strong_net")
    _, b = _averaged(raw, "weak_cnn")
    diffs = [roc_auc_score(y[r], a[r]) - roc_auc_score(y[r], b[r]) for r in map(resamples.image_indices, range(300))]
    row = pairs[(pairs["entry_a"] == "strong_net") & (pairs["entry_b"] == "weak_cnn")].iloc[0]
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(tuple(np.quantile(diffs, [0.025, 0.975])), abs=1e-12)
    bh = compare(load_runs(root, ids), n_resamples=300, seed=4, correction="bh").pairs
    np.testing.assert_allclose(bh["p_adjusted"], multipletests(bh["p_value"], method="fdr_bh")[1])


def test_threshold_metrics_use_the_mean_of_each_runs_validation_threshold(results):
    root, ids, raw = results
    entries = compare(load_runs(root, ids), metric="f1", n_resamples=50).entries.set_index("entry")
    y, averaged = _averaged(raw, "weak_cnn")
    assert entries.loc["weak_cnn", "estimate"] == pytest.approx(f1_score(y, averaged >= 0.45), abs=1e-12)


def test_delong_option_tests_the_seed_averaged_aurocs(results):
    root, ids, raw = results
    comparison = compare(load_runs(root, ids), test="delong", n_resamples=50)
    row = comparison.pairs.iloc[0]
    y, a = _averaged(raw, row["entry_a"])
    _, b = _averaged(raw, row["entry_b"])
    expected = delong_test(y, a, b)
    assert (row["diff"], row["z"], row["p_value"]) == pytest.approx((expected.diff, expected.z, expected.p_value))
    with pytest.raises(StatisticsError, match="one AUROC"):
        compare(load_runs(root, ids), metric="f1", test="delong", n_resamples=10)


def test_different_task_hashes_are_refused_listing_each_run(results, tmp_path):
    root, ids, raw = results
    other = write_run(root, raw[("weak_cnn", 0)][0], toy_task(task_hash="b" * 64), "weak_cnn", 7)
    with pytest.raises(TaskMismatchError) as error:
        compare(load_runs(root, [ids[0], other]))
    assert f"{ids[0]}: task toy hash {'a' * 64}" in str(error.value)
    assert f"{other}: task toy hash {'b' * 64}" in str(error.value)


def test_cli_formats(results, capsys):
    root, ids, _ = results
    base = ["compare", *ids, "--results", str(root), "--n-resamples", "200"]
    assert main([*base, "--format", "csv"]) == 0
    table = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert list(table.columns) == ENTRY_COLUMNS and table["entry"].tolist()[0] == "strong_net"
    assert main([*base, "--format", "csv", "--pairs"]) == 0
    assert list(pd.read_csv(io.StringIO(capsys.readouterr().out)).columns) == PAIR_COLUMNS
    assert main([*base, "--format", "markdown"]) == 0
    markdown = capsys.readouterr().out
    assert markdown.startswith("| rank | model |") and "| 1 | strong_net |" in markdown
    assert main([*base, "--format", "table"]) == 0
    text = capsys.readouterr().out
    assert "Holm's method" in text and "200 resamples of patients" in text
    assert main([*base, "--format", "latex"]) == 0
    latex = capsys.readouterr().out
    nodes, _, _ = LatexWalker(latex).get_latex_nodes()
    assert [n.environmentname for n in nodes if isinstance(n, LatexEnvironmentNode)] == ["tabular"]
    plain = LatexNodes2Text().latex_to_text(latex)
    assert "strong_net" in plain and "weak_cnn" in plain
    assert latex.count(r"\textbf{") == 2  # the top group


def test_cli_errors_are_typed(results, capsys):
    root, ids, _ = results
    assert main(["compare", "nope", "--results", str(root)]) == 2
    assert "RunNotFoundError" in capsys.readouterr().err
    assert main(["compare", *ids, "--results", str(root), "--metric", "auroc/zz"]) == 2
    assert "StatisticsError" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["res_net & co. #1", "50% {big} $model$ ~x^2 back\\slash", "a_b < c > d"])
def test_latex_escape_prints_names_as_written(name):
    # pylatexenc renders \textasciicircum{} as U+02C6 (the circumflex glyph LaTeX prints for it).
    assert LatexNodes2Text().latex_to_text(latex_escape(name)).replace("\u02c6", "^") == name
