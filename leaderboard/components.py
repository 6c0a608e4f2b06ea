"""Streamlit pieces shared by the leaderboard's pages: the results root, the empty state, the task
picker (task and task hash, kept across pages and in the URL) and error display.

Names are user text (a submission's name, a plugin's, a task's labels, a run id from the URL): every
element that reads Markdown (markdown, caption, title, info/warning/error, metric, page_link and image
captions) gets them through ``md`` or ``md_code`` (benchmark.text), never as they are; tables,
select options and code blocks show text as it is."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pandas as pd
import streamlit as st

from benchmark.errors import BenchmarkError
from benchmark.results.standings import Standings
from benchmark.text import markdown_code as md_code
from benchmark.text import markdown_escape
from leaderboard import data

ROOT_KEY = "cxrbench_results_root"  # set by app.py on every run


def results_root() -> Path:
    """The folder app.py was started on (the arguments, else $CXRBENCH_RESULTS, else ./results)."""
    if ROOT_KEY not in st.session_state:
        st.session_state[ROOT_KEY] = str(data.parse_root(sys.argv[1:], os.environ))
    return Path(st.session_state[ROOT_KEY])


def empty_state(root: Path) -> None:
    if not root.is_dir():
        st.info(
            f"There is no results folder at {md_code(root)} yet. Runs appear here once `benchmark run` has "
            "written one, or start the leaderboard on another folder: `benchmark leaderboard --results DIR`."
        )
    else:
        command = f"benchmark run --task covid3 --model lotko_cnn --data-root DIR --results {root}"
        st.info(
            f"No runs in {md_code(root)} yet. Train one, e.g. {md_code(command)}, or submit a model "
            "(`benchmark submit`); it shows up here on the next page view."
        )


def md(text: object) -> str:
    """User text as literal Markdown for a Streamlit element (``markdown_escape`` with the autolinks
    Streamlit would still find in the text broken)."""
    return markdown_escape(text, break_autolinks=True)


def md_lines(text: str) -> str:
    """Text of several lines (an error message) as Markdown: each line escaped (``md``), the lines kept."""
    return "  \n".join(md(line) for line in str(text).splitlines()) or md(text)


def error(exc: BaseException, what: str) -> None:
    """Show a typed error the app can explain (callers catch BenchmarkError only: anything else is a bug).
    The message often quotes user text (a run id from the URL, a name), so it is shown escaped."""
    st.error(md_lines(f"Could not {what}: {type(exc).__name__}: {exc}"))


def load_runs(root: Path) -> pd.DataFrame | None:
    """Every run of the folder, or None after showing the empty state or the error."""
    try:
        runs = data.runs(str(root), data.fingerprint(root))
    except BenchmarkError as exc:
        error(exc, f"list the runs of {root}")
        return None
    if runs.empty:
        empty_state(root)
        return None
    return runs


def _remembered(key: str, options: list[str], default: str) -> int:
    """Index of the choice a widget starts from: the URL's (``?key=``), else the last choice made on
    any page, else ``default``. Once the user picks, the widget's own state wins."""
    for candidate in (st.query_params.get(key), st.session_state.get(f"_{key}"), default):
        if candidate in options:
            return options.index(candidate)
    return 0


def _keep(key: str, value: str) -> None:
    """Remember a choice across pages and put it in the URL, so the view can be shared."""
    st.session_state[f"_{key}"] = value
    st.query_params[key] = value


def pick_task(root: Path, runs: pd.DataFrame) -> tuple[str, str] | None:
    """Sidebar: the task, and which of its task hashes when the folder holds several (runs of
    different hashes are never ranked together). Both are kept across pages and in the URL
    (``?task=...&hash=...``). Returns (task, task_hash), or None after showing an error."""
    tasks = data.task_names(runs)
    task = st.sidebar.selectbox("Task", tasks, index=_remembered("task", tasks, tasks[0]), key="task")
    _keep("task", task)
    try:
        found, default = data.hashes(str(root), data.fingerprint(root), task)
    except BenchmarkError as exc:
        error(exc, f"list the versions of task {task}")
        return None
    if len(found) == 1:
        st.query_params.pop("hash", None)
        return task, found[0]
    rows = runs[runs["task_name"] == task]

    def label(value: str) -> str:
        mine = rows[rows["task_hash"] == value]
        return f"v{mine['task_version'].iloc[0]} · {value[:12]} · {len(mine)} runs"

    index = _remembered("hash", found, default)
    task_hash = st.sidebar.selectbox("Task version (hash)", found, index, format_func=label, key=f"hash_{task}")
    _keep("hash", task_hash)
    st.sidebar.caption(f"{len(found)} versions of {md(task)} here; each is ranked on its own, never mixed.")
    return task, task_hash


def task_header(standings: Standings) -> None:
    """Task name, version, short task hash and split sha256: what every number on the page belongs to."""
    st.markdown(
        f"**{md(standings.task_name)}** v{md(standings.task_version)} · task hash {md_code(standings.task_hash[:12])}"
        f" · split sha256 {md_code(standings.split_sha256)} · metric **{md(standings.metric)}**"
    )


def task_view() -> tuple[Path, str, str, data.Fingerprint, Standings]:
    """What a per-task page starts from: the results root, the task and task hash picked in the
    sidebar, the folder's fingerprint and the task's standings. Stops the page (after showing the
    empty state or the error) when there is nothing to show."""
    root = results_root()
    runs = load_runs(root)
    if runs is None:
        st.stop()
    picked = pick_task(root, runs)
    if picked is None:
        st.stop()
    task, task_hash = picked
    fp = data.fingerprint(root)
    try:
        standings = data.standings(str(root), fp, task, task_hash)
    except BenchmarkError as exc:
        error(exc, f"rank task {task}")
        st.stop()
    return root, task, task_hash, fp, standings
