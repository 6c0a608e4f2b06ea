"""`benchmark export`: a task's leaderboard table with CIs and significance groups, for a paper or a site."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from typing import Any

from benchmark.commands.core import add_reference_argument
from benchmark.commands.stats import add_comparison_options, comparison_options
from benchmark.results.store import DEFAULT_RESULTS

# Sections after the table in Markdown and JSON exports: (JSON key, "module:function"). Each function is
# called as f(results, standings, options) and returns (markdown text, JSON rows), or None when the task
# has nothing of that kind; options are the comparison options (level, correction, tests...).
SECTIONS = (
    ("claims", "benchmark.reference.claims:export_section"),
    ("external", "benchmark.external.report:export_section"),
    ("expert", "benchmark.stats.expert_labels:export_section"),
    ("subgroups", "benchmark.stats.subgroups:export_section"),
    ("audit", "benchmark.audit.report:export_section"),
)
# Formats that write a folder or an archive rather than one table: format -> "module:function", called as
# f(results, args) -> exit code.
WRITERS = {
    "site": "benchmark.site.export:export_site",
    "bundle": "benchmark.bundle.export:export_bundle",
}


def _function(spec: str) -> Any:
    module, name = spec.split(":")
    return getattr(importlib.import_module(module), name)


def export(args: argparse.Namespace) -> int:
    from benchmark.errors import ConfigError
    from benchmark.reference.board import with_reference
    from benchmark.results.export import render_standings
    from benchmark.results.standings import task_standings
    from benchmark.results.store import write_atomically

    results = with_reference(args.results, args.reference)
    if args.format in WRITERS:
        return _function(WRITERS[args.format])(results, args)
    if args.task is None:
        raise ConfigError(f"benchmark export --format {args.format} needs --task (one of the tasks with results)")
    standings = task_standings(results, args.task, args.task_hash, args.metric, **comparison_options(args))
    for run_id, why in standings.damaged:  # left out of the table; said on stderr so the table stays clean
        print(f"warning: run {run_id} is damaged and left out of the table: {why}", file=sys.stderr)
    text = render_standings(standings, args.format)
    if args.format in ("markdown", "json"):
        text = _with_sections(text, args.format, results, standings, args)
    if args.out is None:
        print(text, end="")
    else:
        write_atomically(args.out, lambda path: path.write_text(text))
        print(f"wrote {args.out}")
    return 0


def _with_sections(text: str, fmt: str, results: Any, standings: Any, args: argparse.Namespace) -> str:
    """The table followed by each section that applies (``SECTIONS``; ``--no-claims`` leaves out the
    literature's claims): Markdown sections after the table, JSON lists under their keys."""
    options = comparison_options(args)
    payload = json.loads(text) if fmt == "json" else None
    for key, spec in SECTIONS:
        if key == "claims" and not args.claims:
            continue
        section = _function(spec)(results, standings, options)
        if section is None:
            continue
        markdown, rows = section
        if payload is not None:
            payload[key] = rows
        elif markdown:
            text = f"{text}\n{markdown}"
    return text if payload is None else json.dumps(payload, indent=2, default=str) + "\n"


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "export",
        help="write a task's leaderboard table (CIs, top group, unranked entries apart)",
        description="Entries with at least 3 seeds are ranked and compared pairwise (Holm-corrected by default); "
        "entries with fewer seeds are listed apart. Only runs of one task hash are ranked together.",
    )
    parser.add_argument("--task", help="the task (required, except for --format site: every task)")
    parser.add_argument("--task-hash", help="which version of the task (default: the registered one, else the newest)")
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    add_reference_argument(parser)
    parser.add_argument(
        "--no-claims",
        dest="claims",
        action="store_false",
        help="leave out the published claims on the task and their verdicts (markdown and json)",
    )
    parser.add_argument(
        "--format",
        choices=("csv", "markdown", "latex", "json", *WRITERS),
        default="markdown",
        help="a table (csv, markdown, latex, json), the board as a static site (site: every task, into --out DIR) "
        "or a task's citable archive (bundle: into --out FILE)",
    )
    parser.add_argument(
        "--out", type=Path, help="file to write (default: standard output; site: a folder; bundle: FILE.tar.gz)"
    )
    parser.add_argument(
        "--data-root", help="folder of the task's data (bundle: its split listing; default: $CXRBENCH_DATA)"
    )
    add_comparison_options(parser)
    parser.set_defaults(handler=export)
