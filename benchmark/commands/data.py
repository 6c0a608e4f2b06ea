"""`benchmark data download|check|prepare|build`: dataset utilities."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    data = sub.add_parser("data", help="dataset utilities")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    download = data_sub.add_parser("download", help="download a task's published files (MedMNIST tasks)")
    download.add_argument("task")
    download.add_argument("--data-root", required=True, type=Path)
    download.set_defaults(handler=data_download)
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
    from benchmark.data.sources.medmnist import download_medmnist
    from benchmark.errors import ConfigError
    from benchmark.tasks import TASKS

    task = TASKS.get(args.task)
    if task.source["kind"] != "medmnist":
        raise ConfigError(f"task {task.name} has no download: {task.source.get('how_to_get', 'see its task file')}")
    path = download_medmnist(args.data_root, task.source)
    print(f"{path} ok (md5 {task.source['md5']})")
    return 0


def data_check(args: argparse.Namespace) -> int:
    from benchmark.data.check import check_task_data, format_report
    from benchmark.tasks import TASKS

    report = check_task_data(TASKS.get(args.task), args.data_root, args.workers)
    print(json.dumps(report, indent=2) if args.json else format_report(report))
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
