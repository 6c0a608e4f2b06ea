"""Plots page: differences against a reference entry (forest plot), ROC curves with bootstrap bands,
calibration curves, per-label AUROC and a run's confusion matrix, for one task hash. ``?plot=NAME`` opens
one of them (the ranking page links to the per-label AUROC, which its first view no longer draws)."""

from __future__ import annotations

import streamlit as st

from benchmark.errors import BenchmarkError
from leaderboard import components, data, figures, tables
from leaderboard.components import md

PLOTS = ("Differences", "ROC curves", "Calibration", "AUROC per label", "Confusion matrix")
SHOWN_BY_DEFAULT = 5  # entries drawn on the curve plots until the user picks others

st.title("Plots")
root, task, task_hash, fp, standings = components.task_view()
components.task_header(standings)
entries = standings.entries
names = entries["entry"].tolist()
labels = data.record(str(root), fp, entries["run_ids"].iloc[0][0]).task.labels

asked = st.query_params.get("plot")  # the ranking page links here with ?plot=AUROC per label
plot = st.radio(
    "Plot",
    PLOTS,
    index=PLOTS.index(asked) if asked in PLOTS else 0,
    horizontal=True,
    key="plot",
    label_visibility="collapsed",
)
st.query_params["plot"] = plot  # the URL names the plot shown, so the view can be shared

if plot == "Differences":
    comparison = standings.comparison
    if comparison is None or len(comparison.entries) < 2:
        st.info("Differences need at least two ranked entries (entries with 3 seeds or more).")
    else:
        ranked = comparison.entries["entry"].tolist()
        reference = st.selectbox("Reference entry", ranked, key="reference")
        differences = tables.differences_against(comparison.pairs, reference)
        forest = figures.forest_plot(differences, reference, standings.metric)
        st.plotly_chart(forest, key="forest", config=figures.CHART_CONFIG)
        s = comparison.settings
        st.caption(
            md(
                f"{standings.metric}(entry) − {standings.metric}({reference}) on the same {s['n_resamples']:,} "
                f"{s['unit']} resamples (paired {s['test']} test, {s['correction']}-adjusted p on hover). "
                "Filled markers: the interval excludes zero."
            )
        )

elif plot in ("ROC curves", "Calibration"):
    label = st.selectbox("Label", labels, key="label") if len(labels) > 1 else labels[0]
    chosen = st.multiselect("Entries", names, default=names[:SHOWN_BY_DEFAULT], key="curve_entries")
    if not chosen:
        st.info("Pick at least one entry.")
    else:
        try:
            if plot == "ROC curves":
                curves = data.roc(str(root), fp, task, task_hash, label, tuple(chosen))
                roc = figures.roc_curves(curves, title=f"ROC: {label} (95% CI bands)")
                st.plotly_chart(roc, key="roc", config=figures.CHART_CONFIG)
                st.caption(
                    "Each entry's seed-averaged scores; band: pointwise 95% percentile interval of the "
                    "true-positive rate over 2,000 patient-cluster bootstrap resamples, on a 101-point grid of "
                    "false-positive rates. Legend: the entry's AUROC for this label."
                )
            else:
                bins = data.calibration(str(root), fp, task, task_hash, label, tuple(chosen))
                reliability = figures.calibration_curves(bins, title=f"Calibration: {label}")
                st.plotly_chart(reliability, key="calibration", config=figures.CHART_CONFIG)
                st.caption("Seed-averaged probability of the label, 10 equal-width bins (empty bins left out).")
        except BenchmarkError as exc:
            components.error(exc, "compute the curves")

elif plot == "AUROC per label":
    try:
        aurocs = data.label_aurocs(str(root), fp, task, task_hash)
        st.plotly_chart(figures.auroc_heatmap(aurocs), key="auroc_heatmap", config=figures.CHART_CONFIG)
        st.caption("Mean over each entry's seeds of the AUROC its runs recorded per label.")
    except BenchmarkError as exc:
        components.error(exc, "read the per-label AUROCs")

else:
    choices = [
        (name, seed, run_id)
        for name, seeds, ids in zip(names, entries["seeds"], entries["run_ids"], strict=True)
        for seed, run_id in zip(seeds, ids, strict=True)
    ]
    picked_run = st.selectbox("Run", choices, format_func=lambda c: f"{c[0]} · seed {c[1]}", key="confusion_run")
    matrix = data.record(str(root), fp, picked_run[2]).confusion_matrix
    if not matrix:
        st.info(
            "This run's record has no confusion matrix: tasks record one for multiclass problems; binary and "
            "multilabel tasks report sensitivity and specificity at their thresholds instead (see the run page)."
        )
    else:
        title = f"{picked_run[0]} · seed {picked_run[1]} (rows: true class)"
        confusion = figures.confusion_matrix_figure(matrix.matrix, matrix.labels, title)
        st.plotly_chart(confusion, key="confusion", config=figures.CHART_CONFIG)
