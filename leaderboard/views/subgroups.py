"""Subgroups page: each entry's primary metric per sex, age band and view position with patient-bootstrap CIs,
and the largest gap per attribute with the CI of the paired difference (benchmark.stats.subgroup_report)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from benchmark.errors import BenchmarkError
from benchmark.stats.subgroup_report import EntrySubgroups, task_subgroups
from benchmark.text import plotly_text
from leaderboard import components, data, figures
from leaderboard.components import md


@st.cache_data(show_spinner="Bootstrapping subgroups (patient resamples shared by every group)…", max_entries=16)
def _subgroups(root: str, fp: data.Fingerprint, task: str, task_hash: str) -> list[EntrySubgroups] | None:
    return task_subgroups(data.store(root), data.standings(root, fp, task, task_hash))


def _figure(found: list[EntrySubgroups], attribute: str, metric: str) -> go.Figure:
    """The metric per group of ``attribute``, one marker series per entry, CI as error bars."""
    fig = go.Figure()
    for entry in (f for f in found if f.analysis is not None):
        rows = entry.analysis.rows
        rows = rows[rows["attribute"] == attribute]
        fig.add_trace(
            go.Scatter(
                x=[plotly_text(g) for g in rows["group"]],
                y=rows["value"],
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": rows["ci_high"] - rows["value"],
                    "arrayminus": rows["value"] - rows["ci_low"],
                },
                mode="markers",
                name=plotly_text(entry.entry),
                marker={"size": 9},
                customdata=list(zip(rows["n_images"], rows["n_patients"], strict=True)),
                hovertemplate="%{x}: %{y:.3f}<br>%{customdata[0]} images, %{customdata[1]} patients<extra></extra>",
            )
        )
    fig.update_layout(
        title=f"{metric} by {attribute.replace('_', ' ')} (95% CI)",
        yaxis_title=metric,
        xaxis_title=attribute.replace("_", " "),
        scattermode="group",
        height=380,
    )
    return fig


st.title("Subgroups")
root, task, task_hash, fp, standings = components.task_view()
components.task_header(standings)
try:
    found = _subgroups(str(root), fp, task, task_hash)
except BenchmarkError as exc:
    components.error(exc, f"compute the subgroups of {task}")
    st.stop()
if found is None:
    st.info(
        f"Task {md(task)} has no subgroup metadata (sex, age, view position): its predictions carry none and "
        "its images are not NIH's. Subgroups exist for nih14, chexpert3 and lung3_64 (NIH's metadata, joined)."
    )
    st.stop()
for entry in found:
    if entry.analysis is None:
        st.warning(md(f"{entry.entry}: not computed: {entry.unavailable}"))
shown = [f for f in found if f.analysis is not None]
if not shown:
    st.stop()
settings = shown[0].analysis.settings
metric = settings["metric"]
attributes = list(dict.fromkeys(a for f in shown for a in f.analysis.rows["attribute"]))
for attribute in attributes:
    st.plotly_chart(_figure(shown, attribute, metric), key=f"subgroups_{attribute}", config=figures.CHART_CONFIG)

gaps = pd.concat(
    [
        f.analysis.gaps.assign(
            entry=f.entry,
            seed_gaps=[", ".join(f"{v:.3f}" for v in f.seed_gaps.get(a, [])) for a in f.analysis.gaps["attribute"]],
        )
        for f in shown
    ],
    ignore_index=True,
)
st.subheader("Largest gap per attribute")
st.dataframe(
    gaps[["entry", "attribute", "high_group", "low_group", "gap", "ci_low", "ci_high", "seed_gaps"]],
    hide_index=True,
    column_config={
        "gap": st.column_config.NumberColumn(format="%.3f"),
        "ci_low": st.column_config.NumberColumn(format="%.3f"),
        "ci_high": st.column_config.NumberColumn(format="%.3f"),
        "seed_gaps": "per-seed gaps",
    },
)
st.subheader("Every group")
table = pd.concat([f.analysis.rows.assign(entry=f.entry) for f in shown], ignore_index=True)
st.dataframe(
    table[["entry", "attribute", "group", "n_images", "n_patients", "value", "ci_low", "ci_high", "n_degenerate"]],
    hide_index=True,
)
st.caption(
    md(
        f"Each entry's seed-averaged predictions (metadata: {settings['metadata']}). "
        f"{round(settings['level'] * 100)}% CIs from {settings['n_resamples']:,} bootstrap resamples of the test "
        f"set's {settings['unit']}s, the same resamples for every group, so a gap's CI is that of the paired "
        f"difference. Largest gap: highest minus lowest group among groups with at least "
        f"{settings['min_patients_for_gap']} patients and {settings.get('min_per_class_for_gap', 0)} positives and "
        "negatives of each scored label, chosen on the point estimates (the CI does not allow for "
        "that choice). CIs cover the test set's sampling, not seed-to-seed variation: per-seed gaps show that. "
        "n_degenerate: resamples where a group's metric was undefined (e.g. a class absent)."
    )
)
