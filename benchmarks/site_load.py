"""First paint of the static site (`benchmark export --format site`) for a results folder of 500 runs.

Builds the 500 generated runs of benchmarks/leaderboard_load.py (its ``build``: 10 tasks of 600 to 2,000
test images, 10 models x 5 seeds each; record.json + predictions.parquet, no training), exports the site,
then opens ``index.html`` and the largest task's page from ``file://`` in headless Chromium, every http(s)
request aborted, each visit in a fresh browser context (nothing cached). Per page it prints, as the
median over ``--repeats`` visits:

* first contentful paint (the Performance API's ``first-contentful-paint``, from navigation start);
* ready: from navigation start until every table is in the page and every plot has drawn its SVG
  (``.plot-container .main-svg`` in each plot div);

and each against the goal (1 s). The export's wall time and the site's size are printed too.

    .venv/bin/python benchmarks/site_load.py [--results DIR] [--site DIR] [--keep] [--repeats 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import Browser, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmark.results.store import ResultsDir  # noqa: E402
from benchmarks.leaderboard_load import build  # noqa: E402

GOAL_S = 1.0
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]  # fmt: skip
READY = """() => {
    const plots = [...document.querySelectorAll("div.plot")];
    const drawn = plots.every(p => p.querySelector(".plot-container .main-svg"));
    return drawn && document.querySelectorAll("table.data tbody tr").length > 0;
}"""
BARE = """<!DOCTYPE html><html><body><table class="data"><tbody><tr><td>x</td></tr></tbody></table>
<div class="plot" id="p"></div><script src="PLOTLY"></script>
<script>Plotly.newPlot("p", [{x: [1, 2], y: [1, 2]}], {});</script></body></html>"""
PAINTED = "() => performance.getEntriesByName('first-contentful-paint').length > 0"
TIMINGS = """() => {
    const fcp = performance.getEntriesByName("first-contentful-paint")[0];
    return {fcp: fcp ? fcp.startTime / 1000 : null, now: performance.now() / 1000};
}"""


def export(results: Path, out: Path) -> float:
    """`benchmark export --format site --results RESULTS --out OUT` in this process; its wall seconds."""
    from benchmark.cli import main

    started = time.perf_counter()
    code = main(["export", "--format", "site", "--results", str(results), "--out", str(out), "--no-reference"])
    if code != 0:
        raise SystemExit(f"the export failed with exit code {code}")
    return time.perf_counter() - started


def visit(browser: Browser, page_path: Path) -> tuple[float, float]:
    """(first contentful paint, ready) in seconds from navigation start, in a fresh context."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    blocked: list[str] = []
    context.route("http://*/**", lambda route: (blocked.append(route.request.url), route.abort()))
    context.route("https://*/**", lambda route: (blocked.append(route.request.url), route.abort()))
    page = context.new_page()
    page.goto(page_path.as_uri())
    page.wait_for_function(READY, timeout=120_000, polling="raf")
    ready = page.evaluate("() => performance.now() / 1000")
    # the paint entry is queued once the frame is presented: wait for it (never past 10 s)
    page.wait_for_function(PAINTED, timeout=10_000)
    timings = {**page.evaluate(TIMINGS), "now": ready}
    context.close()
    if blocked:
        raise SystemExit(f"{page_path} tried to fetch {blocked}")
    return float(timings["fcp"]), float(timings["now"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, help="folder of the 500 runs (built there when it has none)")
    parser.add_argument("--site", type=Path, help="where to write the site (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the generated folders")
    parser.add_argument("--reuse-site", action="store_true", help="time the site already in --site (no export)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="site_load_"))
    results = args.results or work / "results"
    site = args.site or work / "site"
    try:
        if not results.is_dir() or not ResultsDir(results).query():
            started = time.perf_counter()
            sizes = build(results)
            print(f"built {sum(1 for _ in ResultsDir(results).query())} runs in {time.perf_counter() - started:.0f} s")
        else:
            sizes = {}
        runs = len(ResultsDir(results).query())
        files = [p for p in site.rglob("*") if p.is_file()] if args.reuse_site else []
        if not files:
            seconds = export(results, site)
            files = [p for p in site.rglob("*") if p.is_file()]
        size = sum(p.stat().st_size for p in files) / 1e6
        made = "reused" if args.reuse_site and files else f"exported in {seconds:.0f} s"
        print(f"the site of {runs} runs: {len(files)} files, {size:.1f} MB, {made}")
        tasks = sorted((site / "tasks").glob("*.html"), key=lambda p: p.stat().st_size, reverse=True)
        sizes = sizes or {row.task_name: row.n_test for row in ResultsDir(results).query()}
        largest = max(sizes, key=sizes.get)
        tasks = [p for p in tasks if p.name.startswith(f"{largest}-")] or tasks
        bare = work / "bare.html"  # plotly.js and one 2-point plot, nothing else: what plotly alone costs
        bare.write_text(BARE.replace("PLOTLY", (site / "assets" / "plotly.min.js").as_uri()))
        chosen = {
            "index.html": site / "index.html",
            f"largest task page ({tasks[0].name}, {sizes[largest]} test images)": tasks[0],
            "bare page (plotly.js + one 2-point plot, for comparison)": bare,
        }
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
            try:
                visit(browser, chosen["index.html"])  # the browser's own start-up, not counted
                for name, path in chosen.items():
                    found = [visit(browser, path) for _ in range(args.repeats)]
                    fcp = statistics.median(f for f, _ in found)
                    ready = statistics.median(r for _, r in found)
                    print(
                        f"{name} ({path.stat().st_size / 1e3:.0f} kB): first contentful paint {fcp:.3f} s "
                        f"(ratio to the {GOAL_S:.0f} s goal {fcp / GOAL_S:.2f}); tables and plots drawn {ready:.3f} s "
                        f"(ratio {ready / GOAL_S:.2f}); median of {args.repeats} cold visits"
                    )
            finally:
                browser.close()
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}")


if __name__ == "__main__":
    main()
