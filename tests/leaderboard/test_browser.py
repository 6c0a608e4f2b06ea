"""`benchmark leaderboard` in a real browser: a results folder of real covid3 runs, the server started as
a user starts it, headless Chromium (Playwright's own when installed, else Debian's) clicking through the
pages; and a folder whose names are hostile user text (tests/leaderboard/named_runs.py), shown as text.
Every request the browser makes is recorded: none may leave the machine. Screenshots go to the test's
temporary folder."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

from benchmark.results.store import ResultsDir
from benchmark.saliency.run import SaliencyRequest, run_saliency
from benchmark.training.runner import RunRequest, run_benchmark
from tests.conftest import REPO
from tests.leaderboard.named_runs import EVIL, LABEL, NAMES, SEEDS, TASK, write_named_runs

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
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
# Every link and image of the page, HTML and SVG (plotly draws <a> and <image> in SVG), as absolute URLs.
LINKS_AND_IMAGES = """() => {
    const url = v => (v && v.baseVal !== undefined) ? v.baseVal : v;
    const abs = v => v ? new URL(v, document.baseURI).href : null;
    const links = [...document.querySelectorAll("a")].map(e => abs(url(e.href) || e.getAttribute("xlink:href")));
    const images = [...document.querySelectorAll("img, image, source")].map(
        e => abs(e.getAttribute("src") || e.getAttribute("href") || e.getAttribute("xlink:href") || e.srcset));
    return {links: links.filter(Boolean), images: images.filter(Boolean)};
}"""


def browser_executable(playwright: Any) -> str:
    """Playwright's own Chromium when `playwright install chromium` was run, else Debian's; never a skip."""
    own = Path(playwright.chromium.executable_path)
    if own.is_file():
        return str(own)
    if Path(CHROMIUM).is_file():
        return CHROMIUM
    pytest.fail(
        f"no Chromium for the real-browser test: neither Playwright's ({own}) nor {CHROMIUM} exists. "
        "Run the tests through tests/run.sh (it installs Debian's chromium), or `apt-get install chromium`, "
        "or `.venv/bin/python -m playwright install chromium`."
    )


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


@contextmanager
def leaderboard(results: Path, log_path: Path) -> Iterator[str]:
    """`benchmark leaderboard --results DIR --port P` as a subprocess; its URL once it answers. Always stopped."""
    port = _free_port()
    log = log_path.open("w")
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "benchmark.cli", "leaderboard", "--results", str(results)]
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


@pytest.fixture
def server(real_results: Path, tmp_path: Path) -> Iterator[str]:
    with leaderboard(real_results, tmp_path / "server.log") as url:
        yield url


@pytest.fixture
def named_server(tmp_path: Path) -> Iterator[str]:
    results = tmp_path / "named"
    write_named_runs(results)
    with leaderboard(results, tmp_path / "server.log") as url:
        yield url


@contextmanager
def browser_page(tmp_path: Path) -> Iterator[tuple[Any, list[str]]]:
    """A Chromium page and the list every request it makes is appended to (page.on("request"))."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)  # first views compute the standings; the default 5 s is too short
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=browser_executable(playwright), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(TIMEOUT_MS)
            requests: list[str] = []
            page.on("request", lambda request: requests.append(request.url))
            yield page, requests
        finally:
            browser.close()


def is_local(url: str) -> bool:
    """A URL the page may use: this machine's server, or data the page already holds (data:, blob:)."""
    parts = urlsplit(url)
    return parts.scheme in ("data", "blob", "about") or (
        parts.scheme in ("http", "https", "ws", "wss") and parts.hostname in LOCAL_HOSTS
    )


def assert_nothing_leaves(page: Any, requests: list[str]) -> None:
    """No request went to another host, and no link or image on the page points to one."""
    page.wait_for_timeout(1500)  # late requests (favicon, fonts, usage statistics) are made by now
    assert requests and not [url for url in requests if not is_local(url)]
    found = page.evaluate(LINKS_AND_IMAGES)
    assert not [url for url in found["links"] + found["images"] if not is_local(url)], found


def visible_text(locator: Any) -> str:
    """The text a reader sees (the invisible WORD JOINER the escaping adds left out)."""
    return locator.text_content().replace("\u2060", "")


@pytest.mark.slow
def test_leaderboard_pages_in_a_real_browser(server: str, real_results: Path, tmp_path: Path):
    from playwright.sync_api import expect

    records = ResultsDir(real_results).records()
    task_hash = records[0].task.hash
    with browser_page(tmp_path) as (page, requests):
        page.goto(server)

        # the ranked table renders, for the covid3 task hash of the runs; the first view draws no chart
        expect(page.get_by_role("heading", name="Ranked", exact=True)).to_be_visible()
        table = page.locator('[data-testid="stDataFrame"]').first
        expect(table).to_be_visible()
        assert table.bounding_box()["height"] > 50
        expect(page.get_by_text(f"task hash {task_hash[:12]}", exact=False).first).to_be_visible()
        assert page.locator(".js-plotly-plot").count() == 0
        page.screenshot(path=str(tmp_path / "ranking.png"), full_page=True)
        assert_nothing_leaves(page, requests)

        # the filters open from the sidebar; the per-label AUROC is one click away, on the Plots page
        page.get_by_role("button", name="Filters").click()
        expect(page.get_by_text("Model family", exact=True)).to_be_visible()
        page.keyboard.press("Escape")
        page.get_by_role("link", name="AUROC per label", exact=False).click()
        chart = page.locator(".js-plotly-plot").first
        expect(chart).to_be_visible()
        expect(chart.locator(".main-svg").first).to_be_attached()
        assert "AUROC per label" in visible_text(chart)
        page.screenshot(path=str(tmp_path / "plots.png"), full_page=True)
        assert_nothing_leaves(page, requests)
        page.goto(server)
        expect(page.get_by_role("heading", name="Ranked", exact=True)).to_be_visible()

        # click through to a run page
        link = page.locator('a[href*="run?run="]').first
        expect(link).to_be_visible()
        run_id = link.get_attribute("href").split("run=", 1)[1]
        assert run_id in {r.run_id for r in records}
        link.click()  # the page may still be laying out: the run opened is one of the entry's, not always this one
        heading = page.get_by_role("heading", name=re.compile(r"^Run \d{8}T")).first
        expect(heading).to_be_visible()
        assert heading.inner_text().strip().removeprefix("Run ").strip() in {r.run_id for r in records}
        expect(page.get_by_text("@software{cxrbench", exact=False).first).to_be_visible()
        expect(page.get_by_role("button", name="Download predictions.parquet")).to_be_visible()
        page.screenshot(path=str(tmp_path / "run.png"), full_page=True)
        assert_nothing_leaves(page, requests)

        # the gallery shows the cached overlays
        page.locator('[data-testid="stSidebarNav"] a[href$="/gallery"]').click()
        expect(page.get_by_role("heading", name="Saliency gallery")).to_be_visible()
        image = page.locator('[data-testid="stImage"] img').first
        expect(image).to_be_visible()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
        page.screenshot(path=str(tmp_path / "gallery.png"), full_page=True)
        assert_nothing_leaves(page, requests)
    for name in ("ranking", "run", "gallery"):
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000


@pytest.mark.slow
def test_names_show_as_text_and_nothing_leaves_the_machine(named_server: str, tmp_path: Path):
    """Model names, the task name and its label hold a newline, a |, Markdown links and images and HTML:
    the pages show them as written, with no link or image to evil.example and no request off the machine."""
    from playwright.sync_api import expect

    with browser_page(tmp_path) as (page, requests):
        page.goto(f"{named_server}/?task={quote(TASK)}")
        expect(page.get_by_role("heading", name="Ranked", exact=True)).to_be_visible()
        header = page.locator('[data-testid="stMarkdownContainer"]', has_text="task hash").first
        expect(header).to_be_visible()
        assert visible_text(header).startswith(f"{TASK} v1 · task hash")  # the task name as text, tags and all
        page.screenshot(path=str(tmp_path / "named-ranking.png"), full_page=True)
        assert_nothing_leaves(page, requests)

        page.goto(f"{named_server}/plots?plot={quote('AUROC per label')}&task={quote(TASK)}")
        heatmap = page.locator(".js-plotly-plot").first
        expect(heatmap.locator(".main-svg").first).to_be_attached()
        ticks = visible_text(heatmap)
        for name in [*NAMES[1:], LABEL]:  # the HTML and Markdown as text in the tick labels
            assert name in ticks, name
        assert_nothing_leaves(page, requests)

        page.goto(f"{named_server}/plots?task={quote(TASK)}")
        forest = page.locator(".js-plotly-plot").first
        expect(forest.locator(".main-svg").first).to_be_attached()
        caption = page.locator('[data-testid="stCaptionContainer"]').first
        expect(caption).to_be_visible()
        assert "difference against" in visible_text(forest) and " on the same " in visible_text(caption)
        page.screenshot(path=str(tmp_path / "named-plots.png"), full_page=True)
        assert_nothing_leaves(page, requests)

        for model, name in enumerate(NAMES):
            run_id = f"20250101T00000{model}Z-named-m{model}-s{SEEDS[0]}"
            page.goto(f"{named_server}/run?run={run_id}")
            expect(page.get_by_role("heading", name=f"Run {run_id}")).to_be_visible()
            value = page.locator('[data-testid="stMetricValue"]').nth(1)
            assert visible_text(value) == name.replace("\n", r"\n")  # the model, as written on one line
            assert_nothing_leaves(page, requests)

        for asked in (f"[x]({EVIL})", f"![i]({EVIL}/i.png)"):
            page.goto(f"{named_server}/run?run={quote(asked)}")
            alert = page.locator('[data-testid="stAlert"]').first
            expect(alert).to_be_visible()
            assert f"Could not open run {asked!r}" in visible_text(alert)
            assert_nothing_leaves(page, requests)
        page.screenshot(path=str(tmp_path / "named-error.png"), full_page=True)
