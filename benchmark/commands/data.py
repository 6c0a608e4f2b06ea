"""`benchmark data download|status|check|prepare|build`: dataset utilities."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from benchmark.data.fetch.plans import Plan
    from benchmark.tasks import Task

MANUAL_EXIT = 3  # `data download` of a dataset that a person must fetch: the steps are printed
PROBLEM_EXIT = 1  # `data download` / `data check` found the data unusable for the task


def register(sub: argparse._SubParsersAction) -> None:
    data = sub.add_parser("data", help="dataset utilities")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    download = data_sub.add_parser(
        "download",
        help="download, verify and unpack a task's published files (or print the steps where registration is needed)",
    )
    download.add_argument("task")
    download.add_argument("--data-root", required=True, type=Path, help="folder that holds (or will hold) the datasets")
    download.add_argument("--workers", type=int, default=4, help="files fetched at once (default: 4)")
    download.add_argument("--keep-archives", action="store_true", help="keep the .tar.gz/.zip after unpacking")
    download.add_argument(
        "--metadata-only", action="store_true", help="only the files kept as they are (NIH: CSVs and lists, 3 MB)"
    )
    download.add_argument("--retries", type=int, default=3, help="resumes of a cut-off transfer before giving up")
    download.add_argument(
        "--mirror", help="fetch every file from MIRROR/<file name> instead (default: $CXRBENCH_DOWNLOAD_BASE_URL)"
    )
    download.set_defaults(handler=data_download)
    status = data_sub.add_parser("status", help="one line per task: what the data root holds, lacks or has damaged")
    status.add_argument("--data-root", help="dataset folder (default: $CXRBENCH_DATA)")
    status.set_defaults(handler=data_status)
    check = data_sub.add_parser("check", help="counts, leaks across splits, missing and unreadable files")
    check.add_argument("task")
    check.add_argument("--data-root", help="dataset folder (default: $CXRBENCH_DATA)")
    check.add_argument("--json", action="store_true", help="print one JSON object")
    check.add_argument("--workers", type=int, help="decoding processes (default: all cores)")
    check.set_defaults(handler=data_check)
    prepare = data_sub.add_parser("prepare", help="decode, grayscale and resize every image once into the cache")
    prepare.add_argument("task")
    prepare.add_argument("--size", type=int, help="side in pixels (default: the task's native size)")
    prepare.add_argument("--data-root", help="dataset folder (default: $CXRBENCH_DATA)")
    prepare.add_argument("--skip-corrupt", action="store_true", help="leave unreadable images out and record them")
    prepare.add_argument("--workers", type=int, help="decoding processes (default: all cores)")
    prepare.set_defaults(handler=data_prepare)
    build = data_sub.add_parser("build", help="derive a task's dataset from another one (lung3_64 from nih14)")
    build.add_argument("task", choices=["lung3_64"])
    build.add_argument("--from", dest="source_task", required=True, choices=["nih14"])
    build.add_argument("--data-root", required=True, type=Path, help="folder holding NIH's Data_Entry CSV")
    build.add_argument("--images", type=Path, help="folder searched for the NIH images (default: --data-root)")
    build.add_argument("--out", required=True, type=Path, help="npz file to write")
    build.set_defaults(handler=data_build)


def data_download(args: argparse.Namespace) -> int:
    from benchmark.data.fetch.plans import plan_for
    from benchmark.data.fetch.runner import download_task
    from benchmark.tasks import TASKS

    task = TASKS.get(args.task)
    plan = plan_for(task)
    if not plan.downloadable:
        return _print_steps(task, plan, args.data_root)
    result = download_task(
        task,
        args.data_root,
        base_url=args.mirror,
        workers=args.workers,
        keep_archives=args.keep_archives,
        retries=args.retries,
        metadata_only=args.metadata_only,
    )
    if result.fetched:
        print(f"{result.folder}: fetched {', '.join(result.fetched)} ({result.transferred:,} bytes transferred)")
    if result.skipped:
        print(f"{result.folder}: already in place, not fetched: {', '.join(result.skipped)}")
    for line in result.notes:
        print(line)
    for line in result.problems:
        print(f"problem: {line}", file=sys.stderr)
    return PROBLEM_EXIT if result.problems else 0


def _print_steps(task: Task, plan: Plan, data_root: Path) -> int:
    """The steps of a dataset that needs a person; 0 when its data is already complete under ``data_root``."""
    from benchmark.data.fetch.status import task_status

    if data_root.is_dir() and (status := task_status(task, data_root)).state == "complete":
        print(f"{task.name}: {status.detail} under {data_root}; nothing to do")
        return 0
    lines = [f"{task.name}: its data cannot be downloaded automatically (registration or an API key is needed).", ""]
    lines += [f"  {n}. {step.replace('DIR', str(data_root))}" for n, step in enumerate(plan.steps, start=1)]
    lines += ["", "Files to expect:"] + [f"  {data_root / line}" for line in plan.expect]
    lines += [f"Download size: {plan.size}"] if plan.size else []
    lines += plan.notes
    print("\n".join(lines))
    return MANUAL_EXIT


def data_status(args: argparse.Namespace) -> int:
    from benchmark.data.fetch.status import task_status
    from benchmark.data.root import resolve_data_root
    from benchmark.tasks import TASKS

    root = resolve_data_root(args.data_root)
    print(f"data root {root}")
    for name in sorted(TASKS.names()):
        print(task_status(TASKS.get(name), root).line(), flush=True)
    return 0


def data_check(args: argparse.Namespace) -> int:
    from benchmark.data.check import check_problems, check_task_data, format_report
    from benchmark.tasks import TASKS

    report = check_task_data(TASKS.get(args.task), args.data_root, args.workers)
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    problems = check_problems(report)
    if problems:
        print(f"data check {args.task}: FAILED ({'; '.join(problems)})", file=sys.stderr)
        return PROBLEM_EXIT
    return 0


def data_prepare(args: argparse.Namespace) -> int:
    from benchmark.data.cache import prepare_cache
    from benchmark.tasks import TASKS

    task = TASKS.get(args.task)
    data = task.load_data(args.data_root)
    cache = prepare_cache(data, args.size or task.native_image_size, args.workers, args.skip_corrupt)
    print(f"{cache.path}: {len(cache.rows)} images at {cache.size}x{cache.size}, {len(cache.skipped)} skipped")
    return 0


def data_build(args: argparse.Namespace) -> int:
    from benchmark.data.build.lung64 import build_lung3_64
    from benchmark.tasks import TASKS

    out = build_lung3_64(TASKS.get(args.task), args.data_root, args.images or args.data_root, args.out)
    print(f"wrote {out}")
    return 0
