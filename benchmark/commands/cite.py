"""`benchmark cite RUN_ID`: BibTeX for CXR-Bench and the dataset papers, and a methods paragraph."""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmark.results.store import DEFAULT_RESULTS


def cite(args: argparse.Namespace) -> int:
    from benchmark.results.citation import cite_run
    from benchmark.results.store import ResultsDir

    results = ResultsDir(args.results)
    citation = cite_run(results, results.load_record(args.run_id))
    if citation.note:
        print(f"% note: {citation.note}")
    both = not (args.bibtex or args.methods)
    if args.bibtex or both:
        print(citation.bibtex)
    if args.methods or both:
        print(("% Methods paragraph (LaTeX)\n" if both else "") + citation.methods)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("cite", help="BibTeX and a methods paragraph for a recorded run")
    parser.add_argument("run_id", help="run id (a unique prefix is enough)")
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--bibtex", action="store_true", help="print only the BibTeX entries")
    only.add_argument("--methods", action="store_true", help="print only the methods paragraph")
    parser.set_defaults(handler=cite)
