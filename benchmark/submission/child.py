"""The child process of a plugin submission: ``python -m benchmark.submission.child REQUEST_FILE``.

Everything submitted code takes part in runs here, never in the process that scores and records:
importing ``model.py`` (``load_plugin``), building, training (``train_run``) and inference
(``predict_logits``). The child hands back files in ``out/``: the val and test scores in the layout of a
prediction file (``image_id`` + one column per label), the trained state dict, and ``meta.json``
(what the record says about the model and its training). Nothing here is trusted: the parent
(``benchmark.submission.isolation``) validates the scores like a prediction file, computes every
metric itself, and takes only non-metric facts from ``meta.json``.

Only the standard library is imported at module level; the project is imported once the request
is read. Exit status: 0 after the files are written, 2 for a typed error (printed), 1 otherwise.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

OUT_DIR = "out"
TEST_FILE = "test.parquet"
VAL_FILE = "val.parquet"
STATE_FILE = "best_model.pt"
META_FILE = "meta.json"  # written last: its presence says the others are complete
HANDED_BACK = (TEST_FILE, VAL_FILE, STATE_FILE, META_FILE)
DEFAULT_TIMEOUT = 48 * 3600.0  # wall-clock seconds per seed (benchmark submit --timeout)

log = logging.getLogger("benchmark.submission.child")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if len(args) != 1:
        print("usage: python -m benchmark.submission.child REQUEST_FILE", file=sys.stderr)
        return 1
    request = json.loads(Path(args[0]).read_text())
    from benchmark.errors import BenchmarkError

    try:
        run(request)
    except BenchmarkError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    return 0


def run(request: dict[str, Any]) -> None:
    """Load the plugin for the request's task, train it, predict val and test, write ``out/``."""
    import torch

    from benchmark.submission.plugin import load_plugin
    from benchmark.training.runner import RunRequest, train_run

    task = _task(request["task"], request["task_hash"])
    spec, section = load_plugin(Path(request["folder"]), task.name)
    run_request = RunRequest(
        task=task,
        model=spec,
        data_root=request["data_root"],
        seed=request["seed"],
        overrides=request["overrides"],
        results=Path(request["work"]),  # the resume checkpoint stays in the submission's work folder
        resume=request["resume"],
        device=torch.device(request["device"]) if request["device"] else None,
        origin="submission",
    )
    trained = train_run(run_request)
    started = time.perf_counter()
    test = trained.data.prepare("test", trained.size)
    val_scores = _scores(trained.model, trained.val, trained.recipe, task, trained.device)
    test_scores = _scores(trained.model, test, trained.recipe, task, trained.device)
    predict_seconds = time.perf_counter() - started

    out = Path(request["out"])
    val_scores.to_parquet(out / VAL_FILE, index=False)
    test_scores.to_parquet(out / TEST_FILE, index=False)
    torch.save({k: v.detach().cpu() for k, v in trained.model.state_dict().items()}, out / STATE_FILE)
    meta = {
        "family": spec.family,
        "source_file": spec.source_file.name,
        "source_hash": spec.source_hash,
        "sources": spec.source_digests,
        "package": section.package.to_dict() if section.package else None,
        "parameters": sum(p.numel() for p in trained.model.parameters()),
        "input": {"image_size": trained.size, "in_chans": trained.recipe.in_chans},
        "recipe": trained.recipe.to_dict(),
        "device": str(trained.device),
        "training": {
            "history": list(trained.fitted.history),
            "best_epoch": trained.fitted.best_epoch,
            "epochs_run": len(trained.fitted.history),
            "stopped_early": trained.fitted.stopped_early,
            "resumed_from_epoch": trained.fitted.resumed_from_epoch,
        },
        "seconds": {"data": trained.data_seconds, "train": trained.fitted.seconds, "predict": predict_seconds},
    }
    (out / META_FILE).write_text(json.dumps(meta))
    log.info("handed back %s val and %s test predictions in %s", len(val_scores), len(test_scores), out)


def _task(spec: dict[str, Any], task_hash: str) -> Any:
    """The parent's task, registered under its name (replacing a task file of that name), so that
    ``load_plugin`` checks and builds the model for exactly the task the parent scores."""
    from benchmark.errors import ConfigError
    from benchmark.tasks import TASKS, task_from_dict

    task = task_from_dict(spec, "the task sent by the parent process")
    if task.task_hash != task_hash:
        raise ConfigError(f"task {task.name}: hash {task.task_hash} differs from the parent's {task_hash}")
    TASKS.names()  # the task files are read first, so the parent's task is the one registered
    TASKS._items[task.name] = task
    return task


def _scores(model: Any, split: Any, recipe: Any, task: Any, device: Any) -> Any:
    """The model's scores on ``split`` in the layout of a prediction file (``image_id`` + the labels).
    ``predict`` would put the truth beside them; the child hands back no truth, and needs none."""
    import pandas as pd

    from benchmark.models.io import to_probabilities
    from benchmark.training.inference import predict_logits

    logits = predict_logits(model, split, recipe, device)
    probabilities = to_probabilities(logits, recipe, task.problem).double().numpy()
    frame = pd.DataFrame(probabilities.reshape(len(split.image_ids), -1), columns=list(task.labels))
    frame.insert(0, "image_id", list(split.image_ids))
    return frame


if __name__ == "__main__":
    raise SystemExit(main())
