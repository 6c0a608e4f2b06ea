"""CXR-Bench leaderboard (Streamlit): ``benchmark leaderboard [--results DIR]``, or
``streamlit run leaderboard/app.py -- --results DIR`` (else $CXRBENCH_RESULTS, else ./results).

The entry point of a multipage app: it sets the page, the results folder and the navigation;
each page is a script in ``leaderboard/views/``. The app only reads the results folder.
"""

from __future__ import annotations

import os
import sys

import streamlit as st

from leaderboard.components import ROOT_KEY
from leaderboard.data import parse_root

st.set_page_config(page_title="CXR-Bench leaderboard", page_icon=":material/leaderboard:", layout="wide")
st.session_state[ROOT_KEY] = str(parse_root(sys.argv[1:], os.environ))

PAGES = [
    st.Page("views/ranking.py", title="Leaderboard", icon=":material/leaderboard:", default=True),
    st.Page("views/plots.py", title="Plots", icon=":material/monitoring:", url_path="plots"),
    st.Page("views/run.py", title="Run", icon=":material/description:", url_path="run"),
    st.Page("views/gallery.py", title="Saliency gallery", icon=":material/image:", url_path="gallery"),
]
st.navigation(PAGES).run()
