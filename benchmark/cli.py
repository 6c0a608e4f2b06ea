"""The ``benchmark`` command: argument handling only; the work lives in the modules it calls."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from benchmark.errors import BenchmarkError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="benchmark", description="CXR-Bench: chest X-ray classification benchmarks")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    tasks = sub.add_parser("tasks", help="list tasks")
    tasks.add_argument("--json", action="store_true")
    models = sub.add_parser("models", help="list models")
    models.add_argument("--json", action="store_true")
    models.add_argument("--show", metavar="NAME", help="print one model's card")

    run = sub.add_parser("run", help="train and evaluate one model on one task")
    run.add_argument("--task", required=True)
    run.add_argument("--model", required=True)
    run.add_argument("--data-root", help="dataset folder (default: $CXRBENCH_DATA)")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--epochs", type=int, help="override the recipe's epochs")
    run.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="override a recipe field"
    )
    run.add_argument("--weights", help="local pretrained weights (.safetensors or .pth); default: random init")
    run.add_argument("--results", type=Path, default=Path("results"))
    run.add_argument("--resume", action="store_true", help="continue an interrupted run from its last checkpoint")
    run.add_argument("--device", help="cpu, cuda, cuda:1 (default: cuda when available)")
    run.add_argument("--skip-corrupt", action="store_true", help="leave unreadable images out (recorded)")

    runs = sub.add_parser("runs", help="list recorded runs")
    runs.add_argument("--results", type=Path, default=Path("results"))
    runs.add_argument("--json", action="store_true")
    show = sub.add_parser("show", help="print a run record")
    show.add_argument("run_id")
    show.add_argument("--results", type=Path, default=Path("results"))

    data = sub.add_parser("data", help="dataset utilities")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    download = data_sub.add_parser("download", help="download a task's published files (MedMNIST tasks)")
    download.add_argument("task")
    download.add_argument("--data-root", required=True, type=Path)
    check = data_sub.add_parser("check", help="counts, leaks across splits, missing and unreadable files")
    check.add_argument("task")
    check.add_argument("--data-root", help="dataset folder (default: $CXRBENCH_DATA)")
    check.add_argument("--json", action="store_true", help="print one JSON object")
    check.add_argument("--workers", type=int, help="decoding processes (default: all cores)")
    prepare = data_sub.add_parser("prepare", help="decode, grayscale and resize every image once into the cache")
    prepare.add_argument("task")
    prepare.add_argument("--size", type=int, help="side in pixels (default: the task's native size)")
    prepare.add_argument("--data-root", help="dataset folder (default: $CXRBENCH_DATA)")
    prepare.add_argument("--skip-corrupt", action="store_true", help="leave unreadable images out and record them")
    prepare.add_argument("--workers", type=int, help="decoding processes (default: all cores)")
    build = data_sub.add_parser("build", help="derive a task's dataset from another one (lung3_64 from nih14)")
    build.add_argument("task", choices=["lung3_64"])
    build.add_argument("--from", dest="source_task", required=True, choices=["nih14"])
    build.add_argument("--data-root", required=True, type=Path, help="folder holding NIH's Data_Entry CSV")
    build.add_argument("--images", type=Path, help="folder searched for the NIH images (default: --data-root)")
    build.add_argument("--out", required=True, type=Path, help="npz file to write")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return _dispatch(args)
    except BenchmarkError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: no record was written; continue with the same command and --resume", file=sys.stderr)
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    from benchmark import commands

    handlers = {
        "tasks": commands.list_tasks,
        "models": commands.list_models,
        "run": commands.run,
        "runs": commands.list_runs,
        "show": commands.show,
        "data": commands.data,
    }
    return handlers[args.command](args)


def print_json(payload: object) -> None:
    print(json.dumps(payload, indent=2, default=str))


if __name__ == "__main__":
    raise SystemExit(main())
