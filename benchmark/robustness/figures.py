"""Robustness curves: a metric against severity, one line per corruption, 95% CI error bars (plotly; pure,
no Streamlit, so a test can build and check it). Severity 0 is the clean test set, shared by every line."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go

from benchmark.robustness.scoring import CLEAN
from benchmark.text import plotly_text as label

_PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")


def curve_frame(rows: list[dict[str, Any]], metric: str) -> pd.DataFrame:
    """corruption, severity, value, ci_low, ci_high of ``metric``, each corruption's line starting at its
    clean value (severity 0)."""
    frame = pd.DataFrame(rows)
    frame = frame[frame["metric"] == metric]
    clean = frame[frame["corruption"] == CLEAN]
    lines = []
    for corruption in dict.fromkeys(frame.loc[frame["corruption"] != CLEAN, "corruption"]):
        mine = frame[frame["corruption"] == corruption]
        lines.append(pd.concat([clean.assign(corruption=corruption), mine]).sort_values("severity"))
    columns = ["corruption", "severity", "value", "ci_low", "ci_high"]
    return pd.concat(lines, ignore_index=True)[columns] if lines else pd.DataFrame(columns=columns)


def robustness_curves(rows: list[dict[str, Any]], metric: str, title: str = "") -> go.Figure:
    """``metric`` against severity per corruption, with 95% CI error bars."""
    frame = curve_frame(rows, metric)
    figure = go.Figure()
    for i, (corruption, line) in enumerate(frame.groupby("corruption", sort=False)):
        values = line["value"].astype(float)
        figure.add_trace(
            go.Scatter(
                x=line["severity"],
                y=values,
                mode="lines+markers",
                name=label(corruption),
                line={"color": _PALETTE[i % len(_PALETTE)]},
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": (line["ci_high"].astype(float) - values).tolist(),
                    "arrayminus": (values - line["ci_low"].astype(float)).tolist(),
                    "thickness": 1,
                    "width": 3,
                },
                hovertemplate=f"{label(corruption)} severity %{{x}}: %{{y:.3f}}<extra></extra>",
            )
        )
    figure.update_layout(
        title=label(title),
        xaxis={"title": "severity (0 = clean)", "dtick": 1},
        yaxis={"title": label(metric)},
        legend={"title": "corruption"},
        margin={"l": 60, "r": 20, "t": 50 if title else 20, "b": 50},
    )
    return figure
