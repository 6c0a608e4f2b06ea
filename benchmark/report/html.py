"""A run's or an entry's report as an HTML page (``benchmark.report.page``), standalone or on the site.

Standalone (`benchmark report ... --out FILE.html`) the page inlines plotly.js and links nowhere; on the
static site the same body links to the entry, run and task pages (``Links``) and loads plotly.js from
the site's ``assets/``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from benchmark.metrics.trivial import TRIVIAL_LABEL
from benchmark.report import figures
from benchmark.report.content import Calibration, EntryReport, RunReport, Selective
from benchmark.report.page import Page, cell_text, interval_text, task_fact_rows
from benchmark.report.payloads import TITLES, Payload, ordered

HOW_TO = {
    "subgroups": "filled when a run is trained on a task whose data carries sex, age and view",
    "robustness": "`benchmark robustness RUN_ID`",
    "external": "`benchmark evaluate RUN_ID --external SET`",
    "expert": "`benchmark evaluate-expert RUN_ID` (nih14 runs)",
}


@dataclass(frozen=True)
class Links:
    """Relative addresses of the site's pages (None: a standalone page, no links)."""

    run: Callable[[str], str | None] = lambda run_id: None
    entry: Callable[[str], str | None] = lambda key: None
    task: Callable[[str, str], str | None] = lambda name, task_hash: None


def plotly_js() -> str:
    """plotly.js (minified) of the installed plotly package: nothing is fetched."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def _metric_rows(frame: pd.DataFrame, level: float) -> pd.DataFrame:
    bounds = zip(frame["ci_low"], frame["ci_high"], strict=True)
    return pd.DataFrame(
        {
            "metric": frame["metric"],
            "value": frame["value"].map(cell_text),
            f"{level:.0%} CI": [f"[{cell_text(lo)}, {cell_text(hi)}]" for lo, hi in bounds],
            "resamples undefined": frame["n_degenerate"],
        }
    )


def task_facts(page: Page, task: Any, links: Links, extra: list[tuple[str, Any]]) -> None:
    task_href = links.task(task.name, task.hash)
    page.facts(
        task_fact_rows(task, extra),
        links={"task": task_href} if task_href else None,
    )


def calibration_part(page: Page, part: Calibration, title: str, level: int = 2) -> None:
    page.heading(title, level)
    page.text(
        f"Expected calibration error over {part.n_bins} equal-width bins (Guo et al. 2017; multiclass tasks on the "
        "top label: confidence = the highest probability, outcome = whether that class is right) and Brier score.",
        "note",
    )
    page.table(part.table.rename(columns={"ece": "ECE", "brier": "Brier"}))
    if not part.curves.empty:
        page.figure(figures.reliability(part.curves, part.table))


def selective_part(page: Page, part: Selective, title: str, level: int = 2) -> None:
    page.heading(title, level)
    interval = part.aurc
    page.facts(
        [
            (f"AURC [{part.level:.0%} CI]", interval_text(interval.value, interval.ci_low, interval.ci_high)),
            ("E-AURC", part.e_aurc),
        ]
    )
    page.text(
        "Predictions ranked by confidence, most confident first; the risk at coverage c is the error rate of the "
        "accepted share c. AURC is the area under that curve (lower is better); E-AURC subtracts the optimal "
        "ranking's AURC. CI: patient-cluster bootstrap.",
        "note",
    )
    if not part.curves.empty:
        page.figure(figures.risk_coverage(part.curves, interval.value))


def summary_part(page: Page, summary: dict[str, Any], level: int = 4) -> None:
    """A payload's summary: scalars as facts, lists of objects as tables, anything else as JSON."""
    scalars = [(k, v) for k, v in summary.items() if not isinstance(v, list | dict)]
    if scalars:
        page.facts(scalars)
    for key, value in summary.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            page.heading(key, level)
            page.table(ordered(pd.DataFrame(value)))
        elif isinstance(value, dict) and all(not isinstance(v, list | dict) for v in value.values()):
            page.heading(key, level)
            page.table(pd.DataFrame({"name": list(value), "value": list(value.values())}))
        elif isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
            page.heading(key, level)  # e.g. a drop per corruption for each metric: one row per key
            page.table(pd.DataFrame.from_dict(value, orient="index").rename_axis("name").reset_index())
        elif isinstance(value, list | dict):
            page.heading(key, level)
            page.pre(cell_text(value))


def payload_part(page: Page, payload: Payload, level: int = 3) -> None:
    where = "in the run record" if payload.source == "record" else "derived after the run was published"
    when = f", {payload.created_at}" if payload.created_at else ""
    page.heading(payload.title, level)
    page.text(f"({where}{when})", "note")
    if payload.problem is not None:
        page.text(f"Shown as stored: {payload.problem} (expected rows, settings and summary).", "note")
        page.pre(payload.raw or "")
        return
    if payload.summary:
        summary_part(page, payload.summary, level + 1)
    if not payload.rows.empty:
        page.table(payload.rows)
        for plot in figures.payload_figures(payload.rows):
            page.figure(plot)
    if payload.settings:
        page.add("<details><summary>settings</summary>")
        page.pre(cell_text(payload.settings))
        page.add("</details>")


def run_body(page: Page, report: RunReport, links: Links, level: int = 1) -> None:
    """Every part of a run's report, headings from ``level`` (an entry's page nests its runs one deeper)."""
    record = report.record
    boot = record.bootstrap
    page.heading(f"Run {record.run_id}", level, anchor=f"run-{record.run_id}")
    if report.reference:
        page.add('<p><span class="badge">shipped reference board</span></p>')
    model = record.model
    task_facts(
        page,
        record.task,
        links,
        [
            ("model", model.name),
            ("family", model.family),
            ("parameters", model.parameters),
            ("origin", record.origin),
            ("submission", record.submission.name if record.submission else None),
            ("entry", report.entry_key),
            ("seed", record.seed),
            ("test images", record.n_test),
            ("created", record.created_at),
        ],
    )
    entry_href = links.entry(report.entry_key)
    if entry_href:
        page.add(f'<p><a href="{entry_href}">all seeds of this entry</a></p>')
    sub = level + 1
    page.heading("Metrics with confidence intervals", sub)
    page.text(
        f"As recorded: {boot.method} bootstrap over {boot.n_units} {boot.unit}s, {boot.n_resamples} resamples, "
        f"seed {boot.seed}.",
        "note",
    )
    page.table(_metric_rows(report.metrics, boot.level))
    trivial_part(page, report.trivial, sub)
    calibration_part(page, report.calibration, "Calibration", sub)
    if not report.roc.empty:
        page.heading("ROC curves", sub)
        page.figure(figures.roc(report.roc))
    selective_part(page, report.selective, "Selective prediction: risk-coverage", sub)
    payloads_part(page, report.payloads, sub)
    saliency_part(page, report, sub)
    citation_part(page, report, sub)


def trivial_part(page: Page, trivial: pd.DataFrame, level: int) -> None:
    page.heading("Trivial baselines", level)
    page.text(f"{TRIVIAL_LABEL}: predictors that never look at an image, on the same test truth; never ranked.", "note")
    page.table(trivial.drop(columns=["ranked"]))


def payloads_part(page: Page, payloads: tuple[Payload, ...], level: int) -> None:
    page.heading("Subgroups, robustness, external and expert evaluations", level)
    for payload in payloads:
        payload_part(page, payload, level + 1)
    missing = [kind for kind in TITLES if kind not in {p.kind for p in payloads}]
    if missing:
        page.add('<ul class="note">')
        for kind in missing:
            page.add(f"<li>No {TITLES[kind].lower()} for this run ({HOW_TO.get(kind, '')}).</li>")
        page.add("</ul>")


def saliency_part(page: Page, report: RunReport, level: int) -> None:
    page.heading("Saliency", level)
    info = report.saliency_info
    if info is None:
        page.text(f"No saliency cache: `benchmark saliency {report.record.run_id}` computes one.", "note")
        return
    page.facts(list(info.items()))
    if report.saliency is None:
        page.text("The mapped images have no boxes: nothing to score the maps against.", "note")
    else:
        page.text("Box scores: a hit when the map's peak falls in a box of the finding (Wilson 95% CI).", "note")
        page.table(report.saliency)


def citation_part(page: Page, report: RunReport, level: int) -> None:
    page.heading("Citation", level)
    citation = report.citation
    if citation.note:
        page.text(f"Note: {citation.note}", "note")
    page.pre(citation.bibtex)
    page.heading("Methods paragraph (LaTeX)", level + 1)
    page.pre(citation.methods)


def entry_body(page: Page, report: EntryReport, links: Links) -> None:
    entry = report.entry
    page.heading(f"Entry {report.name}", 1)
    standing = report.standing
    extra: list[tuple[str, Any]] = [
        ("entry key", entry.entry_key),
        ("model", entry.model_name),
        ("origin", entry.origin),
        ("seeds", list(entry.seeds)),
        ("ranked", entry.ranked),
    ]
    if standing is not None:
        rank = standing.get("rank")
        extra += [
            ("rank", "unranked" if rank is None or rank != rank else int(rank)),
            (f"{standing['metric']} [95% CI] (seed-averaged)",
             interval_text(standing["estimate"], standing["ci_low"], standing["ci_high"])),
            ("mean ± sd over seeds", f"{cell_text(standing['mean'])} ± {cell_text(standing['sd'])}"),
            ("p vs best (adjusted)", standing.get("p_vs_best")),
            ("top group", bool(standing.get("top_group"))),
            ("AURC (seed-averaged)", standing.get("aurc")),
        ]  # fmt: skip
    task_facts(page, report.task, links, extra)
    page.heading("Seeds")
    page.table(report.seeds, links={"run_id": links.run})
    page.heading("Recorded metrics over seeds")
    page.table(report.metrics)
    calibration_part(page, report.calibration, "Calibration of the seed-averaged predictions")
    selective_part(page, report.selective, "Risk-coverage of the seed-averaged predictions")
    for run in report.runs:
        page.add("<hr>")
        run_body(page, run, links, level=2)


def run_page(report: RunReport, links: Links | None = None) -> Page:
    page = Page(f"CXR-Bench report: run {report.record.run_id}")
    run_body(page, report, links or Links())
    return page


def entry_page(report: EntryReport, links: Links | None = None) -> Page:
    page = Page(f"CXR-Bench report: entry {report.name} ({report.task.name})")
    entry_body(page, report, links or Links())
    return page


def standalone(page: Page) -> str:
    """The page as one file: plotly.js inline, nothing fetched."""
    return page.render(plotly_js=plotly_js() if page.n_figures else None)
