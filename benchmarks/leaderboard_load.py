"""First paint of the leaderboard in a real browser on a results folder of 500 runs, against a bare Streamlit page.

Builds 500 generated runs (tests/fixtures/runs/make.py: record.json + predictions.parquet, as `benchmark run`
writes them, without training): 10 tasks (binary, multiclass, multilabel) of 600 to 2,000 test images,
each with 10 models x 5 seeds (a folder that already holds runs is reused). Then, ``--repeats`` times and
alternating which goes first, times in headless Chromium (a new browser context each time: no HTTP cache)
from navigation until the page is painted: its script has finished, no element is still a loading
placeholder (Streamlit's skeleton while an element's front-end code loads), at least one table is drawn
(its grid canvas), every table of the page is, and every plotly chart has its SVG (the same rule for both pages):

- the board: `benchmark leaderboard` on the folder (a fresh server: its first page view, the default task);
- the bare page: a title and one 3-row table, nothing computed, served the same way (``leaderboard.serve``
  with the same options, so pandas and plotly are imported before the port opens for both): what
  Streamlit's front end alone costs in this browser on this machine. The board's first view draws no
  chart (its per-label AUROC is on the Plots page), so neither page loads plotly.js.

Wall-clock first paint (everything drawn) is the headline. Also printed: the time until the page's first
table (the board's ranked entries) is drawn, whatever is still loading below it. Beside them, what the
machine's load does not inflate: the renderer's main-thread CPU time until painted (CDP
``Performance.getMetrics`` with thread ticks: TaskDuration, of it ScriptDuration) and the JavaScript the page
loaded (decoded bytes); the ratios are printed.

The first view of the board needs the run list and the default task's standings (10 entries, 45 paired
bootstrap tests of 2,000 resamples): ``leaderboard.serve`` computes them before
the server opens its port (the server's log line is printed), so each server's start, from launch until
it answers, is printed too. On the first repeat it also times a second visit (warm) and another task
(the largest) opened by URL on the same server: computed on that view, then cached.

    .venv/bin/python benchmarks/leaderboard_load.py [--results DIR] [--keep] [--repeats 3] [--chromium PATH]

Goal: board / bare (medians of the cold first paints) <= 1.10.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from playwright.sync_api import Browser, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmark.commands.leaderboard import streamlit_command  # noqa: E402
from benchmark.reference.board import REFERENCE_ENV  # noqa: E402
from benchmark.results.record import RECORD_FILE, RunRecord  # noqa: E402
from benchmark.results.store import ResultsDir  # noqa: E402
from tests.fixtures.runs.make import ToyModel, toy_task, write_task_runs  # noqa: E402

GOAL_RATIO = 1.10  # board cold first paint / bare page cold first paint, medians of the same run
# (name, problem, labels, patients, images per patient at most): test sets of about 600 to 2,000 images
TASKS = [
    ("chexpert3", "multilabel", ("Cardiomegaly", "Edema", "Pleural Effusion"), 600, 2),
    ("covid3", "multiclass", ("Covid", "Normal", "Viral Pneumonia"), 700, 1),
    ("lung3_64", "multiclass", ("healthy", "pre-existing", "effusion or mass"), 500, 3),
    ("nih5", "multilabel", ("Atelectasis", "Effusion", "Infiltration", "Mass", "Nodule"), 700, 5),
    ("pneumonia", "binary", ("pneumonia",), 624, 1),
    ("pneumoniamnist", "binary", ("pneumonia",), 624, 1),
    ("tb", "binary", ("tuberculosis",), 400, 3),
    ("covid2", "binary", ("covid",), 900, 2),
    ("effusion", "binary", ("effusion",), 800, 2),
    ("cardio", "binary", ("cardiomegaly",), 1000, 2),
]
FAMILIES = ("resnet", "densenet", "efficientnet", "custom_cnn", "vgg")
MODELS = [
    ToyModel(f"model_{k:02d}", 0.4 + 0.15 * k, (0, 1, 2, 3, 4), family=FAMILIES[k % 5], image_size=(64, 224)[k % 2])
    for k in range(10)
]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]  # fmt: skip
PREPARED_LINE = "first view"  # the line leaderboard.serve logs about what it computed before opening the port

BARE_APP = """
import pandas as pd
import streamlit as st

st.title("minimal")
st.dataframe(pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]}))
"""
# Painted: the script run is over, no loading placeholder is left, at least one table is drawn, and every
# table (its canvas) and every plotly chart (its SVG) of the page is.
PAINTED = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (document.querySelector('[data-testid="stSkeleton"]')) return false;
  const tables = [...document.querySelectorAll('[data-testid="stDataFrame"]')];
  const drawn = (e, part) => e.querySelector(part) && e.getBoundingClientRect().height > 0;
  if (!tables.length || !tables.every(t => drawn(t, 'canvas'))) return false;
  return [...document.querySelectorAll('.js-plotly-plot')].every(c => drawn(c, '.main-svg'));
}"""
# The main table visible: the page's first table (the board's ranked entries; the bare page's table) has its
# grid canvas drawn, whatever is still loading below it. The classic "first paint" of the page's content.
FIRST_TABLE = """() => {
  const table = document.querySelector('[data-testid="stDataFrame"]');
  return !!table && !!table.querySelector('canvas') && table.getBoundingClientRect().height > 0;
}"""
JS_BYTES = (
    "performance.getEntriesByType('resource').filter(e => e.name.split('?')[0].endsWith('.js'))"
    ".reduce((total, e) => total + e.decodedBodySize, 0)"
)


def build(results: Path) -> dict[str, int]:
    """500 runs; returns the number of test images of each task."""
    rng = np.random.default_rng(0)
    sizes, hour = {}, 0
    for k, (name, problem, labels, n_patients, max_images) in enumerate(TASKS):
        task = toy_task(problem, labels, task_hash=f"{k:x}" * 64, name=name)
        ids = write_task_runs(results, task, MODELS, n_patients, rng, max_images=max_images, hour=hour)
        hour += len(ids)
        sizes[name] = RunRecord.load(results / ids[0] / RECORD_FILE).n_test
    return sizes


def existing(results: Path) -> dict[str, int]:
    """The number of test images of each task of a folder built before (empty if it holds no run)."""
    if not results.is_dir() or not any((p / RECORD_FILE).is_file() for p in results.iterdir()):
        return {}
    return {run.task_name: run.n_test for run in ResultsDir(results, read_only=True).query()}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Server:
    url: str
    started_s: float  # from launch until /_stcore/health answers
    log: str = ""


@contextmanager
def server(command: list[str], port: int, log_path: Path, env: dict[str, str]) -> Iterator[Server]:
    """A fresh server of ``command`` listening on ``port``; its log in ``log_path``. Always stopped."""
    with log_path.open("w") as log:
        launched = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 300
            while True:
                if process.poll() is not None:
                    raise SystemExit(f"the server exited with {process.returncode}:\n{log_path.read_text()}")
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as response:
                        if response.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit(f"the server did not answer in 300 s:\n{log_path.read_text()}")
                time.sleep(0.1)
            yield Server(f"http://127.0.0.1:{port}/", time.perf_counter() - launched, log_path.read_text())
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@dataclass
class Paint:
    seconds: float  # wall clock, navigation until painted
    first_table_s: float  # wall clock, navigation until the first table is drawn (FIRST_TABLE)
    main_thread_s: float  # the renderer's main-thread CPU time until painted (CDP TaskDuration, thread ticks)
    script_s: float  # of it, running JavaScript (ScriptDuration)
    js_bytes: int  # JavaScript the page loaded, decoded


def first_paint(browser: Browser, url: str) -> Paint:
    """From navigation until painted (``PAINTED``), in a new browser context (nothing cached from an earlier
    visit), with the main thread's CPU time and the JavaScript loaded."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Performance.enable", {"timeDomain": "threadTicks"})  # durations in thread CPU time
    started = time.perf_counter()
    page.goto(url)
    page.wait_for_function(FIRST_TABLE, polling=50, timeout=180_000)
    first_table = time.perf_counter() - started
    page.wait_for_function(PAINTED, polling=50, timeout=180_000)
    elapsed = time.perf_counter() - started
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    js_bytes = int(page.evaluate(JS_BYTES))
    context.close()
    return Paint(elapsed, first_table, metrics["TaskDuration"], metrics["ScriptDuration"], js_bytes)


@dataclass
class Timings:
    paints: list[Paint] = field(default_factory=list)
    starts: list[float] = field(default_factory=list)

    def of(self, name: str) -> list[float]:
        return [getattr(paint, name) for paint in self.paints]


def spread(values: Sequence[float]) -> str:
    return f"median {statistics.median(values):.2f} s (min {min(values):.2f}, max {max(values):.2f}; n={len(values)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, help="folder of the 500 runs (built unless it holds runs already; "
                        "default: a temporary one)")  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="keep the generated folder")
    parser.add_argument("--repeats", type=int, default=3, help="cold first paints of each page, alternating")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()

    results = (args.results or Path(tempfile.mkdtemp(prefix="cxrbench-load-"))).absolute()
    work = Path(tempfile.mkdtemp(prefix="cxrbench-load-work-"))
    try:
        started = time.perf_counter()
        sizes = existing(results)
        if sizes:
            print(f"reusing the runs of {len(sizes)} tasks in {results}")
        else:
            sizes = build(results)
            print(f"built the runs of {len(sizes)} tasks in {time.perf_counter() - started:.1f} s: {results}")
        runs = sum(1 for p in results.iterdir() if (p / RECORD_FILE).is_file())
        largest = max(sizes, key=sizes.get)
        bare_app, empty = work / "bare_app.py", work / "no-results"
        bare_app.write_text(BARE_APP)
        empty.mkdir()
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}

        def board_command(port: int) -> list[str]:  # as a user starts it (the shipped reference board beside)
            return [
                sys.executable,
                "-m",
                "benchmark.cli",
                "leaderboard",
                "--results",
                str(results),
                "--port",
                str(port),
            ]

        def bare_command(port: int) -> list[str]:  # the same launcher and options, the bare page as the app
            command = streamlit_command(empty, port, "127.0.0.1")
            command[command.index("run") + 1] = str(bare_app)
            return command

        board, bare = Timings(), Timings()
        prepared, warm, other = "", None, None
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
            for repeat in range(args.repeats):
                order = ("board", "bare") if repeat % 2 == 0 else ("bare", "board")
                for which in order:
                    port = free_port()
                    if which == "board":
                        with server(board_command(port), port, work / "board.log", env) as up:
                            board.starts.append(up.started_s)
                            board.paints.append(first_paint(browser, up.url))
                            prepared = next((ln for ln in up.log.splitlines() if PREPARED_LINE in ln), prepared)
                            if repeat == 0:
                                warm = first_paint(browser, up.url)
                                other = first_paint(browser, f"{up.url}?task={largest}")
                    else:
                        with server(bare_command(port), port, work / "bare.log", {**env, REFERENCE_ENV: "none"}) as up:
                            bare.starts.append(up.started_s)
                            bare.paints.append(first_paint(browser, up.url))
                b, m = board.paints[-1], bare.paints[-1]
                print(
                    f"repeat {repeat + 1}: board {b.seconds:.2f} s (main thread {b.main_thread_s:.2f} s), "
                    f"bare {m.seconds:.2f} s (main thread {m.main_thread_s:.2f} s)",
                    flush=True,
                )
            browser.close()
        load = os.getloadavg()
        ratio = statistics.median(board.of("seconds")) / statistics.median(bare.of("seconds"))
        ratios = [b / m for b, m in zip(board.of("seconds"), bare.of("seconds"), strict=True)]
        cpu_ratio = statistics.median(board.of("main_thread_s")) / statistics.median(bare.of("main_thread_s"))
        print(f"machine: {os.cpu_count()} CPUs, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}")
        print(f"results: {runs} runs of {len(sizes)} tasks (and the shipped reference board beside them)")
        print(f"board server ({prepared or 'no first-view line in its log'})")
        print(f"server start, launch until it answers: board {spread(board.starts)}; bare {spread(bare.starts)}")
        for name, timings in (("board", board), ("bare ", bare)):
            print(f"cold first paint, fresh server, new browser context: {name} {spread(timings.of('seconds'))}")
        for name, timings in (("board", board), ("bare ", bare)):
            print(
                f"  main-thread CPU until painted: {name} {spread(timings.of('main_thread_s'))}; of it script "
                f"median {statistics.median(timings.of('script_s')):.2f} s; JavaScript loaded "
                f"{statistics.median(timings.of('js_bytes')) / 1e6:.2f} MB"
            )
        print(
            f"board / bare = {ratio:.2f} (wall clock, ratio of the medians; per repeat "
            f"{', '.join(f'{r:.2f}' for r in ratios)}) -> goal <= {GOAL_RATIO:.2f} "
            f"{'met' if ratio <= GOAL_RATIO else 'MISSED'}"
        )
        print(f"board / bare = {cpu_ratio:.2f} (main-thread CPU time, ratio of the medians; load-insensitive)")
        for name, timings in (("board", board), ("bare ", bare)):
            print(f"first table drawn (the main content visible): {name} {spread(timings.of('first_table_s'))}")
        table_ratio = statistics.median(board.of("first_table_s")) / statistics.median(bare.of("first_table_s"))
        print(
            f"board / bare = {table_ratio:.2f} (the first table drawn: the board's ranked entries, the bare page's "
            f"table) -> {'within' if table_ratio <= GOAL_RATIO else 'above'} {GOAL_RATIO:.2f}"
        )
        if warm is not None and other is not None:
            print(f"board, second visit on the same server (cached): {warm.seconds:.2f} s")
            print(
                f"board, another task cold on the same server ({largest}, {sizes[largest]:,} images): "
                f"{other.seconds:.2f} s"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if not args.keep and args.results is None:
            shutil.rmtree(results, ignore_errors=True)


if __name__ == "__main__":
    main()
