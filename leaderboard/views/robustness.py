"""Robustness page: for the runs of a task that have a `benchmark robustness` result, the metric against
corruption severity (one line per corruption, 95% CI error bars) and the mean relative drop per corruption
(benchmark.robustness: corruptions, scoring, board, figures)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from benchmark.errors import BenchmarkError
from benchmark.robustness.board import RunRobustness, drop_table, run_robustness_result
from benchmark.robustness.figures import robustness_curves
from benchmark.robustness.report import severity_table
from leaderboard import components, data
from leaderboard.components import md, md_code
from leaderboard.figures import CHART_CONFIG


@st.cache_data(show_spinner="Reading the robustness results…", max_entries=32)
def task_results(root: str, fp: data.Fingerprint, run_ids: tuple[str, ...]) -> tuple[list[RunRobustness], list[str]]:
    """The robustness result of each run that has one, and the problems met (a run, its error)."""
    found, problems = [], []
    for run_id in run_ids:
        try:
            result = run_robustness_result(data.run_dir(root, run_id), data.record(root, fp, run_id))
        except BenchmarkError as exc:
            problems.append(f"{run_id}: {type(exc).__name__}: {exc}")
            continue
        if result is not None:
            found.append(result)
    return found, problems


st.title("Robustness")
root = components.results_root()
runs = components.load_runs(root)
if runs is None:
    st.stop()
picked = components.pick_task(root, runs)
if picked is None:
    st.stop()
task, task_hash = picked
fp = data.fingerprint(root)
mine = runs[(runs["task_name"] == task) & (runs["task_hash"] == task_hash)]
results, problems = task_results(str(root), fp, tuple(mine["run_id"]))
for problem in problems:
    st.warning(md(f"Not shown: {problem}"))
if not results:
    st.info(
        f"No run of {md(task)} here has a robustness result yet. "
        f"{md_code(f'benchmark robustness RUN_ID --results {root}')} scores a run's test set under seven graded "
        "corruptions (noise, blur, contrast, gamma, JPEG, downsampling, rotation; severities 1-5); it appears here."
    )
    st.stop()

records = data.records(str(root), fp, [r.run_id for r in results])
first = results[0].result["settings"]
metrics = list(first["metrics"])
metric = st.sidebar.selectbox("Metric", metrics, index=0, key="robustness_metric")

st.subheader("Mean relative drop")
st.caption(
    f"Per run: (clean − corrupted) / clean of {md(metric)}, averaged over the severities of each corruption; "
    "overall averages the corruptions. 0% is no change; higher is less robust."
)
table = drop_table(results, records, metric)
percent_columns = [c for c in table.columns if c not in ("model", "seed", "run_id", f"clean {metric}")]
shown = table.copy()
for column in percent_columns:
    shown[column] = pd.to_numeric(shown[column], errors="coerce") * 100
st.dataframe(
    shown,
    hide_index=True,
    key="robustness_drops",
    column_config={c: st.column_config.NumberColumn(c, format="%.1f%%") for c in percent_columns},
)

labels = {r.run_id: f"{records[r.run_id].model.name} · seed {records[r.run_id].seed} · {r.run_id}" for r in results}
asked = st.query_params.get("run")
options = list(labels)
run_id = st.selectbox(
    "Run", options, index=options.index(asked) if asked in options else 0, format_func=labels.get, key="robust_run"
)
chosen = next(r for r in results if r.run_id == run_id)
if chosen.stale:
    st.warning(
        md(f"This result ({chosen.name}) was computed from other weights than the run's recorded best_model.pt: ")
        + md_code(f"benchmark robustness {run_id} --force")
        + " recomputes it."
    )
settings = chosen.result["settings"]
st.plotly_chart(
    robustness_curves(chosen.result["rows"], metric, f"{metric} under corruption · {records[run_id].model.name}"),
    key="robustness_curves",
    config=CHART_CONFIG,
)
st.caption(
    f"{settings.get('n_images', '?')} test images at {settings.get('image_size', '?')} px; 95% "
    f"{md(settings.get('unit', ''))}-level bootstrap CIs ({settings['bootstrap']['n_resamples']} resamples); "
    f"corruption seed {settings['seed']}."
)
st.dataframe(severity_table(chosen.result, metric), hide_index=True, key="robustness_severities")
