"""`benchmark leaderboard` in a real browser: a results folder of real covid3 runs, the server started as
a user starts it, headless Chromium (Debian's, driven by Playwright) clicking through the pages.
Screenshots go to the test's temporary folder."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmark.results.store import ResultsDir
from benchmark.saliency.run import SaliencyRequest, run_saliency
from benchmark.training.runner import RunRequest, run_benchmark
from tests.conftest import REPO

CHROMIUM = "/usr/bin/chromium"
SMOKE = {"epochs": 1, "steps_per_epoch": 2}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 90_000


@pytest.fixture(scope="module")
def real_results(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """lotko_cnn on the real covid3 images, two configurations x 3 seeds (two ranked entries), and
    Grad-CAM maps of 2 test images of one run (what `benchmark saliency RUN --n 2 --methods gradcam` caches)."""
    results = tmp_path_factory.mktemp("results")
    for overrides in ({}, {"lr": 1e-4}):
        for seed in (0, 1, 2):
            request = RunRequest(
                task="covid3",
                model="lotko_cnn",
                data_root=str(shared_data),
                seed=seed,
                overrides={**SMOKE, **overrides},
                results=results,
            )
            run_benchmark(request)
    first = sorted(p.name for p in results.iterdir() if (p / "record.json").is_file())[0]
    run_saliency(SaliencyRequest(run_id=first, results=results, methods=("gradcam",), n=2))
    return results


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def server(real_results: Path, tmp_path: Path) -> Iterator[str]:
    """`benchmark leaderboard --results DIR --port P` as a subprocess; its URL once it answers. Always stopped."""
    port = _free_port()
    log_path = tmp_path / "server.log"
    log = log_path.open("w")
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "benchmark.cli", "leaderboard", "--results", str(real_results)]
    command += ["--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                pytest.fail(f"the leaderboard exited with {process.returncode}:\n{log_path.read_text()}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the leaderboard did not answer in 90 s:\n{log_path.read_text()}")
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # the command and the Streamlit server it started
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


@pytest.mark.slow
def test_leaderboard_pages_in_a_real_browser(server: str, real_results: Path, tmp_path: Path):
    from playwright.sync_api import expect, sync_playwright

    records = ResultsDir(real_results).records()
    task_hash = records[0].task.hash
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(server)

            # the ranked table and a plotly chart render, for the covid3 task hash of the runs
            expect(page.get_by_role("heading", name="Ranked")).to_be_visible()
            table = page.locator('[data-testid="stDataFrame"]').first
            expect(table).to_be_visible()
            assert table.bounding_box()["height"] > 50
            expect(page.get_by_text(f"task hash {task_hash[:12]}", exact=False).first).to_be_visible()
            chart = page.locator(".js-plotly-plot").first
            expect(chart).to_be_visible()
            expect(chart.locator(".main-svg").first).to_be_attached()
            page.screenshot(path=str(tmp_path / "ranking.png"), full_page=True)

            # click through to a run page
            link = page.locator('a[href*="run?run="]').first
            expect(link).to_be_visible()
            run_id = link.get_attribute("href").split("run=", 1)[1]
            assert run_id in {r.run_id for r in records}
            link.click()
            expect(page.get_by_role("heading", name=f"Run {run_id}")).to_be_visible()
            expect(page.get_by_text("@software{cxrbench", exact=False).first).to_be_visible()
            expect(page.get_by_role("button", name="Download predictions.parquet")).to_be_visible()
            page.screenshot(path=str(tmp_path / "run.png"), full_page=True)

            # the gallery shows the cached overlays
            page.locator('[data-testid="stSidebarNav"] a[href$="/gallery"]').click()
            expect(page.get_by_role("heading", name="Saliency gallery")).to_be_visible()
            image = page.locator('[data-testid="stImage"] img').first
            expect(image).to_be_visible()
            page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
            page.screenshot(path=str(tmp_path / "gallery.png"), full_page=True)
        finally:
            browser.close()
    for name in ("ranking", "run", "gallery"):
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000
