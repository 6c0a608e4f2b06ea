"""``python -m leaderboard.serve run leaderboard/app.py [streamlit options] -- --results DIR``: Streamlit's own
command line (what ``python -m streamlit`` runs) in a process that has imported the app's libraries first.

Streamlit imports an app's modules on the first page view; for this app (pandas, scipy, statsmodels,
scikit-learn, plotly, the statistics) that is about 2 s on 2 loaded cores, which every first visitor of a
freshly started server would wait for. Importing them while the server starts moves that wait before the
server answers. So does computing what the first view shows (``leaderboard.data.prepare_first_view``: the
run list and the default task's standings, whose paired bootstrap tests take seconds to tens of seconds):
the server opens its port once they are ready, and the first visitor gets them from memory. They are kept
under the results folder's fingerprint, so a run published after the start is ranked on the next view.
Only the default task is prepared; another task is computed when first asked for, then cached.

It also sets, unless the environment already does, the options that keep the pages from making any request
beyond this server (``OFFLINE``; leaderboard/.streamlit/config.toml sets them too, but is not installed
with the package): Streamlit's environment variables, below its command-line flags in precedence.
"""

from __future__ import annotations

import importlib
import os
import re
import sys

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

OFFLINE = {
    "browser.gatherUsageStats": "false",  # else the page posts usage events to data.streamlit.io
    "client.toolbarMode": "viewer",  # no deploy button or developer menu
    "client.showErrorLinks": "false",  # no Google / ChatGPT links under an error
    "server.enableStaticServing": "false",
    "theme.font": "sans-serif",  # Streamlit's own fonts, shipped with it
    "theme.codeFont": "monospace",
}


def option_variable(option: str) -> str:
    """Streamlit's environment variable of a config option: ``client.toolbarMode`` -> STREAMLIT_CLIENT_TOOLBAR_MODE."""
    return "STREAMLIT_" + re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", option.replace(".", "_")).upper()


def prepare(argv: list[str]) -> None:
    """Compute the first view of the results folder named after ``--`` (else $CXRBENCH_RESULTS, else
    ./results), and say so on stderr. An error there is the page's to show: it is only reported here."""
    from benchmark.errors import BenchmarkError
    from leaderboard import data

    app_args = argv[argv.index("--") + 1 :] if "--" in argv else []
    root = data.parse_root(app_args, os.environ)
    try:
        print(data.prepare_first_view(root).describe(), file=sys.stderr, flush=True)
    except BenchmarkError as exc:
        print(f"first view not prepared ({type(exc).__name__}: {exc}); the page shows it", file=sys.stderr, flush=True)


def main() -> None:
    for option, value in OFFLINE.items():
        os.environ.setdefault(option_variable(option), value)
    for name in PRELOAD:
        importlib.import_module(name)
    prepare(sys.argv[1:])
    from streamlit.web.cli import main as streamlit_main

    streamlit_main(prog_name="streamlit")


if __name__ == "__main__":
    main()
