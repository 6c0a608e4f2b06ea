"""External test sets page: each run of the selected task on its own test set and on every external set its
task declares (benchmark.external), with the drop. Rows are per run, as ``benchmark export`` lists them."""

from __future__ import annotations

import streamlit as st

from benchmark.errors import BenchmarkError
from benchmark.external.report import external_table
from benchmark.external.spec import external_sets
from benchmark.tasks import TASKS
from leaderboard import components, data
from leaderboard.components import md

st.title("External test sets")
root, task, task_hash, fp, standings = components.task_view()
components.task_header(standings)
st.caption(
    md(
        "Each run's primary metric on its task's own test set (internal) and on another dataset mapped onto the "
        "task's labels (external), each with its 95% patient-cluster bootstrap CI; drop = internal - external. "
        "Sets are scored at run time when their data is present, or later with "
        "`benchmark evaluate RUN_ID --external NAME`."
    )
)
declared = external_sets(TASKS.get(task)) if task in TASKS else {}
for name, spec in declared.items():
    what = f"not external: {spec.not_external}" if spec.not_external else spec.description
    st.markdown(f"- **{md(name)}**: {md(what)}")
try:
    table = external_table(data.store(root), standings)
except BenchmarkError as exc:
    components.error(exc, f"read the external results of {task}")
    st.stop()
if table.empty:
    st.info(
        md(
            f"No run of {task} has external results yet"
            + (": its task declares none." if not declared else f"; declared: {', '.join(declared)}.")
        )
    )
    st.stop()
st.dataframe(table.drop(columns=["run_id"]), hide_index=True, use_container_width=True)
