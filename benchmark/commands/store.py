"""`benchmark index`: the SQLite index of a results directory (check it, or rebuild it from the run dirs)."""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmark.results.store import DEFAULT_RESULTS


def index(args: argparse.Namespace) -> int:
    from benchmark.results.store import ResultsDir

    results = ResultsDir(args.results)
    if args.rebuild:
        count = results.rebuild_index()
        print(f"rebuilt {results.index_path}: {count} run(s)")
        return 0
    if not results.root.is_dir():
        print(f"no results directory {results.root}")
        return 0
    runs = results.index().query()
    print(f"{results.index_path}: {len(runs)} run(s), in step with the run directories")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("index", help="the results index: report it, or --rebuild it from the run directories")
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument("--rebuild", action="store_true", help="recreate the index from the run directories")
    parser.set_defaults(handler=index)
