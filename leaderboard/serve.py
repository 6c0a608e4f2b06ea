"""``python -m leaderboard.serve run leaderboard/app.py [streamlit options] -- --results DIR``: Streamlit's own
command line (what ``python -m streamlit`` runs) in a process that has imported the app's libraries first.

Streamlit imports an app's modules on the first page view; for this app (pandas, scipy, statsmodels,
scikit-learn, plotly, the statistics) that is about 2 s on 2 loaded cores, which every first visitor of a
freshly started server would wait for. Importing them while the server starts moves that wait before the
server answers. Nothing is computed or cached ahead: the first view still computes its standings.
"""

from __future__ import annotations

import importlib

PRELOAD = (
    "pandas",
    "plotly.graph_objects",
    "benchmark.results.standings",
    "benchmark.stats",
    "leaderboard.tables",
    "leaderboard.curves",
    "leaderboard.figures",
    "leaderboard.gallery",
)


def main() -> None:
    for name in PRELOAD:
        importlib.import_module(name)
    from streamlit.web.cli import main as streamlit_main

    streamlit_main(prog_name="streamlit")


if __name__ == "__main__":
    main()
