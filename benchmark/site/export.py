"""`benchmark export --format site --out DIR`: the board as static files, hostable anywhere.

Layout (every link relative, so the folder works from ``file://`` and from any web server)::

    DIR/index.html                 the tasks, each with its standings' headline
    DIR/tasks/<task>-<hash>.html   a task hash's standings (CIs, top group, unranked apart, trivial
                                   rows), its plots and links to every entry's and run's page
    DIR/entries/<entry key>.html   an entry's report (benchmark.report): its seeds, seed-averaged
                                   calibration and risk-coverage
    DIR/runs/<run id>.html         a run's full report
    DIR/assets/plotly.min.js       plotly.js, written once (the installed plotly's bundle)

Nothing is fetched: plotly.js comes from the installed package and no page names another host. The
folder is built beside DIR and renamed into place, so DIR is never half-written; an existing DIR is
replaced only when it is a site written here (it holds ``SITE_MARKER``).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import logging
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd

from benchmark.errors import ConfigError, RecordError
from benchmark.report import figures
from benchmark.report.content import ReportSettings, entry_report, run_report
from benchmark.report.html import Links, entry_body, plotly_js, run_body
from benchmark.report.page import Page, cell_text
from benchmark.results.combined import ResultsReader
from benchmark.results.entries import MIN_SEEDS_RANKED, Entry
from benchmark.results.index import RunFilter
from benchmark.results.standings import Standings, default_task_hash, task_hashes, task_standings
from benchmark.stats.render import entry_rows
from benchmark.text import one_line
from leaderboard.tables import differences_against

SITE_MARKER = ".cxrbench-site"
PLOTLY_ASSET = "assets/plotly.min.js"
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,119}$")


class SiteError(ConfigError):
    """A site that cannot be written where asked."""


def file_name(text: str, always_hashed: bool = False) -> str:
    """A file name for ``text`` (a run id, a task name): itself when safe, else its safe characters and a
    short hash of the whole (two names never share a file)."""
    if _SAFE.match(text) and not always_hashed:
        return text
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._-")[:60] or "x"
    return f"{safe}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def task_file(task: str, task_hash: str) -> str:
    return f"{file_name(task, always_hashed=True)}-{task_hash[:12]}.html"


def site_links(prefix: str) -> Links:
    """Addresses relative to a page ``prefix`` (``../`` from tasks/, entries/ and runs/)."""
    return Links(
        run=lambda run_id: f"{prefix}runs/{quote(file_name(run_id))}.html",
        entry=lambda key: f"{prefix}entries/{quote(key)}.html",
        task=lambda name, task_hash: f"{prefix}tasks/{quote(task_file(name, task_hash))}",
    )


def _nav(prefix: str) -> str:
    return f'<nav><a href="{prefix}index.html">CXR-Bench board: all tasks</a></nav>'


class SiteWriter:
    """Writes the pages of one site into ``folder`` (the staging folder)."""

    def __init__(self, folder: Path, store: ResultsReader, settings: ReportSettings) -> None:
        self.folder, self.store, self.settings = folder, store, settings
        self.pages = 0
        self.reported: set[str] = set()
        self.failed: list[tuple[str, str]] = []  # (run id, why) of runs with no report page
        for sub in ("tasks", "entries", "runs", "assets"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        (folder / PLOTLY_ASSET).write_text(plotly_js(), encoding="utf-8")
        (folder / SITE_MARKER).write_text("written by `benchmark export --format site`\n")

    def write(self, relative: str, page: Page, prefix: str) -> None:
        text = page.render(plotly_src=f"{prefix}{PLOTLY_ASSET}", nav=_nav(prefix))
        (self.folder / relative).write_text(text, encoding="utf-8")
        self.pages += 1

    def run_page(self, run_id: str) -> None:
        if run_id in self.reported:
            return
        try:
            report = run_report(self.store, run_id, self.settings)
        except RecordError as exc:  # a damaged run: listed on its task page, no report
            self.failed.append((run_id, str(exc)))
            return
        page = Page(f"CXR-Bench: run {run_id}")
        run_body(page, report, site_links("../"))
        self.write(f"runs/{file_name(run_id)}.html", page, "../")
        self.reported.add(run_id)

    def entry_page(self, entry: Entry, row: dict[str, Any], metric: str) -> None:
        """The entry's page, on the runs its standings row counts (not a damaged or set-aside one)."""
        counted = dataclasses.replace(entry, run_ids=tuple(row["run_ids"]), seeds=tuple(sorted(row["seeds"])))
        report = entry_report(self.store, counted, str(row["entry"]), {**row, "metric": metric}, self.settings, False)
        page = Page(f"CXR-Bench: entry {row['entry']} ({entry.task_name})")
        entry_body(page, report, site_links("../"))
        self.write(f"entries/{entry.entry_key}.html", page, "../")


def _entry_of(entries: list[Entry], run_ids: list[str]) -> Entry:
    return next(e for e in entries if set(e.run_ids) & set(run_ids))


def standings_frame(standings: Standings, table: pd.DataFrame, keys: dict[str, str]) -> pd.DataFrame:
    """The table `benchmark export` renders (entry_rows), with AURC and the entry's report key."""
    level = standings.comparison.settings["level"] if standings.comparison else 0.95
    shown = entry_rows(table, standings.metric, level)
    shown["AURC"] = table["aurc"].map(cell_text).to_numpy()
    shown["report"] = [keys[str(name)] for name in table["entry"]]
    return shown


def task_page(writer: SiteWriter, standings: Standings, entries: list[Entry], other_hashes: list[str]) -> dict:
    """Writes the task hash's page and its entries' and runs' pages; returns the index row."""
    links = site_links("../")
    name, metric = standings.task_name, standings.metric
    page = Page(f"CXR-Bench: {name} ({standings.task_hash[:12]})")
    page.heading(f"{name} v{standings.task_version}", 1)
    page.facts(
        [("task hash", standings.task_hash), ("split sha256", standings.split_sha256), ("metric", metric)]
        + [("other task hash", h) for h in other_hashes]
    )
    keys: dict[str, str] = {}
    for table in (standings.ranked, standings.unranked):
        for row in table.to_dict(orient="records"):
            entry = _entry_of(entries, list(row["run_ids"]))
            keys[str(row["entry"])] = entry.entry_key
            writer.entry_page(entry, row, metric)
    report_link = {"report": links.entry}
    page.heading("Ranked")
    if standings.ranked.empty:
        page.text(f"No entry has {MIN_SEEDS_RANKED} seeds yet: nothing is ranked.", "note")
    else:
        page.table(standings_frame(standings, standings.ranked, keys), report_link, list(standings.ranked["top_group"]))
        page.text(standings.comparison.caption("(bold)") if standings.comparison else "", "note")
    page.heading(f"Unranked (fewer than {MIN_SEEDS_RANKED} seeds)")
    if standings.unranked.empty:
        page.text("None.", "note")
    else:
        page.table(standings_frame(standings, standings.unranked, keys), report_link)
    page.heading("Trivial baselines (no model, never ranked)")
    page.table(standings.trivial.drop(columns=["ranked"]))
    page.heading("Plots")
    every = standings.entries
    level = standings.comparison.settings["level"] if standings.comparison else 0.95
    page.figure(figures.entries_forest(every, metric, level))
    if standings.comparison is not None and len(standings.ranked) > 1:
        best = standings.comparison.best
        page.figure(figures.forest_plot(differences_against(standings.comparison.pairs, best), best, metric))
    if standings.comparison is not None:
        page.heading("Methods")
        page.text(standings.comparison.methods_text())
    runs = store_runs(writer.store, standings)
    for run_id in runs["run id"]:
        writer.run_page(run_id)
    runs["counted"] = ["set aside" if r in standings.set_aside else "yes" for r in runs["run id"]]
    page.heading("Runs")
    page.table(runs, {"run id": lambda r: links.run(r) if r in writer.reported else None})
    damaged = list(standings.damaged) + [(r, why) for r, why in writer.failed if r in set(runs["run id"])]
    if damaged:
        page.heading("Damaged runs (left out)")
        page.table(pd.DataFrame(dict.fromkeys(damaged).keys(), columns=["run id", "why"]).drop_duplicates())
    relative = f"tasks/{task_file(name, standings.task_hash)}"
    writer.write(relative, page, "../")
    best_row = every.iloc[0] if len(every) else None
    return {
        "task": f"{name} v{standings.task_version}",
        "task hash": standings.task_hash[:12],
        "metric": metric,
        "ranked": len(standings.ranked),
        "unranked": len(standings.unranked),
        "runs": len(runs),
        "best": "n/a" if best_row is None else f"{best_row['entry']} ({cell_text(best_row['estimate'])})",
        "page": relative,
    }


def store_runs(store: ResultsReader, standings: Standings) -> pd.DataFrame:
    rows = store.query(RunFilter(task=standings.task_name, task_hash=standings.task_hash))
    return pd.DataFrame(
        {
            "run id": [r.run_id for r in rows],
            "model": [r.model_name for r in rows],
            "seed": [r.seed for r in rows],
            "origin": [r.origin for r in rows],
            "primary metric": [
                "n/a"
                if r.primary_value is None
                else f"{r.primary_metric} {r.primary_value:.4f} [{r.primary_ci_low:.4f}, {r.primary_ci_high:.4f}]"
                for r in rows
            ],
        }
    )


def index_page(rows: list[dict[str, Any]]) -> Page:
    page = Page("CXR-Bench board")
    page.heading("CXR-Bench board", 1)
    page.text(
        "Every task with results: its standings (entries with at least 3 seeds ranked by paired tests, fewer seeds "
        "apart), plots, and the full report of every entry and run. Static pages: nothing is fetched.",
        "note",
    )
    table = pd.DataFrame(rows, columns=["task", "task hash", "metric", "ranked", "unranked", "runs", "best", "page"])
    pages = {row["task"]: quote(row["page"]) for row in rows}
    page.table(table.drop(columns=["page"]), {"task": pages.get})
    return page


def _tasks(store: ResultsReader, task: str | None, task_hash: str | None) -> list[tuple[str, str, list[str]]]:
    """(task, hash, the task's other hashes) to write: the default hash of each task first."""
    names = [task] if task else sorted({row.task_name for row in store.query()})
    chosen = []
    for name in names:
        hashes = task_hashes(store, name)
        default = default_task_hash(store, name)
        ordered = [default] + [h for h in hashes if h != default]
        for h in [task_hash] if task_hash else ordered:
            chosen.append((name, h, [o for o in ordered if o != h]))
    return chosen


def build_site(store: ResultsReader, folder: Path, args: argparse.Namespace, settings: ReportSettings) -> SiteWriter:
    """Every page of the site into ``folder``."""
    from benchmark.commands.stats import comparison_options

    writer = SiteWriter(folder, store, settings)
    rows: list[dict[str, Any]] = []
    for name, task_hash, others in _tasks(store, getattr(args, "task", None), getattr(args, "task_hash", None)):
        standings = task_standings(store, name, task_hash, getattr(args, "metric", None), **comparison_options(args))
        entries = store.entries(RunFilter(task=name, task_hash=task_hash))
        row = task_page(writer, standings, entries, others)
        if any(r["task"] == row["task"] for r in rows):  # another hash of the task: named by its hash too
            row["task"] = f"{row['task']} ({row['task hash']})"
        rows.append(row)
    (folder / "index.html").write_text(index_page(rows).render(), encoding="utf-8")
    writer.pages += 1
    return writer


class _Once(logging.Filter):
    """Lets each distinct message through once (a task's citation warning would repeat for each of its runs)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message in self.seen:
            return False
        self.seen.add(message)
        return True


def export_site(results: ResultsReader, args: argparse.Namespace) -> int:
    """`benchmark export --format site --out DIR` (WRITERS in benchmark.commands.export)."""
    if args.out is None:
        raise SiteError("benchmark export --format site needs --out DIR (the folder to write the site into)")
    out = Path(args.out)
    if out.exists() and not (out / SITE_MARKER).is_file() and (not out.is_dir() or any(out.iterdir())):
        raise SiteError(
            f"{out} exists and is not a site written by `benchmark export --format site`: give a new or empty folder"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    once = _Once()
    logging.getLogger("benchmark.results.citation").addFilter(once)
    try:
        writer = build_site(results, staging, args, ReportSettings())
        old = None
        if out.exists():
            old = out.with_name(f".{out.name}.old-{staging.name}")
            out.rename(old)
        staging.rename(out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        logging.getLogger("benchmark.results.citation").removeFilter(once)
    for run_id, why in writer.failed:
        print(f"warning: run {one_line(run_id)} has no report page: {one_line(why)}", file=sys.stderr)
    print(f"wrote {writer.pages} pages to {out} (open {out / 'index.html'})")
    return 0


__all__ = ["SITE_MARKER", "SiteError", "export_site", "file_name", "task_file"]
