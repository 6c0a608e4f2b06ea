"""Leaderboard page: a task's ranked entries (benchmark.results.standings, the table `benchmark export` writes),
unranked entries apart, a link to the per-label AUROC (Plots page), and links to every run of an entry.

This is the board's first view: it holds no chart (plotly.js is the largest chunk of Streamlit's front end,
~4.7 MB the browser would parse before the view is complete; benchmarks/leaderboard_load.py times it)."""

from __future__ import annotations

from urllib.parse import quote

import pandas as pd
import streamlit as st

from benchmark.results.entries import MIN_SEEDS_RANKED
from leaderboard import audit_flag, components, data, tables
from leaderboard.components import md

st.title("CXR-Bench leaderboard")
root, task, task_hash, fp, standings = components.task_view()

options = tables.filter_options(standings)
# The filters sit in a popover: its widgets are drawn when it is opened, not on the first view (three
# multiselects cost the browser ~0.2 s of main-thread time; benchmarks/leaderboard_load.py).
with st.sidebar.popover("Filters", width="stretch"):
    families = st.multiselect("Model family", options["family"], placeholder="all families")
    origins = st.multiselect("Origin", options["origin"], placeholder="baseline and submission")
    sizes = st.multiselect("Input size (px)", options["image_size"], placeholder="all sizes")

components.task_header(standings)
audit_flag.show(root, standings)
level = tables.level_of(standings)
column_config = {
    "rank": st.column_config.TextColumn("rank", width="small"),
    "top group": st.column_config.TextColumn(
        "top group", help="*: the best entry, or not significantly different from it", width="small"
    ),
    "parameters": st.column_config.NumberColumn("parameters", format="localized"),
    "date": st.column_config.DatetimeColumn("date", format="YYYY-MM-DD HH:mm", help="the entry's newest run"),
    "run": st.column_config.LinkColumn("run", display_text="open", help="the page of the entry's first run"),
}


def shown(entries: pd.DataFrame) -> pd.DataFrame:
    """The displayed rows of ``entries`` after the filters, the run column as a link to the run page."""
    rows = tables.display_table(tables.filter_entries(entries, families, origins, sizes), standings.metric, level)
    rows["run"] = [f"run?run={quote(run_id, safe='')}" for run_id in rows["run"]]
    return rows


st.subheader("Ranked")
if standings.ranked.empty:
    st.info(f"No entry of this task has {MIN_SEEDS_RANKED} seeds yet, so nothing is ranked; entries are listed below.")
else:
    ranked = shown(standings.ranked)
    st.dataframe(ranked, hide_index=True, column_config=column_config, key="ranked_table")
    hidden = len(standings.ranked) - len(ranked)
    st.caption(
        f"{md(standings.comparison.caption())} Rank and top group are computed on all {len(standings.ranked)} ranked "
        "entries" + (f"; the filters hide {hidden} of them." if hidden else ".")
    )
if not standings.unranked.empty:
    st.subheader(f"Unranked (fewer than {MIN_SEEDS_RANKED} seeds)")
    unranked = shown(standings.unranked).drop(columns=["rank", "p vs best (adj.)", "top group"])
    st.dataframe(unranked, hide_index=True, column_config=column_config, key="unranked_table")
    st.caption("Scored the same way, never ranked or compared.")
if not standings.trivial.empty:
    st.subheader("Trivial entries (no model, never ranked)")
    trivial = standings.trivial.drop(columns=["ranked", "metric"])
    if standings.metric in trivial.columns:  # auroc, accuracy: already a column
        trivial = trivial.drop(columns=["value"])
    st.dataframe(trivial.rename(columns={"value": standings.metric}), hide_index=True, key="trivial_table")
    st.caption(
        "What a predictor that never looks at an image scores on the same test truth: every image scored with the "
        "test-set class frequencies (class prior), or 0 for every label (all negative). AUPRC of a constant score "
        "equals the prevalence."
    )
if standings.damaged:
    st.warning(
        f"{len(standings.damaged)} run(s) left out as damaged (a file missing, unreadable or not the one its record "
        "hashed); re-run them or remove their folders:"
    )
    st.dataframe(pd.DataFrame(standings.damaged, columns=["run", "why"]), hide_index=True)
unlisted = data.unlisted_folders(root, fp)
if unlisted:
    st.warning(
        f"{len(unlisted)} folder(s) of the results folder hold no listable run (an unreadable record, or a copy "
        "of another run's folder) and are left out; `benchmark index` lists them:"
    )
    st.dataframe(pd.DataFrame(unlisted, columns=["folder", "why"]), hide_index=True)
if standings.set_aside:
    st.caption(f"{len(standings.set_aside)} run(s) not counted: reproductions or repeated seeds of an entry.")
if standings.other_task_hashes:
    st.caption(
        f"This folder also holds runs of {len(standings.other_task_hashes)} other version(s) of {md(task)}: "
        "pick one under *Task version* in the sidebar."
    )

st.page_link(
    "views/plots.py",
    label="AUROC per label of every entry: on the Plots page",
    query_params={"plot": "AUROC per label", "task": task, "hash": task_hash},
)
st.caption(
    "The per-label AUROC heatmap is on the Plots page: this first view draws no chart, so the browser loads no "
    "chart code before the tables show."
)

st.subheader("Runs of an entry")
entries = standings.entries
entry = st.selectbox("Entry", entries["entry"].tolist(), key="entry_runs")
if entry is not None:
    chosen = entries[entries["entry"] == entry].iloc[0]
    for seed, run_id in sorted(zip(chosen["seeds"], chosen["run_ids"], strict=True)):
        st.page_link("views/run.py", label=f"seed {seed}: {md(run_id)}", query_params={"run": run_id})
