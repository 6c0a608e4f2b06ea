"""What the benchmark scripts share: the checkout root on sys.path, and the --data-root option."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # the checkout's packages (and its tests' fixtures) before any installed copy
    sys.path.insert(0, str(ROOT))

DATA_ROOT_ENV = "CXRBENCH_DATA"  # benchmark.data.root's; not imported so this module stays import-free


def add_data_root(parser: argparse.ArgumentParser) -> None:
    """``--data-root``, defaulting to $CXRBENCH_DATA or ../shared/data beside the checkout."""
    parser.add_argument(
        "--data-root",
        default=os.environ.get(DATA_ROOT_ENV) or str(ROOT.parent / "shared" / "data"),
        help=f"folder holding the datasets (default: ${DATA_ROOT_ENV} or ../shared/data)",
    )
