"""CXR-Bench leaderboard (Streamlit): ``benchmark leaderboard [--results DIR]``, or
``streamlit run leaderboard/app.py -- --results DIR`` (else $CXRBENCH_RESULTS, else ./results).

The entry point of a multipage app: it sets the page, the results folder and the navigation;
each page is a script in ``leaderboard/views/``. The app only reads the results folder.

No request leaves the machine from its pages: no page icon (a ``:material/...:`` favicon is fetched from
fonts.gstatic.com; Streamlit's own favicon is served by the app), no help or bug-report menu links, and
leaderboard/.streamlit/config.toml (read by Streamlit next to this script; leaderboard.serve sets the same)
turns usage statistics off. tests/leaderboard/test_browser.py records every request the browser makes.
"""

from __future__ import annotations

import os
import sys

import streamlit as st

from leaderboard.components import ROOT_KEY
from leaderboard.data import parse_root

st.set_page_config(
    page_title="CXR-Bench leaderboard",
    layout="wide",
    menu_items={"Get help": None, "Report a bug": None, "About": "CXR-Bench leaderboard (read-only)."},
)
st.session_state[ROOT_KEY] = str(parse_root(sys.argv[1:], os.environ))

PAGES = [
    st.Page("views/ranking.py", title="Leaderboard", default=True),
    st.Page("views/plots.py", title="Plots", url_path="plots"),
    st.Page("views/run.py", title="Run", url_path="run"),
    st.Page("views/gallery.py", title="Saliency gallery", url_path="gallery"),
    st.Page("views/claims.py", title="Published claims", url_path="claims"),
    st.Page("views/external.py", title="External test sets", url_path="external"),
    st.Page("views/subgroups.py", title="Subgroups", url_path="subgroups"),
    st.Page("views/robustness.py", title="Robustness", url_path="robustness"),
]
st.navigation(PAGES).run()
