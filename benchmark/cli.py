"""The ``benchmark`` command: argument handling only; each subcommand lives in ``benchmark.commands``."""

from __future__ import annotations

import argparse
import logging
import sys

from benchmark.commands import register_all
from benchmark.errors import BenchmarkError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="benchmark", description="CXR-Bench: chest X-ray classification benchmarks")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    register_all(parser.add_subparsers(dest="command", required=True))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return args.handler(args)
    except BenchmarkError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: no record was written; continue with the same command and --resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
