"""`benchmark export`: a task's leaderboard table with CIs and significance groups, for a paper or a site."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from benchmark.commands.core import add_reference_argument
from benchmark.commands.stats import add_comparison_options, comparison_options
from benchmark.results.store import DEFAULT_RESULTS


def export(args: argparse.Namespace) -> int:
    from benchmark.reference.board import with_reference
    from benchmark.results.export import render_standings
    from benchmark.results.standings import task_standings
    from benchmark.results.store import write_atomically

    results = with_reference(args.results, args.reference)
    standings = task_standings(results, args.task, args.task_hash, args.metric, **comparison_options(args))
    for run_id, why in standings.damaged:  # left out of the table; said on stderr so the table stays clean
        print(f"warning: run {run_id} is damaged and left out of the table: {why}", file=sys.stderr)
    text = render_standings(standings, args.format)
    if args.claims and args.format in ("markdown", "json"):
        text = _with_claims(text, args.format, results, standings.task_name, standings.task_hash, args)
    if args.out is None:
        print(text, end="")
    else:
        write_atomically(args.out, lambda path: path.write_text(text))
        print(f"wrote {args.out}")
    return 0


def _with_claims(text: str, fmt: str, results: Any, task: str, task_hash: str, args: argparse.Namespace) -> str:
    """The table followed by the literature's claims on the task with their verdicts (Markdown: a second
    table; JSON: a ``claims`` list)."""
    from benchmark.reference.claims import claims_markdown, task_verdicts

    verdicts = task_verdicts(results, task, task_hash, **comparison_options(args))
    if fmt == "markdown":
        section = claims_markdown(task, verdicts)
        return f"{text}\n{section}" if section else text
    payload = json.loads(text)
    payload["claims"] = [verdict.as_row() for verdict in verdicts]
    return json.dumps(payload, indent=2, default=str) + "\n"


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "export",
        help="write a task's leaderboard table (CIs, top group, unranked entries apart)",
        description="Entries with at least 3 seeds are ranked and compared pairwise (Holm-corrected by default); "
        "entries with fewer seeds are listed apart. Only runs of one task hash are ranked together.",
    )
    parser.add_argument("--task", required=True)
    parser.add_argument("--task-hash", help="which version of the task (default: the registered one, else the newest)")
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    add_reference_argument(parser)
    parser.add_argument(
        "--no-claims",
        dest="claims",
        action="store_false",
        help="leave out the published claims on the task and their verdicts (markdown and json)",
    )
    parser.add_argument("--format", choices=("csv", "markdown", "latex", "json"), default="markdown")
    parser.add_argument("--out", type=Path, help="file to write (default: standard output)")
    add_comparison_options(parser)
    parser.set_defaults(handler=export)
