"""A Comparison as text: aligned table, CSV, Markdown or a LaTeX tabular fragment."""

from __future__ import annotations

import math

import pandas as pd

from benchmark.errors import StatisticsError
from benchmark.stats.compare import ENTRY_COLUMNS, PAIR_COLUMNS, Comparison

FORMATS = ("table", "csv", "markdown", "latex")
_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"$<$",
    ">": r"$>$",
    "±": r"$\pm$",
    "≥": r"$\geq$",
    "≤": r"$\leq$",
}


def latex_escape(text: str) -> str:
    """``text`` with LaTeX's special characters escaped, so it prints as written."""
    return "".join(_LATEX_SPECIAL.get(char, char) for char in text)


def _number(value: float, digits: int = 4) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def _p(value: float) -> str:
    if value is None or math.isnan(value):
        return ""
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def _entry_rows(comparison: Comparison) -> pd.DataFrame:
    return entry_rows(comparison.entries, comparison.metric, comparison.settings["level"])


def entry_rows(e: pd.DataFrame, metric: str, level: float = 0.95) -> pd.DataFrame:
    """Entries (ENTRY_COLUMNS) as display strings: rank, model, seeds, mean +- sd, estimate [CI],
    p vs best, top group (unranked entries have an empty rank)."""
    level_text = f"{level:.0%}"
    return pd.DataFrame(
        {
            "rank": e["rank"].map(lambda r: "" if pd.isna(r) else str(int(r))),
            "model": e["entry"],
            "seeds": e["n_seeds"].astype(str),
            "mean ± sd over seeds": [
                _number(m) + ("" if math.isnan(s) else f" ± {_number(s)}")
                for m, s in zip(e["mean"], e["sd"], strict=True)
            ],
            f"{metric} [{level_text} CI]": [
                f"{_number(v)} [{_number(lo)}, {_number(hi)}]"
                for v, lo, hi in zip(e["estimate"], e["ci_low"], e["ci_high"], strict=True)
            ],
            "p vs best (adj.)": e["p_vs_best"].map(_p),
            "top group": e["top_group"].map({True: "*", False: ""}),
        }
    )


def _pair_rows(comparison: Comparison) -> pd.DataFrame:
    p = comparison.pairs
    return pd.DataFrame(
        {
            "model a": p["entry_a"],
            "model b": p["entry_b"],
            "a - b": p["diff"].map(_number),
            "CI": [f"[{_number(lo)}, {_number(hi)}]" for lo, hi in zip(p["ci_low"], p["ci_high"], strict=True)],
            "p": p["p_value"].map(_p),
            "p (adj.)": p["p_adjusted"].map(_p),
            "significant": p["significant"].map({True: "yes", False: "no"}),
        }
    )


def markdown_table(frame: pd.DataFrame) -> str:
    def cell(text: object) -> str:
        return str(text).replace("|", r"\|")

    lines = ["| " + " | ".join(map(cell, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(map(cell, row)) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def latex_tabular(
    frame: pd.DataFrame, bold_column: int | None = None, bold_rows: list[bool] | None = None
) -> list[str]:
    """A LaTeX tabular of display strings, every cell escaped; ``bold_column`` in bold on ``bold_rows``."""
    lines = [
        rf"\begin{{tabular}}{{{'l' * len(frame.columns)}}}",
        r"\hline",
        " & ".join(latex_escape(str(c)) for c in frame.columns) + r" \\",
        r"\hline",
    ]
    for i, row in enumerate(frame.itertuples(index=False)):
        cells = [latex_escape(str(c)) for c in row]
        if bold_column is not None and bold_rows and bold_rows[i]:
            cells[bold_column] = rf"\textbf{{{cells[bold_column]}}}"
        lines.append(" & ".join(cells) + r" \\")
    return [*lines, r"\hline"]


def _latex(comparison: Comparison, pairs: bool) -> str:
    """Pairs, or entries with the top group's estimates in bold (explained in a last row)."""
    if pairs:
        return "\n".join([*latex_tabular(_pair_rows(comparison)), r"\end{tabular}"])
    rows = _entry_rows(comparison).drop(columns="top group")
    note = latex_escape(comparison.caption("(bold)"))
    lines = latex_tabular(rows, bold_column=4, bold_rows=comparison.entries["top_group"].tolist())
    return "\n".join(
        [*lines, rf"\multicolumn{{{len(rows.columns)}}}{{l}}{{\footnotesize {note}}} \\", r"\end{tabular}"]
    )


def csv_text(frame: pd.DataFrame) -> str:
    frame = frame.copy()
    for column in frame.columns:
        if frame[column].map(lambda v: isinstance(v, list)).any():
            frame[column] = frame[column].map(lambda v: ";".join(map(str, v)))
    return frame.to_csv(index=False)


def render(comparison: Comparison, fmt: str = "table", pairs: bool = False) -> str:
    """The entries (or, with ``pairs``, the pairwise tests) in ``fmt``.

    ``table`` prints both tables and the methods paragraph; ``csv`` gives the raw public columns
    (ENTRY_COLUMNS or PAIR_COLUMNS, lists joined with ``;``); ``latex`` a tabular fragment with
    names escaped and the top group in bold.
    """
    if fmt not in FORMATS:
        raise StatisticsError(f"format must be one of {FORMATS}, got {fmt!r}")
    if fmt == "csv":
        return csv_text(comparison.pairs[PAIR_COLUMNS] if pairs else comparison.entries[ENTRY_COLUMNS])
    if fmt == "latex":
        return _latex(comparison, pairs)
    tables = [_pair_rows(comparison)] if pairs else [_entry_rows(comparison), _pair_rows(comparison)]
    if fmt == "markdown":
        return "\n\n".join(markdown_table(t) for t in tables)
    text = "\n\n".join(t.to_string(index=False) for t in tables)
    header = f"{comparison.task_name} ({comparison.task_hash[:12]}), metric {comparison.metric}; * = top group"
    return f"{header}\n\n{text}\n\n{comparison.methods_text()}"
