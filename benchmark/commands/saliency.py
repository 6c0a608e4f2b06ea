"""`benchmark saliency RUN_ID`: Grad-CAM, Grad-CAM++ and occlusion maps of a run, cached in its directory."""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmark.results.store import DEFAULT_RESULTS


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("saliency", help="saliency maps of a run's test images, scored against expert boxes")
    parser.add_argument("run_id", help="run id (a unique prefix is enough)")
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument("--data-root", help="dataset folder (default: the one the run recorded)")
    parser.add_argument("--methods", nargs="+", help="any of gradcam, gradcam++, occlusion (default: all three)")
    parser.add_argument("--n", type=int, default=32, help="test images to explain (boxed ones first)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the image sample")
    parser.add_argument("--force", action="store_true", help="recompute even if the cache matches these arguments")
    parser.add_argument("--device", help="cpu, cuda, cuda:1 (default: cuda when available)")
    parser.set_defaults(handler=saliency)


def saliency(args: argparse.Namespace) -> int:
    import torch

    from benchmark.saliency.cache import read_cache
    from benchmark.saliency.maps import METHODS
    from benchmark.saliency.run import SaliencyRequest, run_saliency

    request = SaliencyRequest(
        run_id=args.run_id,
        results=args.results,
        data_root=args.data_root,
        methods=tuple(args.methods or METHODS),
        n=args.n,
        seed=args.seed,
        force=args.force,
        device=torch.device(args.device) if args.device else None,
    )
    folder = run_saliency(request)
    index = read_cache(folder.parent).index
    print(f"{len(index['images'])} images, {len(index['entries'])} maps ({', '.join(index['methods'])}): {folder}")
    for row in index["scores"] or []:
        print(
            f"  {row['method']:<10} {row['finding']:<20} pointing game {row['hits']}/{row['n']} "
            f"= {row['hit_rate']:.2f} [{row['ci_low']:.2f}, {row['ci_high']:.2f}]  "
            f"mean IoU {row['mean_iou']:.2f}  chance {row['chance']:.2f}"
        )
    return 0
