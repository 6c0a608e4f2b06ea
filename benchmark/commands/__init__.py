"""CLI subcommands, one module per area. Each module's ``register(sub)`` adds its subparsers and
sets ``handler`` on each; handlers import heavy libraries (torch, ray, streamlit) only when run."""

from __future__ import annotations

import argparse
import importlib

# Add a module here to add its subcommands to `benchmark`.
MODULES = (
    "core",
    "data",
    "distributed",
    "store",
    "submit",
    "reproduce",
    "cite",
    "stats",
    "expert",
    "evaluate",
    "audit",
    "robustness",
    "report",
    "export",
    "verify",
    "saliency",
    "leaderboard",
)


def register_all(sub: argparse._SubParsersAction) -> None:
    for name in MODULES:
        importlib.import_module(f"{__name__}.{name}").register(sub)
