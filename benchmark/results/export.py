"""`benchmark export`: a task's leaderboard table (``benchmark.results.standings``) as CSV, Markdown, LaTeX or JSON.

Every format carries the trivial entries (``Standings.trivial``: predictors of nothing on the same test
truth) under the table, marked ``trivial (no model)`` and never ranked: CSV rows with origin ``trivial``,
a Markdown list, LaTeX rows after the entries, a JSON ``trivial`` list.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd

from benchmark.errors import ConfigError
from benchmark.metrics.trivial import TRIVIAL_LABEL
from benchmark.results.entries import MIN_SEEDS_RANKED
from benchmark.results.standings import STANDINGS_COLUMNS, Standings
from benchmark.stats.render import csv_text, entry_rows, latex_escape, latex_tabular
from benchmark.text import markdown_escape

FORMATS = ("csv", "markdown", "latex", "json")


def _title(standings: Standings) -> str:
    return (
        f"{standings.task_name} v{standings.task_version} (task hash {standings.task_hash[:12]}, "
        f"split sha256 {standings.split_sha256[:12]}), metric {standings.metric}"
    )


def _note(standings: Standings, marker: str = "(*)") -> str:
    if standings.comparison is None:
        return f"No entry has {MIN_SEEDS_RANKED} seeds yet: nothing is ranked."
    unranked = f" Entries with fewer than {MIN_SEEDS_RANKED} seeds are shown unranked."
    return standings.comparison.caption(marker) + unranked


def _display(standings: Standings) -> pd.DataFrame:
    level = standings.comparison.settings["level"] if standings.comparison else 0.95
    return entry_rows(standings.entries, standings.metric, level)


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return _jsonable(value.item())
    return value


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: _jsonable(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table of ``frame``, every cell (header included) ``markdown_escape``d:
    a name's ``|`` or newline cannot add a column or a row, its link or image markup shows as text."""

    def row(cells: Any) -> str:
        return "| " + " | ".join(markdown_escape(cell) for cell in cells) + " |"

    lines = [row(frame.columns), "|" + "---|" * len(frame.columns)]
    return "\n".join(lines + [row(cells) for cells in frame.itertuples(index=False)])


def _value(value: Any) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{float(value):.4f}"


def trivial_summary(row: dict[str, Any]) -> str:
    """One trivial entry's values as text: the table's metric, AUROC, accuracy, AUPRC with the prevalence beside."""
    parts = [] if row["metric"] in ("auroc", "accuracy") else [f"{row['metric']} {_value(row['value'])}"]
    parts += [f"AUROC {_value(row['auroc'])}", f"accuracy {_value(row['accuracy'])}"]
    if not pd.isna(row["prevalence"]):
        parts.append(f"AUPRC {_value(row['auprc'])} (prevalence {_value(row['prevalence'])})")
    return ", ".join(parts)


def _trivial_markdown(standings: Standings) -> str:
    rows = _records(standings.trivial)
    if not rows:
        return ""
    lines = [markdown_escape(f"{TRIVIAL_LABEL}, never ranked, on the same test truth:")]
    lines += ["- " + markdown_escape(f"{row['predictor']} ({row['scores']}): {trivial_summary(row)}") for row in rows]
    return "\n\n" + "\n".join(lines)


def _trivial_csv_rows(standings: Standings) -> pd.DataFrame:
    """The trivial entries as STANDINGS_COLUMNS rows: origin ``trivial``, the metric as ``estimate``, never ranked."""
    trivial = standings.trivial
    rows = pd.DataFrame(index=range(len(trivial)), columns=STANDINGS_COLUMNS)
    rows["entry"] = [f"{TRIVIAL_LABEL}: {name}" for name in trivial["predictor"]]
    rows["model"] = trivial["predictor"].to_numpy()
    rows["origin"] = "trivial"
    rows["n_seeds"] = 0
    rows["seeds"] = [[] for _ in range(len(trivial))]
    rows["run_ids"] = [[] for _ in range(len(trivial))]
    rows["estimate"] = trivial["value"].to_numpy()
    rows["top_group"] = False
    rows["ranked"] = False
    return rows


def _trivial_latex(standings: Standings, width: int) -> list[str]:
    rows = _records(standings.trivial)
    if not rows:
        return []
    lines = [rf"\multicolumn{{{width}}}{{l}}{{{latex_escape(TRIVIAL_LABEL + ', never ranked')}}} \\"]
    for row in rows:
        cells = ["", row["predictor"], "", "", _value(row["value"]), ""][:width]
        cells += [""] * (width - len(cells))
        lines.append(" & ".join(latex_escape(c) for c in cells) + r" \\")
    lines.append(rf"\multicolumn{{{width}}}{{l}}{{\footnotesize {latex_escape(_trivial_note(rows))}}} \\")
    return [*lines, r"\hline"]


def _trivial_note(rows: list[dict[str, Any]]) -> str:
    return "; ".join(f"{row['predictor']}: {trivial_summary(row)}" for row in rows) + "."


def render_standings(standings: Standings, fmt: str) -> str:
    """The table in ``fmt``: ``csv`` (STANDINGS_COLUMNS, lists joined with ``;``), ``markdown``,
    ``latex`` (a tabular fragment; top group in bold) or ``json`` (everything, pairs and methods text included)."""
    if fmt not in FORMATS:
        raise ConfigError(f"export format must be one of {FORMATS}, got {fmt!r}")
    if fmt == "csv":
        rows = [standings.entries[STANDINGS_COLUMNS], _trivial_csv_rows(standings)]
        return csv_text(pd.concat([r for r in rows if not r.empty], ignore_index=True))
    if fmt == "json":
        comparison = standings.comparison
        payload = {
            "task": standings.task_name,
            "task_version": standings.task_version,
            "task_hash": standings.task_hash,
            "split_sha256": standings.split_sha256,
            "metric": standings.metric,
            "ranked": _records(standings.ranked),
            "unranked": _records(standings.unranked),
            "pairs": _records(comparison.pairs) if comparison else [],
            "settings": comparison.settings if comparison else None,
            "methods": comparison.methods_text() if comparison else None,
            "set_aside_runs": list(standings.set_aside),
            "other_task_hashes": list(standings.other_task_hashes),
            "trivial": _records(standings.trivial),
        }
        return json.dumps(payload, indent=2, default=str) + "\n"
    rows = _display(standings)
    if fmt == "markdown":
        title, note = markdown_escape(_title(standings)), markdown_escape(_note(standings))
        return f"**{title}**\n\n{markdown_table(rows)}\n\n{note}{_trivial_markdown(standings)}\n"
    bold = standings.entries["top_group"].astype(bool).tolist()
    width = len(rows.columns) - 1
    body = latex_tabular(rows.drop(columns="top group"), bold_column=4, bold_rows=bold)
    caption = latex_escape(_title(standings))
    note = latex_escape(_note(standings, marker="(bold)"))
    return "\n".join(
        [
            body[0],
            rf"\multicolumn{{{width}}}{{l}}{{{caption}}} \\",
            *body[1:],
            *_trivial_latex(standings, width),
            rf"\multicolumn{{{width}}}{{l}}{{\footnotesize {note}}} \\",
            r"\end{tabular}",
            "",
        ]
    )
