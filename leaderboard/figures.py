"""Pure plotly figure builders for the leaderboard: data in (DataFrames, arrays), figure out.

Nothing here reads files or imports Streamlit, so every figure can be built and checked in a
plain test. The app computes the data (from run records and predictions) and only displays.

Every string a figure shows (titles, axis titles, tick labels, legend and hover text) is a name or
holds one, and plotly reads a subset of HTML there (``<a href>`` becomes a link): each goes through
``label`` (benchmark.text.plotly_text) here, so the builders' callers pass names as they are.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from benchmark.text import plotly_text as label

# What st.plotly_chart is given as ``config``: no plotly logo (a link to plot.ly) in the mode bar.
CHART_CONFIG = {"displaylogo": False}

_PALETTE = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#9467bd",
    "#ff7f0e",
    "#17becf",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
)


def _colour(i: int) -> str:
    return _PALETTE[i % len(_PALETTE)]


def _rgba(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[k : k + 2], 16) for k in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def auroc_heatmap(table: pd.DataFrame, title: str = "AUROC per label") -> go.Figure:
    """Models (rows, in the table's order) x labels (columns); cell text is the AUROC to 3 decimals."""
    values = table.to_numpy(dtype=float)
    text = [[("" if np.isnan(v) else f"{v:.3f}") for v in row] for row in values]
    figure = go.Figure(
        go.Heatmap(
            z=values,
            x=[label(c) for c in table.columns],
            y=[label(i) for i in table.index],
            text=text,
            texttemplate="%{text}",
            colorscale="Viridis",
            zmin=np.nanmin(values) if np.isfinite(values).any() else 0.5,
            zmax=1.0,
            colorbar={"title": "AUROC"},
            hovertemplate="%{y}<br>%{x}: %{z:.4f}<extra></extra>",
        )
    )
    figure.update_layout(title=label(title), yaxis={"autorange": "reversed"}, height=max(300, 40 * len(table) + 160))
    return figure


def roc_curves(curves: pd.DataFrame, title: str = "ROC curves (95% CI bands)") -> go.Figure:
    """One line per model, with its band shaded.

    ``curves`` has columns model, fpr, tpr, tpr_low, tpr_high (one row per point on a common
    false-positive-rate grid) and optionally auc for the legend.
    """
    figure = go.Figure()
    for i, (model, rows) in enumerate(curves.groupby("model", sort=False)):
        colour = _colour(i)
        band_x = np.r_[rows["fpr"].to_numpy(), rows["fpr"].to_numpy()[::-1]]
        band_y = np.r_[rows["tpr_high"].to_numpy(), rows["tpr_low"].to_numpy()[::-1]]
        figure.add_trace(
            go.Scatter(
                x=band_x,
                y=band_y,
                fill="toself",
                fillcolor=_rgba(colour, 0.15),
                line={"width": 0},
                hoverinfo="skip",
                showlegend=False,
                legendgroup=label(model),
            )
        )
        name = label(model)
        if "auc" in rows:
            name += f" (AUC {rows['auc'].iloc[0]:.3f})"
        figure.add_trace(
            go.Scatter(
                x=rows["fpr"], y=rows["tpr"], mode="lines", name=name, line={"color": colour}, legendgroup=label(model)
            )
        )
    figure.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": "grey"}, name="chance"))
    figure.update_layout(title=label(title), xaxis_title="1 - specificity", yaxis_title="sensitivity", height=480)
    figure.update_xaxes(range=[0, 1])
    figure.update_yaxes(range=[0, 1])
    return figure


def calibration_curves(bins: pd.DataFrame, title: str = "Calibration (reliability)") -> go.Figure:
    """Reliability diagram: columns model, mean_predicted, fraction_positive, count (one row per bin)."""
    figure = go.Figure()
    for i, (model, rows) in enumerate(bins.groupby("model", sort=False)):
        figure.add_trace(
            go.Scatter(
                x=rows["mean_predicted"],
                y=rows["fraction_positive"],
                mode="lines+markers",
                name=label(model),
                line={"color": _colour(i)},
                customdata=rows[["count"]].to_numpy(),
                hovertemplate="predicted %{x:.3f}<br>observed %{y:.3f}<br>n=%{customdata[0]}<extra></extra>",
            )
        )
    figure.add_trace(
        go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": "grey"}, name="perfect")
    )
    figure.update_layout(title=label(title), xaxis_title="mean predicted probability", yaxis_title="observed frequency")
    figure.update_xaxes(range=[0, 1])
    figure.update_yaxes(range=[0, 1])
    return figure


def forest_plot(differences: pd.DataFrame, reference: str, metric: str) -> go.Figure:
    """Differences against ``reference``: columns model, diff, ci_low, ci_high, p_adjusted.

    A vertical line marks zero; entries whose CI excludes zero are drawn filled.
    """
    rows = differences.reset_index(drop=True)
    significant = (rows["ci_low"] > 0) | (rows["ci_high"] < 0)
    figure = go.Figure(
        go.Scatter(
            x=rows["diff"],
            y=[label(model) for model in rows["model"]],
            mode="markers",
            marker={"symbol": np.where(significant, "diamond", "diamond-open"), "size": 11, "color": "#1f77b4"},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": rows["ci_high"] - rows["diff"],
                "arrayminus": rows["diff"] - rows["ci_low"],
            },
            customdata=rows[["p_adjusted"]].to_numpy(),
            hovertemplate="%{y}: %{x:+.4f}<br>adjusted p = %{customdata[0]:.3g}<extra></extra>",
            showlegend=False,
        )
    )
    figure.add_vline(x=0, line_dash="dot", line_color="grey")
    figure.update_layout(
        title=label(f"{metric}: difference against {reference} (95% CI)"),
        xaxis_title=label(f"{metric}(model) - {metric}({reference})"),
        height=max(260, 36 * len(rows) + 140),
    )
    return figure


def confusion_matrix_figure(matrix: Sequence[Sequence[int]], labels: Sequence[str], title: str = "") -> go.Figure:
    """Counts with rows = true class, columns = predicted class (as in the run record)."""
    counts = np.asarray(matrix)
    figure = go.Figure(
        go.Heatmap(
            z=counts,
            x=[label(f"pred {c}") for c in labels],
            y=[label(f"true {c}") for c in labels],
            text=counts.astype(str),
            texttemplate="%{text}",
            colorscale="Blues",
            showscale=False,
        )
    )
    figure.update_layout(title=label(title or "Confusion matrix"), yaxis={"autorange": "reversed"})
    return figure
