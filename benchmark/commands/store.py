"""`benchmark index`: the SQLite index of a results directory (check it, or rebuild it from the run dirs)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from benchmark.results.store import DEFAULT_RESULTS

if TYPE_CHECKING:
    from benchmark.results.store import ResultsDir


def index(args: argparse.Namespace) -> int:
    """Check the index (a damaged one is moved aside and rebuilt) or rebuild it; exit 1 when some folder
    with a record.json is not listed (unreadable record, or a copied or renamed run folder)."""
    from benchmark.results.store import ResultsDir

    results = ResultsDir(args.results)
    if not args.rebuild and not results.root.is_dir():
        print(f"no results directory {results.root}")
        return 0
    if results.index_path.is_file():
        verdict = results.check_index()
        if verdict != "ok":
            print(f"{results.index_path} was damaged ({verdict}): moved aside and rebuilt from the run directories")
    if args.rebuild:
        count = results.rebuild_index()
        print(f"rebuilt {results.index_path}: {count} run(s)")
    else:
        count = len(results.query())
    return _report(results, count)


def _report(results: ResultsDir, count: int) -> int:
    unlisted = results.unlisted()
    if not unlisted:
        print(f"{results.index_path}: {count} run(s), in step with the run directories")
        return 0
    print(
        f"{results.index_path}: {count} run(s) listed; NOT in step with the folder: {len(unlisted)} folder(s) "
        "with a record.json are not listed:"
    )
    for folder in unlisted:
        print(f"  {folder.path}: {folder.reason}")
    return 1


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("index", help="the results index: report it, or --rebuild it from the run directories")
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument("--rebuild", action="store_true", help="recreate the index from the run directories")
    parser.set_defaults(handler=index)
