"""(stub) subcommands of this area; filled in by its work."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Adds nothing yet."""
