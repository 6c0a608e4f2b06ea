"""Relative drops and their means, on hand-computed rows; the severity table and the curves built from them."""

from __future__ import annotations

import pytest

from benchmark.robustness.figures import curve_frame, robustness_curves
from benchmark.robustness.report import format_result, severity_table
from benchmark.robustness.scoring import metric_rows, relative_drop, summary, with_drops


def _rows() -> list[dict]:
    rows = metric_rows("none", 0, {"auroc": {"value": 0.8, "ci_low": 0.7, "ci_high": 0.9}})
    for corruption, values in (("blur", (0.8, 0.6)), ("jpeg", (0.4, 0.2))):
        for severity, value in enumerate(values, start=1):
            rows += metric_rows(corruption, severity, {"auroc": {"value": value, "ci_low": value - 0.1, "ci_high": 1}})
    return with_drops(rows)


def test_relative_drop_by_hand():
    assert relative_drop(0.8, 0.6) == pytest.approx(0.25)
    assert relative_drop(0.5, 0.6) == pytest.approx(-0.2)  # a corruption that helped
    assert relative_drop(0.0, 0.1) is None and relative_drop(float("nan"), 0.1) is None


def test_rows_carry_their_drop_and_the_summary_averages_severities_then_corruptions():
    rows = _rows()
    drops = {(r["corruption"], r["severity"]): r["relative_drop"] for r in rows}
    assert drops == pytest.approx({("none", 0): 0.0, ("blur", 1): 0.0, ("blur", 2): 0.25, ("jpeg", 1): 0.5,
                                   ("jpeg", 2): 0.75})  # fmt: skip
    headline = summary(rows, "auroc")
    assert headline["clean"] == 0.8
    assert headline["mean_relative_drop"] == pytest.approx({"blur": 0.125, "jpeg": 0.625, "overall": 0.375})


def test_undefined_values_are_null_and_left_out_of_the_means():
    rows = metric_rows("none", 0, {"auroc": {"value": 0.8, "ci_low": 0.7, "ci_high": 0.9}})
    rows += metric_rows("blur", 1, {"auroc": {"value": float("nan"), "ci_low": float("nan"), "ci_high": 0.9}})
    rows += metric_rows("blur", 2, {"auroc": {"value": 0.4, "ci_low": 0.3, "ci_high": 0.5}})
    rows = with_drops(rows)
    assert rows[1]["value"] is None and rows[1]["relative_drop"] is None
    assert summary(rows, "auroc")["mean_relative_drop"] == pytest.approx({"blur": 0.5, "overall": 0.5})


def test_severity_table_and_curves():
    rows = _rows()
    result = {
        "rows": rows,
        "summary": summary(rows, "auroc"),
        "settings": {"metrics": ["auroc"], "seed": 0, "bootstrap": {"n_resamples": 10}, "levels": {}},
    }
    table = severity_table(result, "auroc")
    assert list(table["corruption"]) == ["blur", "jpeg", "overall"]
    assert list(table.columns) == ["corruption", "0 (clean)", "1", "2", "mean relative drop"]
    assert table.loc[1, "2"] == "0.200 [0.100, 1.000]" and table.loc[2, "mean relative drop"] == "37.5%"
    assert "0.800 [0.700, 0.900]" in format_result(result)
    curves = curve_frame(rows, "auroc")
    assert curves[curves["corruption"] == "jpeg"]["value"].tolist() == [0.8, 0.4, 0.2]  # the line starts clean
    figure = robustness_curves(rows, "auroc")
    assert [trace.name for trace in figure.data] == ["blur", "jpeg"]
    jpeg = figure.data[1]
    assert list(jpeg.error_y.array) == pytest.approx([0.1, 0.6, 0.8])  # ci_high - value
    assert list(jpeg.error_y.arrayminus) == pytest.approx([0.1, 0.1, 0.1])
