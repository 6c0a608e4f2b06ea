"""`benchmark export --format site`: every page written, every link resolving inside the folder, the standings
as `benchmark export` shows them, plotly.js written once; and the whole site opened from file:// in headless
Chromium with every network request blocked: each page's tables have rows and each plot is drawn (SVG)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from benchmark.cli import main
from benchmark.results.entries import entry_key
from benchmark.results.export import render_standings
from benchmark.results.standings import task_standings
from benchmark.results.store import ResultsDir
from benchmark.site.export import PLOTLY_ASSET, SITE_MARKER, SiteError, file_name, task_file
from benchmark.text import one_line
from tests.leaderboard.named_runs import EVIL, NAMES, TASK, write_named_runs
from tests.leaderboard.test_browser import CHROMIUM_ARGS, browser_executable
from tests.report.helpers import MULTICLASS, MULTILABEL, build_results, read_page, table_with


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    """A generated results folder and its site (`benchmark export --format site --out DIR`)."""
    root = tmp_path_factory.mktemp("site")
    results = root / "results"
    ids = build_results(results)
    assert main(["export", "--format", "site", "--results", str(results), "--out", str(root / "out")]) == 0
    return results, root / "out", ids


def pages(out: Path) -> list[Path]:
    return sorted(out.rglob("*.html"))


def test_every_page_is_written_and_every_link_resolves_inside_the_site(site):
    results, out, _ = site
    store = ResultsDir(results)
    records = store.records()
    assert (out / "index.html").is_file() and (out / SITE_MARKER).is_file()
    for task in (MULTICLASS, MULTILABEL):
        assert (out / "tasks" / task_file(task["name"], task["hash"])).is_file()
    for record in records:
        assert (out / "runs" / f"{file_name(record.run_id)}.html").is_file(), record.run_id
        assert (out / "entries" / f"{entry_key(record)}.html").is_file(), record.run_id
    assert len(pages(out)) == 1 + 2 + len(records) + len({entry_key(r) for r in records})
    bundles = [p for p in out.rglob("*") if p.is_file() and p.stat().st_size > 1_000_000]
    assert bundles == [out / PLOTLY_ASSET]  # plotly.js once; no page inlines it
    for page in pages(out):
        reader = read_page(page.read_text())
        for url in reader.urls:
            parts = urlsplit(url)
            assert not parts.scheme and not parts.netloc, (page, url)  # relative: works from file:// and any host
            target = (page.parent / unquote(parts.path)).resolve()
            assert target.is_file() and out.resolve() in target.parents, (page, url)
        plots = [s for s in reader.scripts if s.get("src")]
        assert all(s["src"].endswith(PLOTLY_ASSET) for s in plots)
    index = read_page((out / "index.html").read_text())
    assert [row[0] for row in table_with(index, "task")[1:]] == ["mc3 v1", "ml2 v1"]


def test_task_page_shows_the_standings_benchmark_export_renders(site):
    results, out, ids = site
    standings = task_standings(results, "mc3")
    page = read_page((out / "tasks" / task_file("mc3", MULTICLASS["hash"])).read_text())
    markdown = render_standings(standings, "markdown")
    ranked = table_with(page, "top group")
    assert ranked[0][:7] == ["rank", "model", "seeds", "mean ± sd over seeds", "auroc [95% CI]", "p vs best (adj.)",
                             "top group"]  # fmt: skip
    for row in ranked[1:]:  # each row's cells, as the Markdown export has them
        assert "| " + " | ".join(row[:7]) + " |" in markdown.replace("\\[", "[").replace("\\]", "]").replace(
            "\\|", "|"
        ).replace("\\*", "*"), row
    estimate = standings.ranked.iloc[0]
    assert f"{estimate['estimate']:.4f} [{estimate['ci_low']:.4f}, {estimate['ci_high']:.4f}]" in ranked[1][4]
    unranked = page.tables[1]
    assert [r[1] for r in unranked[1:]] == list(standings.unranked["entry"])
    trivial = table_with(page, "predictor")
    assert trivial[1][0] == "class prior"
    runs = table_with(page, "run id")
    assert sorted(r[0] for r in runs[1:]) == sorted([*ids["multiclass"], ids["sections"]])
    # the entries with their CIs; the differences against the best only when two entries are ranked
    assert len(standings.ranked) == 1 and len(page.plots) == 1


def test_export_replaces_its_own_site_and_refuses_another_folder(site, tmp_path):
    results, _, _ = site
    out = tmp_path / "out"
    args = ["export", "--format", "site", "--results", str(results), "--task", "ml2", "--out", str(out)]
    assert main(args) == 0
    (out / "tasks" / "stale.html").write_text("old")
    assert main(args) == 0
    assert not (out / "tasks" / "stale.html").exists()  # replaced whole
    assert [p.name for p in (out / "tasks").iterdir()] == [task_file("ml2", MULTILABEL["hash"])]
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep")
    from benchmark.reference.board import with_reference
    from benchmark.site.export import export_site

    namespace = type("Args", (), {"out": other, "task": None, "task_hash": None})()
    with pytest.raises(SiteError, match="not a site"):
        export_site(with_reference(results), namespace)
    assert (other / "notes.txt").read_text() == "keep"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left


def test_hostile_names_are_text_on_every_page(tmp_path):
    results = tmp_path / "named"
    write_named_runs(results)
    out = tmp_path / "out"
    assert main(["export", "--format", "site", "--results", str(results), "--out", str(out)]) == 0
    for page in pages(out):
        text = page.read_text()
        reader = read_page(text)
        # every address is a page of the site (a file name may keep a name's safe characters, never a host)
        assert not [u for u in reader.urls if urlsplit(u).scheme or urlsplit(u).netloc or "//" in u], page
        assert "<b>bold</b>" not in text and '<a href="http' not in text
    task_page = read_page(next((out / "tasks").iterdir()).read_text())
    shown = "".join(task_page.text)
    assert one_line(TASK) in shown
    models = [row[1] for row in table_with(task_page, "top group")[1:]]
    assert sorted(models) == sorted(one_line(name) for name in NAMES)
    assert EVIL in shown  # as text


@pytest.mark.slow
def test_site_in_chromium_from_file_with_the_network_blocked(site, tmp_path):
    """Every page opened from file:// with http(s) requests aborted: none is attempted, every table has rows,
    every plot div holds plotly's SVG. Screenshots in tmp_path."""
    from playwright.sync_api import sync_playwright

    _, out, _ = site
    attempted: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=browser_executable(playwright), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1300, "height": 900})
            context.route("http://*/**", lambda route: (attempted.append(route.request.url), route.abort()))
            context.route("https://*/**", lambda route: (attempted.append(route.request.url), route.abort()))
            page = context.new_page()
            requested: list[str] = []
            page.on("request", lambda request: requested.append(request.url))
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            for k, path in enumerate(pages(out)):
                page.goto(path.as_uri())
                page.wait_for_load_state("load")
                expected = read_page(path.read_text())
                for i, table in enumerate(expected.tables):
                    rows = page.locator("table.data").nth(i).locator("tbody tr")
                    assert rows.count() == len(table) - 1 > 0 or len(table) == 1, (path, i)
                for ident in expected.plots:
                    page.locator(f"#{ident} .plot-container .main-svg").first.wait_for(state="attached", timeout=30_000)
                    assert page.locator(f"#{ident} .main-svg").count() >= 1
                page.screenshot(path=str(tmp_path / f"{k:03d}-{path.parent.name}-{path.stem[:40]}.png"), full_page=True)
        finally:
            browser.close()
    assert not attempted and not errors, (attempted, errors)
    assert requested and all(urlsplit(u).scheme in ("file", "data", "about", "blob") for u in requested), requested
    shots = sorted(tmp_path.glob("*.png"))
    assert len(shots) == len(pages(out)) and all(s.stat().st_size > 5_000 for s in shots)


def test_a_damaged_run_is_listed_on_its_task_page_not_fatal(site, tmp_path):
    import shutil

    results, _, ids = site
    copy = tmp_path / "results"
    shutil.copytree(results, copy)
    damaged = ids["multilabel"][1]
    (copy / damaged / "predictions.parquet").write_bytes(b"not a parquet file")
    out = tmp_path / "out"
    assert main(["export", "--format", "site", "--results", str(copy), "--task", "ml2", "--out", str(out)]) == 0
    page = read_page((out / "tasks" / task_file("ml2", MULTILABEL["hash"])).read_text())
    listed = table_with(page, "why")
    assert [row[0] for row in listed[1:]] == [damaged] and "predictions" in listed[1][1]
    assert not (out / "runs" / f"{file_name(damaged)}.html").exists()
    assert (out / "runs" / f"{file_name(ids['multilabel'][0])}.html").is_file()
