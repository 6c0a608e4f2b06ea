"""Run page (``run?run=<run_id>``): the run's key fields and metrics (for nih14, the AUROC against Google's
expert labels beside the text-mined labels), its citation (what `benchmark cite` prints), the download of
its predictions and the full record."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from benchmark.errors import BenchmarkError
from benchmark.stats.expert_labels import EXPERT_TASK, expert_caption, expert_display, run_expert
from leaderboard import components, data, figures
from leaderboard.components import md, md_code

root = components.results_root()
runs = components.load_runs(root)
if runs is None:
    st.title("Run")
    st.stop()
fp = data.fingerprint(root)

run_id = st.query_params.get("run")
if not run_id:
    st.title("Run")
    newest = runs.sort_values("created_at", ascending=False)
    labels = dict(zip(newest["run_id"], newest["task_name"] + " · " + newest["model_name"] + " · seed "
                      + newest["seed"].astype(str), strict=True))  # fmt: skip
    chosen = st.selectbox("Run", list(labels), index=None, format_func=lambda i: f"{labels[i]} · {i}",
                          placeholder="Pick a run (newest first)", key="run_pick")  # fmt: skip
    if chosen is None:
        st.info("Open a run from the leaderboard's *Runs of an entry* links, or pick one here.")
        st.stop()
    st.query_params["run"] = chosen
    run_id = chosen

try:
    record = data.record(str(root), fp, run_id)
except BenchmarkError as exc:
    st.title("Run")
    components.error(exc, f"open run {run_id!r}")
    st.stop()

run_id = record.run_id
task, model = record.task, record.model
st.title(f"Run {md(run_id)}")
st.page_link("views/ranking.py", label=f"← Leaderboard of {md(task.name)}", query_params={"task": task.name})

value = record.primary
columns = st.columns(4)
columns[0].metric(md(task.primary_metric), f"{value.value:.4f}" if value is not None else "n/a")
if value is not None:
    columns[0].caption(f"95% CI [{value.ci_low:.4f}, {value.ci_high:.4f}]")
columns[1].metric("model", md(model.name))  # the value reads Markdown too
columns[1].caption(f"family {md(model.family)} · {model.parameters or 0:,} parameters")
columns[2].metric("seed", record.seed)
columns[2].caption(md(f"{record.origin} · {record.created_at}"))
columns[3].metric("test images", f"{record.n_test:,}")
columns[3].caption(md(f"input {model.input.image_size if model.input else '?'} px"))
st.markdown(
    f"Task **{md(task.name)}** v{md(task.version)} · task hash {md_code(task.hash)} · "
    f"split sha256 {md_code(task.split_sha256)}"
)

st.subheader("Metrics")
metrics = pd.DataFrame(
    [
        {"metric": name, "value": v.value, "ci_low": v.ci_low, "ci_high": v.ci_high}
        for name, v in sorted(record.metrics.items())
    ]
)
st.dataframe(metrics, hide_index=True, key="metrics")
matrix = record.confusion_matrix
if matrix:
    confusion = figures.confusion_matrix_figure(matrix.matrix, matrix.labels)
    st.plotly_chart(confusion, key="confusion", config=figures.CHART_CONFIG)

if task.name == EXPERT_TASK:
    st.subheader("Expert labels (Google 2019)")
    try:
        expert = run_expert(data.run_dir(str(root), run_id), record)
    except BenchmarkError as exc:
        components.error(exc, "read the run's expert-label scores")
    else:
        if expert is None:
            st.caption(
                "Not scored against Google's 2019 expert labels yet: "
                + md_code(f"benchmark evaluate-expert {run_id}")
                + " scores it (runs trained with the label file in the data root have them in their record)."
            )
        else:
            st.dataframe(expert_display(expert), hide_index=True, key="expert")
            st.caption(md(expert_caption(expert)))

st.subheader("Cite")
try:
    citation = data.citation(str(root), fp, run_id)
except (BenchmarkError, KeyError) as exc:  # KeyError: a record without the fields a methods paragraph states
    components.error(exc, "write the citation of this run")
else:
    if citation.note:
        st.warning(components.md_lines(citation.note))
    st.caption("BibTeX")
    st.code(citation.bibtex, language="latex")
    st.caption("Methods paragraph (LaTeX)")
    st.code(citation.methods, language="latex", wrap_lines=True)

st.subheader("Predictions")
st.download_button(
    "Download predictions.parquet",
    data=lambda: data.predictions_bytes(str(root), run_id),
    file_name=f"{run_id}-predictions.parquet",
    mime="application/vnd.apache.parquet",
    key="download_predictions",
)
st.caption("One row per test image: `image_id`, `patient_id`, `true:<label>`, `score:<label>`, as the run wrote it.")

st.subheader("Full record")
st.json(record.to_dict(), expanded=False)
