"""The leaderboard's plotly builders draw exactly the data they are given."""

import numpy as np
import pandas as pd
import pytest

from leaderboard import figures


def test_heatmap_cells_are_the_table_values_with_labels():
    table = pd.DataFrame({"Effusion": [0.81, 0.79], "Hernia": [0.9, np.nan]}, index=["densenet121", "resnet50"])
    figure = figures.auroc_heatmap(table)
    heatmap = figure.data[0]
    np.testing.assert_array_equal(np.asarray(heatmap.z, dtype=float), table.to_numpy())
    assert list(heatmap.x) == ["Effusion", "Hernia"] and list(heatmap.y) == ["densenet121", "resnet50"]
    assert heatmap.text[0][0] == "0.810" and heatmap.text[1][1] == ""


def test_roc_band_encloses_the_curve_and_legend_shows_auc():
    fpr = np.linspace(0, 1, 5)
    curves = pd.DataFrame(
        {"model": "m", "fpr": fpr, "tpr": fpr**0.5, "tpr_low": fpr**0.7, "tpr_high": fpr**0.3, "auc": 0.66}
    )
    figure = figures.roc_curves(curves)
    band, line, chance = figure.data
    assert band.fill == "toself" and len(band.x) == 2 * len(fpr)
    np.testing.assert_allclose(band.y[: len(fpr)], fpr**0.3)
    np.testing.assert_allclose(band.y[len(fpr) :], (fpr**0.7)[::-1])
    np.testing.assert_allclose(line.y, fpr**0.5)
    assert line.name == "m (AUC 0.660)" and chance.name == "chance"


def test_forest_plot_error_bars_reach_the_interval_ends():
    differences = pd.DataFrame(
        {
            "model": ["a", "b"],
            "diff": [0.02, -0.01],
            "ci_low": [0.01, -0.03],
            "ci_high": [0.04, 0.01],
            "p_adjusted": [0.01, 0.5],
        }
    )
    trace = figures.forest_plot(differences, reference="best", metric="auroc").data[0]
    x = np.asarray(trace.x)
    np.testing.assert_allclose(x + np.asarray(trace.error_x.array), differences["ci_high"])
    np.testing.assert_allclose(x - np.asarray(trace.error_x.arrayminus), differences["ci_low"])
    assert list(trace.marker.symbol) == ["diamond", "diamond-open"]  # only a's CI excludes zero


def test_calibration_and_confusion_figures():
    bins = pd.DataFrame(
        {"model": ["m", "m"], "mean_predicted": [0.2, 0.8], "fraction_positive": [0.25, 0.7], "count": [40, 60]}
    )
    calibration = figures.calibration_curves(bins)
    assert list(calibration.data[0].y) == pytest.approx([0.25, 0.7])
    confusion = figures.confusion_matrix_figure([[5, 1], [2, 7]], ["normal", "pneumonia"]).data[0]
    assert np.asarray(confusion.z).tolist() == [[5, 1], [2, 7]]
    assert list(confusion.y) == ["true normal", "true pneumonia"]
