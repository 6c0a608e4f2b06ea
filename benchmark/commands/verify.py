"""`benchmark verify BUNDLE`: check a bundle written by `benchmark export --format bundle`."""

from __future__ import annotations

import argparse
from pathlib import Path


def verify(args: argparse.Namespace) -> int:
    from benchmark.bundle.verify import verify_bundle

    print(verify_bundle(args.bundle).text())
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "verify",
        help="check a task's bundle: every checksum, every run re-scored from its predictions, the standings",
        description="Checks a bundle written by `benchmark export --format bundle` with nothing but itself and this "
        "package (no data, no results folder): every member's sha256, every run re-scored from its prediction files "
        "by the bundled task's evaluation and compared with its record, the split listing, and the standings "
        "rendered again from the bundled runs. Any difference is refused (exit code 2), naming the file and the run.",
    )
    parser.add_argument("bundle", type=Path, metavar="BUNDLE", help="the .tar.gz bundle")
    parser.set_defaults(handler=verify)
