"""`benchmark saliency RUN_ID`: Grad-CAM, Grad-CAM++ and occlusion maps of a run, cached in its directory;
`benchmark saliency-null`: the null baselines (centre-point and random maps) on a task's expert boxes."""

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

    null = sub.add_parser(
        "saliency-null", help="pointing game and IoU of a centre-point and a random map on a task's expert boxes"
    )
    null.add_argument("--task", default="nih14", help="task whose source has expert boxes (default: nih14)")
    null.add_argument("--data-root", help="data root (default: $CXRBENCH_DATA)")
    null.add_argument("--seed", type=int, default=0, help="seed of the random maps")
    null.set_defaults(handler=saliency_null)


def saliency(args: argparse.Namespace) -> int:
    import torch

    from benchmark.saliency.cache import read_cache
    from benchmark.saliency.maps import METHODS
    from benchmark.saliency.null_maps import cache_null_scores
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
    cache = read_cache(folder.parent)
    index = cache.index
    print(f"{len(index['images'])} images, {len(index['entries'])} maps ({', '.join(index['methods'])}): {folder}")
    nulls = cache_null_scores(index, cache.images.shape[1:]) if index["scores"] else None  # same images and boxes
    for row in [*(index["scores"] or []), *(nulls.to_dict("records") if nulls is not None else [])]:
        print(
            f"  {row['method']:<12} {row['finding']:<20} pointing game {row['hits']}/{row['n']} "
            f"= {row['hit_rate']:.2f} [{row['ci_low']:.2f}, {row['ci_high']:.2f}]  "
            f"mean IoU {row['mean_iou']:.2f}  chance {row['chance']:.2f}"
        )
    if nulls is not None:
        print("  null: maps that ignore the image (centre point; seeded uniform random), same images and boxes")
    return 0


def saliency_null(args: argparse.Namespace) -> int:
    from benchmark.data.root import resolve_data_root
    from benchmark.saliency.null_maps import format_scores, null_scores, task_boxes
    from benchmark.tasks import TASKS

    boxes, size = task_boxes(TASKS.get(args.task), resolve_data_root(args.data_root))
    print(f"{len(boxes)} boxes on {boxes['image_id'].nunique()} images ({size[0]}x{size[1]}), seed {args.seed}")
    print("\n".join(format_scores(null_scores(boxes, size, seed=args.seed))))
    return 0
