"""`benchmark cite RUN_ID`: BibTeX for CXR-Bench and the dataset papers, and a methods paragraph."""

from __future__ import annotations

import argparse
from pathlib import Path


def cite(args: argparse.Namespace) -> int:
    import logging

    from benchmark.citation import bibtex, methods_paragraph
    from benchmark.errors import UnknownNameError
    from benchmark.index import entry_key
    from benchmark.store import ResultsDir
    from benchmark.tasks import TASKS

    results = ResultsDir(args.results)
    record = results.load_record(args.run_id)
    try:
        task = TASKS.get(record["task"]["name"])
    except UnknownNameError:
        logging.getLogger(__name__).warning("task %s is not registered: no dataset BibTeX", record["task"]["name"])
        task = None
    if task is not None and task.task_hash != record["task"]["hash"]:
        print(
            f"% note: task {task.name}'s file changed since this run (hash {task.task_hash[:12]} now, "
            f"{record['task']['hash'][:12]} recorded); the paragraph states the recorded protocol"
        )
    seeds = sorted({r.seed for r in results.query(entry_key=entry_key(record))} | {record["seed"]})
    both = not (args.bibtex or args.methods)
    if args.bibtex or both:
        print(bibtex(record, task))
    if args.methods or both:
        print(("% Methods paragraph (LaTeX)\n" if both else "") + methods_paragraph(record, task, seeds))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("cite", help="BibTeX and a methods paragraph for a recorded run")
    parser.add_argument("run_id", help="run id (a unique prefix is enough)")
    parser.add_argument("--results", type=Path, default=Path("results"))
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--bibtex", action="store_true", help="print only the BibTeX entries")
    only.add_argument("--methods", action="store_true", help="print only the methods paragraph")
    parser.set_defaults(handler=cite)
