"""`benchmark leaderboard`: serve the Streamlit leaderboard (leaderboard/app.py) on a results folder, read-only."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from benchmark.commands.core import add_reference_argument
from benchmark.reference.board import REFERENCE_ENV
from benchmark.results.store import DEFAULT_RESULTS

log = logging.getLogger(__name__)


def app_path() -> Path:
    """The installed leaderboard/app.py (found through the package, so it works from a wheel or a checkout)."""
    import leaderboard  # the package's __init__ only: no Streamlit

    return Path(leaderboard.__file__).resolve().parent / "app.py"


def streamlit_command(results: Path, port: int, address: str) -> list[str]:
    """`streamlit run app.py` headless on ``address:port``, the results folder passed after ``--``; started
    through ``leaderboard.serve``, Streamlit's command line with the app's libraries imported first."""
    return [
        sys.executable, "-m", "leaderboard.serve", "run", str(app_path()),
        "--server.headless", "true",
        "--server.address", address,
        "--server.port", str(port),
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "viewer",
        "--", "--results", str(results.absolute()),
    ]  # fmt: skip


def leaderboard(args: argparse.Namespace) -> int:
    import signal
    import subprocess

    if not args.results.is_dir():
        log.warning("no results folder %s yet: the leaderboard shows an empty state until runs appear", args.results)
    env = dict(os.environ)
    if not args.reference:
        env[REFERENCE_ENV] = "none"
    # The app imports the `leaderboard` and `benchmark` packages; Streamlit puts only the app's own folder on the path.
    package_root = str(app_path().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    print(f"CXR-Bench leaderboard of {args.results.absolute()} at http://{args.address}:{args.port} (Ctrl+C stops it)")
    process = subprocess.Popen(streamlit_command(args.results, args.port, args.address), env=env)
    signal.signal(signal.SIGTERM, lambda *_: process.terminate())  # stopping the command stops the server
    try:
        return process.wait()
    except KeyboardInterrupt:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "leaderboard",
        help="serve the leaderboard web app on a results folder (read-only)",
        description="Starts Streamlit headless on ADDRESS:PORT and blocks until interrupted. The app only reads "
        "the results folder: rankings as `benchmark export` computes them, plots, run pages, the saliency gallery.",
    )
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument("--port", type=int, default=8501)
    parser.add_argument("--address", default="127.0.0.1", help="interface to listen on (default: this machine only)")
    add_reference_argument(parser)
    parser.set_defaults(handler=leaderboard)
