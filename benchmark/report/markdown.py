"""A run's or an entry's report as Markdown: the HTML report's content, its plots given as tables.

Every cell and every name is ``markdown_escape``d (``benchmark.results.export.markdown_table``); BibTeX and
the methods paragraph are fenced code blocks (``markdown_code`` rules: a fence longer than any run of
backticks inside).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from benchmark.metrics.trivial import TRIVIAL_LABEL
from benchmark.report.content import Calibration, EntryReport, RunReport, Selective
from benchmark.report.page import cell_text, interval_text, task_fact_rows
from benchmark.report.payloads import TITLES, Payload, ordered
from benchmark.results.export import markdown_table
from benchmark.text import markdown_escape

COVERAGES = (0.5, 0.8, 0.9, 1.0)  # risk-coverage read at these coverages


def _text(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.apply(lambda column: column.map(cell_text))


def _table(frame: pd.DataFrame) -> str:
    return markdown_table(_text(frame))


def _fenced(text: str) -> str:
    runs = [len(r) for r in re.findall(r"`+", text)]
    fence = "`" * max(3, max(runs, default=0) + 1)
    return f"{fence}\n{text.rstrip()}\n{fence}"


def _facts(pairs: list[tuple[str, Any]]) -> str:
    return "\n".join(f"- **{markdown_escape(k)}**: {markdown_escape(cell_text(v))}" for k, v in pairs)


def _heading(text: str, level: int) -> str:
    return f"{'#' * level} {markdown_escape(text)}"


def _task_facts(task: Any, extra: list[tuple[str, Any]]) -> str:
    return _facts(task_fact_rows(task, extra))


def _calibration(part: Calibration, title: str, level: int) -> list[str]:
    bins = part.curves.rename(columns={"mean_predicted": "mean predicted", "fraction_positive": "observed"})
    return [
        _heading(title, level),
        markdown_escape(f"ECE over {part.n_bins} equal-width bins (multiclass: top label) and Brier score."),
        _table(part.table.rename(columns={"ece": "ECE", "brier": "Brier"})),
        markdown_escape("Reliability diagram (filled bins):"),
        _table(bins),
    ]


def _selective(part: Selective, title: str, level: int) -> list[str]:
    interval = part.aurc
    rows = []
    for name, curve in part.curves.groupby("label", sort=False):
        coverage, risk = curve["coverage"].to_numpy(), curve["risk"].to_numpy()
        at = {f"risk at {c:.0%}": risk[min(np.searchsorted(coverage, c - 1e-12), len(risk) - 1)] for c in COVERAGES}
        rows.append({"label": name, **at})
    return [
        _heading(title, level),
        _facts(
            [
                (f"AURC [{part.level:.0%} CI]", interval_text(interval.value, interval.ci_low, interval.ci_high)),
                ("E-AURC", part.e_aurc),
            ]
        ),
        _table(pd.DataFrame(rows)),
    ]


def _summary(summary: dict[str, Any], level: int) -> list[str]:
    out = []
    scalars = [(k, v) for k, v in summary.items() if not isinstance(v, list | dict)]
    if scalars:
        out.append(_facts(scalars))
    for key, value in summary.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            out += [_heading(key, level), _table(ordered(pd.DataFrame(value)))]
        elif isinstance(value, dict | list):
            out += [_heading(key, level), _fenced(cell_text(value))]
    return out


def _payload(payload: Payload, level: int) -> list[str]:
    where = "in the run record" if payload.source == "record" else "derived after the run was published"
    out = [_heading(payload.title, level), markdown_escape(f"({where})")]
    if payload.problem is not None:
        return [*out, markdown_escape(f"Shown as stored: {payload.problem}."), _fenced(payload.raw or "")]
    if payload.summary:
        out += _summary(payload.summary, level + 1)
    if not payload.rows.empty:
        out.append(_table(payload.rows))
    if payload.settings:
        out += [markdown_escape("Settings:"), _fenced(cell_text(payload.settings))]
    return out


def run_markdown(report: RunReport, level: int = 1) -> str:
    record, boot = report.record, report.record.bootstrap
    sub = level + 1
    metrics = report.metrics
    shown = pd.DataFrame(
        {
            "metric": metrics["metric"],
            "value": metrics["value"],
            f"{boot.level:.0%} CI": [
                f"[{cell_text(lo)}, {cell_text(hi)}]"
                for lo, hi in zip(metrics["ci_low"], metrics["ci_high"], strict=True)
            ],
        }
    )
    model = record.model
    facts = [("model", model.name), ("family", model.family), ("origin", record.origin), ("entry", report.entry_key),
             ("seed", record.seed), ("test images", record.n_test), ("created", record.created_at)]  # fmt: skip
    parts = [
        _heading(f"Run {record.run_id}", level),
        *(["*shipped reference board*"] if report.reference else []),
        _task_facts(record.task, facts),
        _heading("Metrics with confidence intervals", sub),
        markdown_escape(
            f"As recorded: {boot.method} bootstrap over {boot.n_units} {boot.unit}s, {boot.n_resamples} resamples."
        ),
        _table(shown),
        _heading("Trivial baselines", sub),
        markdown_escape(f"{TRIVIAL_LABEL}, never ranked, on the same test truth."),
        _table(report.trivial.drop(columns=["ranked"])),
        *_calibration(report.calibration, "Calibration", sub),
        *_selective(report.selective, "Selective prediction: risk-coverage", sub),
        _heading("Subgroups, robustness, external and expert evaluations", sub),
    ]
    for payload in report.payloads:
        parts += _payload(payload, sub + 1)
    present = {p.kind for p in report.payloads}
    parts += [markdown_escape(f"No {TITLES[k].lower()} for this run.") for k in TITLES if k not in present]
    parts.append(_heading("Saliency", sub))
    if report.saliency_info is None:
        parts.append(markdown_escape("No saliency cache for this run."))
    else:
        parts.append(_facts(list(report.saliency_info.items())))
        if report.saliency is not None:
            parts.append(_table(report.saliency))
    citation = report.citation
    parts += [_heading("Citation", sub), *([markdown_escape(f"Note: {citation.note}")] if citation.note else [])]
    parts += [_fenced(citation.bibtex), _heading("Methods paragraph (LaTeX)", sub + 1), _fenced(citation.methods)]
    return "\n\n".join(parts) + "\n"


def entry_markdown(report: EntryReport) -> str:
    entry, standing = report.entry, report.standing
    extra: list[tuple[str, Any]] = [("entry key", entry.entry_key), ("model", entry.model_name),
                                    ("seeds", list(entry.seeds)), ("ranked", entry.ranked)]  # fmt: skip
    if standing is not None:
        extra += [
            (f"{standing['metric']} [95% CI] (seed-averaged)",
             interval_text(standing["estimate"], standing["ci_low"], standing["ci_high"])),
            ("top group", bool(standing.get("top_group"))),
        ]  # fmt: skip
    parts = [
        _heading(f"Entry {report.name}", 1),
        _task_facts(report.task, extra),
        _heading("Seeds", 2),
        _table(report.seeds),
        _heading("Recorded metrics over seeds", 2),
        _table(report.metrics),
        *_calibration(report.calibration, "Calibration of the seed-averaged predictions", 2),
        *_selective(report.selective, "Risk-coverage of the seed-averaged predictions", 2),
    ]
    text = "\n\n".join(parts) + "\n"
    return text + "".join("\n---\n\n" + run_markdown(run, level=2) for run in report.runs)
