"""Plotly figures of a report and of the site's task pages: data in, figure out (no files, no Streamlit).

The leaderboard's builders are reused where they fit (reliability diagram, ROC curves with bands,
the forest plot of differences); the figures here are the ones it has no builder for. Every string a
figure shows goes through ``benchmark.text.plotly_text`` (plotly reads HTML in labels).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from benchmark.text import plotly_text as label
from leaderboard.figures import calibration_curves, forest_plot, roc_curves

VALUE_COLUMNS = ("value", "auroc")  # the value a payload's rows plot, with ci_low / ci_high beside
NUMERIC_HINTS = ("ci_low", "ci_high", "relative_drop", "n_images", "n_patients", "n_positive", "n_negative")
_PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f")


def reliability(curves: pd.DataFrame, ece: pd.DataFrame) -> go.Figure:
    """The reliability diagram of each label (multiclass: top label), its ECE in the legend."""
    by_label = dict(zip(ece["label"], ece["ece"], strict=True))
    named = curves.assign(model=[f"{name} (ECE {by_label.get(name, np.nan):.3f})" for name in curves["label"]])
    return calibration_curves(named, title="Calibration (reliability diagram)")


def roc(curves: pd.DataFrame) -> go.Figure:
    """ROC curves per label (column ``model``) with their bootstrap bands."""
    return roc_curves(curves, title="ROC curves (95% bootstrap bands)")


def risk_coverage(curves: pd.DataFrame, aurc: float) -> go.Figure:
    """Risk (error rate of the accepted predictions) against coverage, one line per label."""
    figure = go.Figure()
    for i, (name, rows) in enumerate(curves.groupby("label", sort=False)):
        figure.add_trace(
            go.Scatter(
                x=rows["coverage"], y=rows["risk"], mode="lines", name=label(name),
                line={"color": _PALETTE[i % len(_PALETTE)], "shape": "hv"},
                hovertemplate="coverage %{x:.3f}<br>risk %{y:.4f}<extra></extra>",
            )
        )  # fmt: skip
    figure.update_layout(
        title=label(f"Risk-coverage (AURC {aurc:.4f}; lower is better)"),
        xaxis_title="coverage (share of predictions accepted, most confident first)",
        yaxis_title="risk (error rate of the accepted)",
        height=420,
    )
    figure.update_xaxes(range=[0, 1])
    return figure


def value_column(rows: pd.DataFrame) -> str | None:
    return next((c for c in VALUE_COLUMNS if c in rows.columns), None)


def row_names(rows: pd.DataFrame, skip: tuple[str, ...] = ()) -> list[str]:
    """A name per row: its text columns joined (e.g. ``sex · F · auroc``)."""
    text = [c for c in rows.columns if c not in skip and rows[c].map(lambda v: isinstance(v, str)).all()]
    if not text:
        return [str(i) for i in range(len(rows))]
    return [" · ".join(str(row[c]) for c in text) for _, row in rows.iterrows()]


def payload_figures(rows: pd.DataFrame) -> list[go.Figure]:
    """Plots where a payload's columns say what to plot: ``severity`` and a value -> the value against
    severity per corruption, one figure per metric (robustness); a value with ``ci_low`` and ``ci_high`` ->
    the values with their CIs, one row each. None otherwise (the table alone)."""
    value = value_column(rows)
    if value is None or rows.empty:
        return []
    if "severity" in rows.columns:
        if "metric" not in rows.columns:
            return [severity_curves(rows, value)]
        return [severity_curves(part, value, str(metric)) for metric, part in rows.groupby("metric", sort=False)]
    if {"ci_low", "ci_high"} <= set(rows.columns):
        return [interval_dots(row_names(rows), rows[value], rows["ci_low"], rows["ci_high"], value)]
    return []


def severity_curves(rows: pd.DataFrame, value: str = "value", metric: str | None = None) -> go.Figure:
    """Value against severity, one line per corruption with its CIs as bars. A row at severity 0 of a
    ``corruption`` that has no other severity (the clean images, CONTRACTS' severity 0) starts every line."""
    if "corruption" in rows.columns:
        counts = rows.groupby("corruption", sort=False)["severity"].nunique()
        clean_names = [
            c for c, n in counts.items() if n == 1 and (rows.loc[rows["corruption"] == c, "severity"] == 0).all()
        ]
        clean = rows[rows["corruption"].isin(clean_names)]
        graded = rows[~rows["corruption"].isin(clean_names)]
        groups = [
            (name, pd.concat([clean.assign(corruption=name), part]))
            for name, part in graded.groupby("corruption", sort=False)
        ] or [("clean", clean)]
    else:
        groups = [(value, rows)]
    figure = go.Figure()
    for i, (name, part) in enumerate(groups):
        part = part.sort_values("severity", kind="stable")
        bars = None
        if {"ci_low", "ci_high"} <= set(part.columns):
            bars = {"type": "data", "symmetric": False, "array": part["ci_high"] - part[value],
                    "arrayminus": part[value] - part["ci_low"]}  # fmt: skip
        figure.add_trace(
            go.Scatter(
                x=part["severity"], y=part[value], mode="lines+markers", name=label(name), error_y=bars,
                line={"color": _PALETTE[i % len(_PALETTE)]},
            )
        )  # fmt: skip
    shown = metric or value
    figure.update_layout(
        title=label(f"{shown} against corruption severity (0 = clean; bars: CI)"),
        xaxis_title="severity",
        yaxis_title=label(shown),
        height=460,
    )
    figure.update_xaxes(dtick=1)
    return figure


def interval_dots(
    names: list[str], values: pd.Series, low: pd.Series, high: pd.Series, value: str, title: str | None = None,
    marked: list[bool] | None = None,
) -> go.Figure:  # fmt: skip
    """One dot per row with its CI as a horizontal bar (filled where ``marked``), rows top to bottom."""
    values, low, high = (np.asarray(v, dtype=float) for v in (values, low, high))
    symbols = ["diamond" if m else "diamond-open" for m in (marked or [True] * len(names))]
    figure = go.Figure(
        go.Scatter(
            x=values, y=[label(n) for n in names], mode="markers",
            marker={"symbol": symbols, "size": 10, "color": "#1f77b4"},
            error_x={"type": "data", "symmetric": False, "array": high - values, "arrayminus": values - low},
            hovertemplate="%{y}: %{x:.4f}<extra></extra>", showlegend=False,
        )
    )  # fmt: skip
    figure.update_layout(
        title=label(title or f"{value} with 95% CI"),
        xaxis_title=label(value),
        yaxis={"autorange": "reversed", "type": "category"},
        height=max(260, 28 * len(names) + 140),
        margin={"l": 10},
    )
    figure.update_yaxes(automargin=True)
    return figure


def entries_forest(entries: pd.DataFrame, metric: str, level: float = 0.95) -> go.Figure:
    """A task's entries (STANDINGS_COLUMNS, ranked then unranked) with their CIs; the top group filled."""
    names = [
        f"{entry} ({'rank ' + str(int(rank)) if rank == rank else 'unranked'})"
        for entry, rank in zip(entries["entry"], entries["rank"], strict=True)
    ]
    return interval_dots(
        names, entries["estimate"], entries["ci_low"], entries["ci_high"], metric,
        title=f"{metric} of each entry ({level:.0%} CI; filled: top group)",
        marked=[bool(v) for v in entries["top_group"]],
    )  # fmt: skip


__all__ = ["entries_forest", "forest_plot", "payload_figures", "reliability", "risk_coverage", "roc"]
