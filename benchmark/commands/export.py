"""`benchmark export`: a task's leaderboard table with CIs and significance groups, for a paper or a site."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from benchmark.commands.stats import add_comparison_options, comparison_options
from benchmark.results.store import DEFAULT_RESULTS


def export(args: argparse.Namespace) -> int:
    from benchmark.results.export import render_standings
    from benchmark.results.standings import task_standings
    from benchmark.results.store import write_atomically

    standings = task_standings(args.results, args.task, args.task_hash, args.metric, **comparison_options(args))
    for run_id, why in standings.damaged:  # left out of the table; said on stderr so the table stays clean
        print(f"warning: run {run_id} is damaged and left out of the table: {why}", file=sys.stderr)
    text = render_standings(standings, args.format)
    if args.out is None:
        print(text, end="")
    else:
        write_atomically(args.out, lambda path: path.write_text(text))
        print(f"wrote {args.out}")
    return 0


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
    parser.add_argument("--format", choices=("csv", "markdown", "latex", "json"), default="markdown")
    parser.add_argument("--out", type=Path, help="file to write (default: standard output)")
    add_comparison_options(parser)
    parser.set_defaults(handler=export)
