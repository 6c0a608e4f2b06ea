"""`benchmark report RUN_ID|ENTRY --out FILE.html|FILE.md`: one run's or one entry's full report."""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmark.commands.core import add_reference_argument
from benchmark.results.store import DEFAULT_RESULTS

FORMATS = ("html", "markdown")


def _format(args: argparse.Namespace) -> str:
    if args.format:
        return args.format
    if args.out is not None and args.out.suffix.lower() in (".md", ".markdown"):
        return "markdown"
    return "html" if args.out is not None else "markdown"


def report(args: argparse.Namespace) -> int:
    from benchmark.errors import ConfigError
    from benchmark.reference.board import with_reference
    from benchmark.report import html, markdown
    from benchmark.report.content import ReportSettings, entry_report, run_report, standing_of
    from benchmark.report.target import resolve
    from benchmark.results.store import write_atomically

    fmt = _format(args)
    if fmt == "html" and args.out is None:
        raise ConfigError("benchmark report --format html needs --out FILE.html (the page is one file)")
    if args.n_resamples < 1:
        raise ConfigError(f"--n-resamples must be at least 1, got {args.n_resamples}")
    store = with_reference(args.results, args.reference, read_only=True)
    settings = ReportSettings(n_bins=args.bins, n_resamples=args.n_resamples, seed=args.seed)
    target = resolve(store, args.target, args.task, args.task_hash)
    if target.entry is not None:
        name, standing = standing_of(store, target.entry)
        built = entry_report(store, target.entry, name, standing, settings)
        text = html.standalone(html.entry_page(built)) if fmt == "html" else markdown.entry_markdown(built)
        what = f"entry {target.entry.entry_key} ({len(target.entry.run_ids)} runs)"
    else:
        assert target.run_id is not None
        built_run = run_report(store, target.run_id, settings)
        text = html.standalone(html.run_page(built_run)) if fmt == "html" else markdown.run_markdown(built_run)
        what = f"run {built_run.record.run_id}"
    if args.out is None:
        print(text, end="")
        return 0
    write_atomically(args.out, lambda path: path.write_text(text, encoding="utf-8"))
    print(f"wrote the report of {what} to {args.out}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "report",
        help="one run's or one entry's full report: one self-contained HTML page (or Markdown)",
        description="Task and split hashes, metrics with CIs, trivial baselines, calibration, ROC, risk-coverage "
        "and AURC, subgroups, robustness, external and expert results where present, the saliency summary and "
        "the citation. TARGET is a run id (a unique prefix is enough), an entry key, or a model name.",
    )
    parser.add_argument("target", metavar="RUN_ID|ENTRY", help="a run id, an entry key, or a model name")
    parser.add_argument("--out", type=Path, help="FILE.html or FILE.md (default: Markdown on standard output)")
    parser.add_argument("--format", choices=FORMATS, help="default: from --out's suffix (.md: markdown), else html")
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument("--task", help="with a model name: the task of its entry")
    parser.add_argument("--task-hash", help="with a model name: the task hash of its entry")
    parser.add_argument("--bins", type=int, default=15, help="calibration bins (default 15, as Guo et al. 2017)")
    parser.add_argument(
        "--n-resamples", type=int, default=1000, help="bootstrap resamples of the AURC CI and ROC bands (default 1000)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of those resamples")
    add_reference_argument(parser)
    parser.set_defaults(handler=report)
