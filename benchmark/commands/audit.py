"""`benchmark audit`: the shortcut audit (benchmark.audit): a model trained with the lung field hidden and
on the lung field only, scored beside its normal run with CIs and paired tests."""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmark.commands.core import add_recipe_arguments, add_reference_argument, recipe_overrides, seed_argument


def audit(args: argparse.Namespace) -> int:
    from benchmark.audit.mask import LungMask
    from benchmark.audit.report import audit_text
    from benchmark.audit.run import AuditRequest, run_audit

    mask = LungMask(rows=tuple(args.rows), cols=tuple(args.cols), fill=args.fill)
    request = AuditRequest(
        task=args.task,
        model=args.model,
        seeds=tuple(args.seeds),
        data_root=args.data_root,
        results=Path(args.results),
        overrides=recipe_overrides(args),
        mask=mask,
        margin=args.margin,
        reference=args.reference,
        skip_corrupt=args.skip_corrupt,
    )
    report, path = run_audit(request)
    print(audit_text(report))
    print(f"report: {path}")
    return 0


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expects a fraction of the image side (0..1), got {text!r}") from None
    return value


def register(sub: argparse._SubParsersAction) -> None:
    from benchmark.audit.mask import LungMask

    default = LungMask()
    parser = sub.add_parser(
        "audit",
        help="shortcut audit: train a model with the lung field hidden and on the lung field only",
        description="Trains the model by its own recipe with the central lung-field rectangle hidden, and on that "
        "rectangle only (the rest hidden), on train, val and test images alike; scores both beside the normal run "
        "(reused from the results folder or the reference board when it exists) with bootstrap CIs and paired "
        "bootstrap tests. Masked runs go to RESULTS/audits/runs (never into the task's standings); the report to "
        "RESULTS/audits/TASK-MODEL.json. The task is flagged when the lung-hidden model's primary-metric CI lower "
        "bound exceeds chance + MARGIN.",
    )
    parser.add_argument("task")
    parser.add_argument("--model", required=True)
    parser.add_argument("--seeds", type=seed_argument, nargs="+", default=[0, 1, 2], help="default: 0 1 2")
    parser.add_argument(
        "--rows", type=_fraction, nargs=2, default=list(default.rows), metavar=("TOP", "BOTTOM"),
        help=f"the mask's rows as fractions of the height (default {default.rows[0]} {default.rows[1]})",
    )  # fmt: skip
    parser.add_argument(
        "--cols", type=_fraction, nargs=2, default=list(default.cols), metavar=("LEFT", "RIGHT"),
        help=f"the mask's columns as fractions of the width (default {default.cols[0]} {default.cols[1]})",
    )  # fmt: skip
    parser.add_argument("--fill", type=int, default=default.fill, help="grey level of hidden pixels (default 0)")
    parser.add_argument(
        "--margin", type=float, default=0.10, help="flag when the lung-hidden CI lower bound > chance + MARGIN"
    )
    add_recipe_arguments(parser)
    add_reference_argument(parser)
    parser.set_defaults(handler=audit)
