"""A self-contained HTML page: headings, text, tables and plotly figures, every name escaped.

Text goes through ``html.escape`` (names may hold ``<``, ``&``, quotes, newlines); figures are written as
JSON in ``<script type="application/json">`` blocks (``<`` written ``\\u003c``, so no name can close the
script) and drawn by one loader after plotly.js. plotly.js is either inlined (a standalone report: one
file, nothing fetched) or referenced by a relative path (the static site writes it once, in ``assets/``).
The page's own scripts are placed after its content so the tables paint before plotly.js is parsed.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from benchmark.text import one_line

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1180px;
padding:1rem 1.5rem;color:#1b1b1b;line-height:1.45}
h1{font-size:1.6rem;margin:.6rem 0 .3rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #ddd}
h3{font-size:1.05rem;margin-top:1.2rem}
table.data{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.88rem}
table.data th,table.data td{border:1px solid #d0d0d0;padding:.25rem .5rem;text-align:left;vertical-align:top}
table.data th{background:#f3f3f3}table.data tr.top td{font-weight:600}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.15rem 1rem;font-size:.9rem}
dl.facts dt{font-weight:600}dl.facts dd{margin:0;word-break:break-all}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.82rem}
pre{background:#f6f6f6;padding:.6rem;overflow-x:auto;white-space:pre-wrap;word-break:break-word}
.note{color:#555;font-size:.88rem}.badge{background:#eef;border:1px solid #99c;border-radius:4px;padding:0 .3rem;
font-size:.8rem}.plot{min-height:260px;margin:.5rem 0 1.2rem}nav a{margin-right:1rem}
"""
LOADER = """
function cxrPlots(){var cfg={displaylogo:false,responsive:true};
document.querySelectorAll('script[type="application/json"][data-plot]').forEach(function(s){
var spec=JSON.parse(s.textContent);Plotly.newPlot(s.getAttribute('data-plot'),spec.data,spec.layout,cfg);});}
if(window.Plotly){cxrPlots();}else{document.addEventListener("DOMContentLoaded",cxrPlots);}
"""


def esc(text: object) -> str:
    """``text`` as HTML text or attribute value, on one line (control characters shown as escapes)."""
    return html.escape(one_line(text), quote=True)


def cell_text(value: Any, digits: int = 4) -> str:
    """A table cell as text: floats to ``digits`` decimals, NaN/None as n/a, lists joined, dicts as JSON."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:.{digits}f}"
    if hasattr(value, "item") and not isinstance(value, str | list | tuple | dict):
        return cell_text(value.item(), digits)
    if isinstance(value, list | tuple):
        return ", ".join(cell_text(v, digits) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def interval_text(value: float, low: float, high: float, digits: int = 4) -> str:
    return f"{cell_text(float(value), digits)} [{cell_text(float(low), digits)}, {cell_text(float(high), digits)}]"


class Page:
    """Parts of a page in order; ``render`` gives the document."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.parts: list[str] = []
        self._figures = 0

    def add(self, markup: str) -> None:
        """Markup built by this module's helpers (already escaped)."""
        self.parts.append(markup)

    def heading(self, text: str, level: int = 2, anchor: str | None = None) -> None:
        ident = f' id="{esc(anchor)}"' if anchor else ""
        self.add(f"<h{level}{ident}>{esc(text)}</h{level}>")

    def text(self, text: str, css: str | None = None) -> None:
        self.add(f"<p{f' class={chr(34)}{css}{chr(34)}' if css else ''}>{esc(text)}</p>")

    def pre(self, text: str) -> None:
        """Preformatted text (BibTeX, JSON), newlines kept, everything else escaped."""
        self.add(f"<pre>{html.escape(str(text))}</pre>")

    def facts(self, pairs: Sequence[tuple[str, Any]], links: Mapping[str, str] | None = None) -> None:
        """A definition list; a value whose name is in ``links`` links to that (relative) address."""
        items = []
        for name, value in pairs:
            shown = esc(cell_text(value))
            href = (links or {}).get(name)
            items.append(f"<dt>{esc(name)}</dt><dd>{link(href, shown) if href else shown}</dd>")
        self.add(f'<dl class="facts">{"".join(items)}</dl>')

    def table(
        self,
        frame: pd.DataFrame,
        links: Mapping[str, Callable[[Any], str | None]] | None = None,
        strong: Sequence[bool] | None = None,
        css: str = "data",
    ) -> None:
        """``frame`` as a table, every cell escaped; ``links`` maps a column to a function giving the
        relative address a cell links to (or None); rows where ``strong`` is True are emphasised."""
        head = "".join(f"<th>{esc(c)}</th>" for c in frame.columns)
        body = []
        for i, row in enumerate(frame.itertuples(index=False)):
            cells = []
            for column, value in zip(frame.columns, row, strict=True):
                shown = esc(cell_text(value))
                href = links[column](value) if links and column in links else None
                cells.append(f"<td>{link(href, shown) if href else shown}</td>")
            top = ' class="top"' if strong is not None and strong[i] else ""
            body.append(f"<tr{top}>{''.join(cells)}</tr>")
        self.add(f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>')

    def figure(self, figure: go.Figure) -> None:
        """A plotly figure: an empty div and its JSON, drawn by the loader once plotly.js is loaded."""
        self._figures += 1
        ident = f"plot-{self._figures}"
        spec = pio.to_json(figure, validate=False, pretty=False).replace("<", "\\u003c")
        self.add(f'<div class="plot" id="{ident}"></div>')
        self.add(f'<script type="application/json" data-plot="{ident}">{spec}</script>')

    @property
    def n_figures(self) -> int:
        return self._figures

    def render(self, plotly_js: str | None = None, plotly_src: str | None = None, nav: str = "") -> str:
        """The document: with figures, plotly.js inline (``plotly_js``, its text) or from ``plotly_src``
        (a relative path, loaded deferred)."""
        scripts = ""
        if self._figures:
            if plotly_src is not None:
                scripts = f'<script src="{esc(plotly_src)}" defer></script><script>{LOADER}</script>'
            elif plotly_js is not None:
                scripts = f"<script>{plotly_js}</script><script>{LOADER}</script>"
            else:
                raise ValueError("a page with figures needs plotly_js or plotly_src")
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(self.title)}</title><style>{CSS}</style></head><body>{nav}"
            + "\n".join(self.parts)
            + f"\n{scripts}</body></html>\n"
        )


def link(href: str, shown_html: str) -> str:
    """An ``<a>`` to a relative address (escaped as an attribute) around already escaped text."""
    return f'<a href="{html.escape(href, quote=True)}">{shown_html}</a>'


def task_fact_rows(task: Any, extra: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """What a report says of the task a run is a result on (a record's ``task`` section), then ``extra``."""
    return [
        ("task", f"{task.name} v{task.version}"),
        ("task hash", task.hash),
        ("split sha256", task.split_sha256),
        ("problem", task.problem),
        ("labels", list(task.labels)),
        ("primary metric", task.primary_metric),
        *extra,
    ]
