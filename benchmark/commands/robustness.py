"""`benchmark robustness RUN_ID`: the run's test metrics under graded image corruptions (noise, blur, contrast,
gamma, JPEG, downsampling, rotation; severities 1-5), with bootstrap CIs and the mean relative drop, cached
beside the run (``derived/robustness/``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmark.results.store import DEFAULT_RESULTS


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("robustness", help="a run's test metrics under graded image corruptions, with CIs")
    parser.add_argument("run_id", help="run id (a unique prefix is enough)")
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument("--data-root", help="dataset folder (default: the one the run recorded)")
    parser.add_argument(
        "--corruptions",
        nargs="+",
        help="any of gaussian_noise, blur, contrast, gamma, jpeg, downsample, rotation (default: all)",
    )
    parser.add_argument("--severities", nargs="+", type=int, help="any of 1 2 3 4 5 (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random corruptions (noise, rotation sign)")
    parser.add_argument("--n-resamples", type=int, help="bootstrap resamples (default: the task's)")
    parser.add_argument("--force", action="store_true", help="recompute even if the cached result matches")
    parser.add_argument("--device", help="cpu, cuda, cuda:1 (default: cuda when available)")
    parser.set_defaults(handler=robustness)


def robustness(args: argparse.Namespace) -> int:
    import torch

    from benchmark.robustness.corruptions import CORRUPTIONS, SEVERITIES
    from benchmark.robustness.report import format_result
    from benchmark.robustness.run import RobustnessRequest, run_robustness

    request = RobustnessRequest(
        run_id=args.run_id,
        results=args.results,
        data_root=args.data_root,
        corruptions=tuple(args.corruptions or CORRUPTIONS),
        severities=tuple(args.severities or SEVERITIES),
        seed=args.seed,
        n_resamples=args.n_resamples,
        force=args.force,
        device=torch.device(args.device) if args.device else None,
    )
    done = run_robustness(request)
    print(("reused " if done.reused else "computed ") + str(done.path))
    print(format_result(done.payload["result"]))
    return 0
