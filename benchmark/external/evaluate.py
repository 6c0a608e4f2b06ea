"""``benchmark evaluate RUN_ID --external NAME``: an external set scored for a published run.

The run's model is rebuilt from its record and loaded with its ``best_model.pt`` (checked against the
sha256 the record holds); the result is a derived file beside the run (``derived/external/NAME.json``),
whose ``inputs`` name the weights, the record and the external spec it was computed from. Every check
runs before anything is prepared or written: an unknown set, a run of another task version, a run
without weights, a shipped reference run, or a set whose images are not under the data root.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmark.data.download import file_digest
from benchmark.external.data import load_external
from benchmark.external.scoring import score_external
from benchmark.external.spec import ReferenceRunError, RunWithoutWeightsError, external_set
from benchmark.reference.board import reference_roots, shipped_results, with_reference
from benchmark.results.combined import CombinedResults
from benchmark.results.derived import write_derived
from benchmark.results.record import RECORD_FILE, RunRecord
from benchmark.results.store import CHECKPOINT_FILE, DEFAULT_RESULTS, ResultsDir
from benchmark.tasks import Task
from benchmark.tasks.registry import task_of_run


@dataclass(frozen=True)
class EvaluateRequest:
    run_id: str
    external: str
    results: Path = DEFAULT_RESULTS
    data_root: str | None = None  # default: the data root the run recorded
    device: str | None = None
    task: Task | None = None  # default: the registered task the record names (its hash must match)


def run_store(results: Path, run_id: str) -> ResultsDir:
    """The folder holding ``run_id`` among the user's results and the reference folders; a run found only in
    a read-only reference folder (the shipped board) is refused: nothing may be written beside it."""
    reader = with_reference(Path(results))
    store = reader.store_of(run_id) if isinstance(reader, CombinedResults) else reader
    shipped = {root.resolve() for root in (*reference_roots(), shipped_results())}
    if store.read_only or store.root.resolve() in shipped:
        found = store.find(run_id).name
        raise ReferenceRunError(
            f"run {found} is a shipped reference run ({store.root}, read-only): no derived result is written beside "
            f"it. Copy its folder, with its {CHECKPOINT_FILE}, into your results folder ({results}), or re-run it "
            "there with `benchmark run` (same task, model and seed), then evaluate that copy"
        )
    return store


def check_weights(run_dir: Path, record: RunRecord) -> str:
    """The sha256 of the run's weights as its record lists them; refused when the run has none."""
    listed = (record.files or {}).get(CHECKPOINT_FILE)
    if listed is not None and (run_dir / CHECKPOINT_FILE).is_file():
        return listed
    if record.origin == "submission" or record.model.input is None or record.recipe is None:
        raise RunWithoutWeightsError(
            f"run {record.run_id} is a submission without model weights ({CHECKPOINT_FILE} is not among its files): "
            "there is no model to score the external set's images with. Submit the model itself (`benchmark "
            "submit` with a model plugin), or train it with `benchmark run`, and evaluate that run"
        )
    raise RunWithoutWeightsError(
        f"run {record.run_id} has no model weights ({run_dir / CHECKPOINT_FILE}"
        f"{' is listed in its record but missing' if listed else ' is not among its files'}): restore the "
        f"run folder with its {CHECKPOINT_FILE}, or re-run it with `benchmark run --task {record.task.name} "
        f"--model {record.model.name} --seed {record.seed}`"
    )


def evaluate_external_set(request: EvaluateRequest) -> tuple[Path, dict[str, Any]]:
    """Score one external set for a run; returns (the derived file written, its result)."""
    import torch

    from benchmark.models.io import default_device
    from benchmark.saliency.run import load_run_model
    from benchmark.training.inference import predict

    store = run_store(request.results, request.run_id)
    run_dir = store.find(request.run_id)
    record = RunRecord.load(run_dir / RECORD_FILE)
    task = task_of_run(record.run_id, record.task.name, record.task.hash, request.task)
    spec = external_set(task, request.external)
    weights_sha256 = check_weights(run_dir, record)
    data_root = request.data_root or record.task.data_root
    data = load_external(spec, task.problem, task.labels, task.class_names, data_root)  # missing data: refused here
    model, recipe, _ = load_run_model(run_dir, record, task)  # the weights are checked against the record here
    device = torch.device(request.device) if request.device else default_device()
    model.to(device)
    split = data.prepare(record.model.input.image_size)
    predictions = predict(model, split, recipe, task.problem, task.labels, device)
    result = score_external(data, predictions, task, record.thresholds_list(task.labels))
    inputs = {
        "run_id": record.run_id,
        "weights_sha256": weights_sha256,
        "record_sha256": file_digest(run_dir / RECORD_FILE, "sha256"),
        "task_hash": record.task.hash,
        "external_spec_hash": spec.spec_hash,
        "data_root": str(data.root.resolve()),
    }
    return write_derived(run_dir, "external", spec.name, result, inputs), result
