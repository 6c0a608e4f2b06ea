"""Published claims page: the literature's numbers on a task (leaderboard/literature.yaml) beside the
board's entry of the baseline that reproduces each, with a verdict, or why it is not comparable.

Every task with claims is listed, also one without any run here (chexpert3, nih14 on this machine):
its rows then say what is missing."""

from __future__ import annotations

import streamlit as st

from benchmark.errors import BenchmarkError
from leaderboard import components, data
from leaderboard.components import md

st.title("Published claims")
root = components.results_root()
tasks = data.claim_tasks()
task = st.selectbox("Task", tasks, key="claims_task")
fp = data.fingerprint(root)
try:
    table = data.verdicts(str(root), fp, task)
except BenchmarkError as exc:
    components.error(exc, f"compare the claims on {task}")
    st.stop()
st.caption(
    md(
        "Each published value beside our estimate and its 95% CI: the entry of the baseline that reproduces the "
        "model (seed-averaged predictions, patient-cluster bootstrap). A printed value stands for its rounding "
        "interval (0.91 for [0.905, 0.915]): inside when that interval meets our CI, above or below when it lies "
        "wholly outside it. Claims on another split or data version, bounds and ranges are shown, never compared."
    )
)
counts = table["verdict"].value_counts()
st.markdown(md(" · ".join(f"{verdict}: {count}" for verdict, count in counts.items())))
st.dataframe(table, hide_index=True, use_container_width=True)
sources = data.claim_sources(task)
with st.expander("Sources (BibTeX)"):
    for key, bibtex in sources.items():
        st.code(bibtex, language="bibtex")
        st.caption(md(key))
