"""`benchmark evaluate RUN_ID --external NAME`: score one of the task's external test sets for a published run."""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmark.results.store import DEFAULT_RESULTS


def evaluate(args: argparse.Namespace) -> int:
    from benchmark.external.evaluate import EvaluateRequest, evaluate_external_set
    from benchmark.external.report import metrics_markdown

    request = EvaluateRequest(args.run_id, args.external, args.results, args.data_root, args.device)
    path, result = evaluate_external_set(request)
    print(metrics_markdown(args.external, result), end="")
    print(f"wrote {path}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "evaluate",
        help="score a run's model on one of its task's external test sets",
        description="Loads the run's best_model.pt (checked against its record), scores the named external set "
        "declared in the task file with the task's metrics and patient-cluster bootstrap CIs, and writes the "
        "result beside the run (derived/external/NAME.json); the run's record is left as it is.",
    )
    parser.add_argument("run_id", help="run id (a unique prefix is enough)")
    parser.add_argument("--external", required=True, help="name of an external set the run's task declares")
    parser.add_argument("--data-root", help="data root holding the external set (default: the one the run recorded)")
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument("--device", help="cpu, cuda, cuda:1 (default: cuda when available)")
    parser.set_defaults(handler=evaluate)
