"""First paint of the leaderboard in a real browser on a results folder of 500 runs.

Builds 500 generated runs (tests/fixtures/runs/make.py: record.json + predictions.parquet, as `benchmark run`
writes them, without training): 10 tasks (binary, multiclass, multilabel) of 600 to 2,000 test images,
each with 10 models x 5 seeds. Then starts `benchmark leaderboard` on it (a fresh server: nothing cached,
app modules not yet imported), opens it in headless Chromium and times, from navigation, until the
ranked table and the first plotly chart are visible:

1. cold: the first visit to a fresh server (the default task's standings computed: 10 entries,
   45 paired bootstrap tests of 2,000 resamples);
2. warm: a second visit in a new browser page (the standings come from the cache);
3. another task cold: the largest task (2,000 images, 5 labels) opened by URL on the warm server.

Side by side, the same timing of a minimal Streamlit page (one 3-row table and one 2 x 2 plotly heatmap,
nothing computed) on the same machine: what Streamlit's front end alone costs in this browser.

    .venv/bin/python benchmarks/leaderboard_load.py [--results DIR] [--keep] [--chromium /usr/bin/chromium]

Goal: first paint (1) <= 3 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
from playwright.sync_api import Browser, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmark.results.record import RECORD_FILE, RunRecord  # noqa: E402
from tests.fixtures.runs.make import ToyModel, toy_task, write_task_runs  # noqa: E402

GOAL_S = 3.0
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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


MINIMAL_APP = """
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

st.title("minimal")
st.dataframe(pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]}))
st.plotly_chart(go.Figure(go.Heatmap(z=[[1, 2], [3, 4]])))
"""


def start_server(command: list[str], port: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return process
        except OSError:
            time.sleep(0.2)
    os.killpg(process.pid, signal.SIGTERM)
    raise SystemExit("the leaderboard did not start in 120 s")


def first_paint(browser: Browser, url: str) -> float:
    """Seconds from navigation until the ranked table and the first plotly chart are visible."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    started = time.perf_counter()
    page.goto(url)
    page.locator('[data-testid="stDataFrame"]').first.wait_for(state="visible", timeout=180_000)
    page.locator(".js-plotly-plot .main-svg").first.wait_for(state="visible", timeout=180_000)
    elapsed = time.perf_counter() - started
    page.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, help="folder to build the 500 runs in (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the generated folder")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()

    results = args.results or Path(tempfile.mkdtemp(prefix="cxrbench-load-"))
    try:
        started = time.perf_counter()
        sizes = build(results)
        runs = sum(1 for p in results.iterdir() if (p / "record.json").is_file())
        print(f"built {runs} runs of {len(sizes)} tasks in {time.perf_counter() - started:.1f} s: {results}")
        default = sorted(sizes)[0]
        largest = max(sizes, key=sizes.get)
        minimal = results.parent / f"{results.name}-minimal-app.py"
        minimal.write_text(MINIMAL_APP)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
            port = free_port()
            command = [sys.executable, "-m", "benchmark.cli", "leaderboard", "--results", str(results)]
            server = start_server([*command, "--port", str(port)], port)
            try:
                url = f"http://127.0.0.1:{port}/"
                cold = first_paint(browser, url)
                warm = first_paint(browser, url)
                other = first_paint(browser, f"{url}?task={largest}")
            finally:
                os.killpg(server.pid, signal.SIGTERM)
                server.wait(timeout=30)
            port = free_port()
            command = [sys.executable, "-m", "streamlit", "run", str(minimal), "--server.headless", "true"]
            server = start_server([*command, "--server.port", str(port), "--browser.gatherUsageStats", "false"], port)
            try:
                floor = [first_paint(browser, f"http://127.0.0.1:{port}/") for _ in range(2)]
            finally:
                os.killpg(server.pid, signal.SIGTERM)
                server.wait(timeout=30)
                minimal.unlink()
            browser.close()
        load = os.getloadavg()
        print(f"machine: {os.cpu_count()} CPUs, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}")
        print(
            f"first paint, fresh server, cold cache ({default}, {sizes[default]:,} test images): {cold:.2f} s "
            f"-> goal <= {GOAL_S:.0f} s {'met' if cold <= GOAL_S else 'MISSED'} (ratio {cold / GOAL_S:.2f})"
        )
        print(f"second visit, warm cache: {warm:.2f} s")
        print(f"another task cold on the warm server ({largest}, {sizes[largest]:,} test images): {other:.2f} s")
        print(
            f"minimal Streamlit page (one table, one chart, nothing computed): first {floor[0]:.2f} s, "
            f"second {floor[1]:.2f} s; leaderboard cold / minimal first = {cold / floor[0]:.2f}"
        )
    finally:
        if not args.keep and args.results is None:
            shutil.rmtree(results, ignore_errors=True)


if __name__ == "__main__":
    main()
