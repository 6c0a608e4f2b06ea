"""``benchmark saliency RUN_ID``: saliency maps of a recorded run for a sample of its test images.

The model is rebuilt from the record (registered factory, recorded recipe and input size) and
loaded with the run's ``best_model.pt``; test images come from the prepared cache at the model's
size and are normalised exactly as in training. Classes shown per image: for binary and
multiclass tasks the true and the predicted class; for multilabel tasks the labels positive in
truth plus the findings an expert box marks. Where the task's source has expert boxes (nih14),
the boxed test images are sampled first and every map of a boxed finding is scored
(``benchmark.saliency.scoring``). Results go to the run's saliency cache, never to its record.
"""

from __future__ import annotations

import io
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from PIL import Image
from tqdm.auto import tqdm

from benchmark.data.dataset import TaskData
from benchmark.data.download import file_digest
from benchmark.data.prepared import PreparedSplit
from benchmark.data.sources.nih14 import read_nih_boxes
from benchmark.errors import ConfigError, DatasetNotFoundError, RunNotFoundError
from benchmark.models.io import default_device, normalise, num_outputs, uses_cross_entropy
from benchmark.models.registry import MODELS, ModelInputs, ModelSpec
from benchmark.recipe import Recipe
from benchmark.results.integrity import read_verified
from benchmark.results.record import RECORD_FILE, RunRecord
from benchmark.results.store import CHECKPOINT_FILE, DEFAULT_RESULTS, ResultsDir
from benchmark.saliency.cache import CACHE_SCHEMA, cache_dir, cache_key, read_index, write_cache
from benchmark.saliency.maps import (
    METHODS,
    ClassLogits,
    OcclusionSettings,
    SaliencyEngine,
    compute_maps,
    find_target_layer,
    log_probabilities,
)
from benchmark.saliency.scoring import DEFAULT_FRACTION, DEFAULT_TOLERANCE, Box, scale_box, score_map, summarise
from benchmark.tasks import Task
from benchmark.tasks.registry import task_of_run

log = logging.getLogger(__name__)

# Source kind -> reader of its expert boxes (image_id, label, x, y, w, h in pixels of the original image).
BOX_READERS: dict[str, Callable[[Path, str], pd.DataFrame]] = {"nih14": read_nih_boxes}


@dataclass(frozen=True)
class SaliencyRequest:
    run_id: str
    results: Path = DEFAULT_RESULTS
    data_root: str | None = None  # default: the data root recorded by the run
    methods: tuple[str, ...] = METHODS
    n: int = 32
    seed: int = 0
    force: bool = False
    task: Task | None = None  # default: the registered task the record names (its hash must match)
    occlusion: OcclusionSettings = field(default_factory=OcclusionSettings)
    tolerance: float = DEFAULT_TOLERANCE  # pointing game, in map pixels
    fraction: float = DEFAULT_FRACTION  # IoU: the map thresholded at fraction x its maximum
    device: torch.device | None = None


def class_names(task: Task) -> tuple[str, ...]:
    """The classes a map can be asked for: (negative, positive) for a binary task, else the labels."""
    if task.problem == "binary":
        return tuple(task.class_names) if len(task.class_names) == 2 else ("negative", task.labels[0])
    return tuple(task.labels)


def sample_rows(image_ids: list[str], boxed: set[str], n: int, seed: int) -> list[int]:
    """``n`` positions drawn without replacement by ``seed``; images with expert boxes first."""
    order = np.random.default_rng(seed).permutation(len(image_ids))
    first = [int(i) for i in order if image_ids[i] in boxed]
    rest = [int(i) for i in order if image_ids[i] not in boxed]
    return (first + rest)[:n]


def _check_request(request: SaliencyRequest) -> None:
    unknown = sorted(set(request.methods) - set(METHODS))
    if unknown or not request.methods:
        raise ConfigError(f"unknown or no saliency method(s) {unknown}; choose from {list(METHODS)}")
    if request.n < 1:
        raise ConfigError(f"--n must be at least 1 (images to explain), got {request.n}")


def _image_size(record: RunRecord) -> int:
    """The model's input side; a prediction submission has no model (and no checkpoint) to explain."""
    if record.model.input is None:
        raise ConfigError(f"run {record.run_id} is a prediction submission: it has no model to compute maps of")
    return record.model.input.image_size


def load_run_model(run_dir: Path, record: RunRecord, task: Task) -> tuple[torch.nn.Module, Recipe, ModelSpec]:
    """The run's network with its best weights, its recipe and its model spec."""
    spec = MODELS.get(record.model.name)
    if spec.source_hash != record.model.source_hash:
        log.warning("the source of model %s changed since run %s; loading its weights anyway", spec.name, run_dir.name)
    recipe = spec.recipe.with_overrides(record.recipe or {})
    size = _image_size(record)
    net = spec.factory(ModelInputs(num_outputs(recipe, task.problem, len(task.labels)), recipe.in_chans, size))
    weights = io.BytesIO(read_verified(run_dir, record, CHECKPOINT_FILE))  # checked against the record's sha256
    state = torch.load(weights, map_location="cpu", weights_only=True)
    try:
        net.load_state_dict(state)
    except RuntimeError as exc:
        raise ConfigError(
            f"{run_dir / CHECKPOINT_FILE} does not fit model {spec.name} as registered now ({exc}); "
            "its architecture changed since the run: check out the commit the record names"
        ) from exc
    return net, recipe, spec


def _boxes_of(task: Task, data: TaskData, image_ids: list[str]) -> pd.DataFrame | None:
    """Expert boxes on ``image_ids`` with the size of each original image, or None if the source has none."""
    reader = BOX_READERS.get(task.source["kind"])
    if reader is None:
        return None
    try:
        boxes = reader(data.root, task.source.get("folder", task.source["kind"]))
    except DatasetNotFoundError as exc:
        log.warning("no expert boxes, maps are not scored: %s", exc)
        return None
    boxes = boxes[boxes["image_id"].isin(image_ids) & boxes["label"].isin(task.labels)].copy()
    locations = data.frame.set_index("image_id")["location"]
    sizes = {}
    for image_id in boxes["image_id"].unique():
        try:
            with Image.open(locations[image_id]) as image:  # reads the header only
                sizes[image_id] = image.size
        except OSError as exc:
            raise DatasetNotFoundError(
                f"cannot read the size of {locations[image_id]}, whose expert boxes are to be scaled ({exc}); "
                "restore the image from the original download"
            ) from exc
    boxes["source_size"] = boxes["image_id"].map(sizes)
    return boxes


def _scaled_boxes(boxes: pd.DataFrame | None, image_id: str, shape: tuple[int, ...]) -> dict[str, list[Box]]:
    """Finding -> boxes of ``image_id`` in pixels of a map of ``shape``."""
    if boxes is None:
        return {}
    mine = boxes[boxes["image_id"] == image_id]
    return {
        finding: [scale_box(b.x, b.y, b.w, b.h, b.source_size, (shape[0], shape[1])) for b in group.itertuples()]
        for finding, group in mine.groupby("label")
    }


def _classes_to_show(
    task: Task, y_true: np.ndarray, probabilities: np.ndarray, thresholds: dict[str, float], boxed: set[str]
) -> tuple[dict[int, list[str]], list[str], list[str]]:
    """(class index -> reasons, true classes, predicted classes) of one image."""
    names = class_names(task)
    reasons: dict[int, list[str]] = {}
    if task.problem == "multilabel":
        true = [k for k in range(len(names)) if y_true[k] == 1]
        predicted = [k for k, label in enumerate(names) if probabilities[k] >= thresholds.get(label, 0.5)]
        shown = [(k, "true") for k in true] + [(names.index(f), "box") for f in sorted(boxed)]
    else:
        positive = probabilities[1] >= thresholds.get(task.labels[0], 0.5) if task.problem == "binary" else None
        true = [int(y_true[0] == 1)] if task.problem == "binary" else [int(np.argmax(y_true))]
        predicted = [int(positive)] if task.problem == "binary" else [int(np.argmax(probabilities))]
        shown = [(true[0], "true"), (predicted[0], "predicted")]
    for k, why in shown:
        reasons.setdefault(k, [])
        if why not in reasons[k]:
            reasons[k].append(why)
    return reasons, [names[k] for k in true], [names[k] for k in predicted]


def run_saliency(request: SaliencyRequest) -> Path:
    """Compute (or reuse) the saliency cache of a run; returns the cache folder."""
    _check_request(request)
    methods = tuple(m for m in METHODS if m in request.methods)
    run_dir = ResultsDir(Path(request.results)).find(request.run_id)
    if not (run_dir / CHECKPOINT_FILE).is_file():
        raise RunNotFoundError(f"run {run_dir.name} has no {CHECKPOINT_FILE} (incomplete run directory); re-run it")
    record = RunRecord.load(run_dir / RECORD_FILE)
    parameters = {
        "schema": CACHE_SCHEMA,
        "record_sha256": file_digest(run_dir / RECORD_FILE, "sha256"),
        "model_sha256": file_digest(run_dir / CHECKPOINT_FILE, "sha256"),
        "methods": list(methods),
        "n": request.n,
        "seed": request.seed,
        "occlusion": request.occlusion.to_dict(),
        "scoring": {"pointing_tolerance_px": request.tolerance, "iou_threshold_fraction_of_max": request.fraction},
    }
    key = cache_key(parameters)
    existing = read_index(run_dir)
    if not request.force and existing is not None and existing.get("key") == key:
        log.info("saliency cache of %s is up to date (--force recomputes it)", run_dir.name)
        return cache_dir(run_dir)

    task = task_of_run(record.run_id, record.task.name, record.task.hash, request.task)
    net, recipe, spec = load_run_model(run_dir, record, task)
    size = _image_size(record)
    data = task.load_data(request.data_root or record.task.data_root)
    test = data.prepare("test", size)
    boxes = _boxes_of(task, data, test.image_ids)
    boxed_ids = set(boxes["image_id"]) if boxes is not None else set()
    rows = sample_rows(test.image_ids, boxed_ids, request.n, request.seed)
    index, images, maps = _explain(request, record, task, net, recipe, spec, test, rows, boxes, methods)
    index.update(key=key, parameters={**parameters, "image_size": size, "n_images": len(rows)})
    folder = write_cache(run_dir, index, images, maps)
    log.info("saliency maps of %d images written to %s", len(rows), folder)
    return folder


def _explain(
    request: SaliencyRequest,
    record: RunRecord,
    task: Task,
    net: torch.nn.Module,
    recipe: Recipe,
    spec: ModelSpec,
    test: PreparedSplit,
    rows: list[int],
    boxes: pd.DataFrame | None,
    methods: tuple[str, ...],
) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    device = request.device or default_device()
    names = class_names(task)
    images = np.asarray(test.images[test.rows[rows]], dtype=np.uint8)
    x = normalise(torch.from_numpy(images).unsqueeze(1), recipe, device).contiguous()
    single_logit = task.problem == "binary" and num_outputs(recipe, task.problem, len(task.labels)) == 1
    model = ClassLogits(net, single_binary_logit=single_logit).to(device)
    log_probability = log_probabilities(uses_cross_entropy(recipe, task.problem))
    target = find_target_layer(net, spec.cam_layer, x[:1])
    engine = SaliencyEngine(model, f"net.{target}", log_probability, request.occlusion)
    with torch.no_grad():
        probabilities = log_probability(model.eval()(x)).exp().cpu().numpy()
    thresholds = record.thresholds
    shape = images.shape[1:]

    image_entries, entries, maps, trials = [], [], [], []
    seconds = dict.fromkeys(methods, 0.0)
    for j, row in enumerate(tqdm(rows, desc="saliency", disable=not sys.stderr.isatty(), leave=False)):
        image_id = test.image_ids[row]
        scaled = _scaled_boxes(boxes, image_id, shape)
        reasons, true, predicted = _classes_to_show(
            task, test.targets[row].numpy(), probabilities[j], thresholds, set(scaled)
        )
        image_entries.append(
            {
                "image_id": image_id,
                "patient_id": test.patient_ids[row],
                "true": true,
                "predicted": predicted,
                "probabilities": {name: float(p) for name, p in zip(names, probabilities[j], strict=True)},
                "boxes": [
                    {"finding": finding, "x0": b[0], "y0": b[1], "x1": b[2], "y1": b[3]}
                    for finding, group in scaled.items()
                    for b in group
                ],
            }
        )
        for method in methods:
            started = time.perf_counter()
            computed = compute_maps(engine, x[j : j + 1], list(reasons), [method])
            seconds[method] += time.perf_counter() - started
            for k, why in reasons.items():
                saliency, peak = computed[k, method]
                saliency = saliency.astype(np.float16)  # as stored: the scores are those of the maps shown
                entry = {"map": len(maps), "image": j, "class": names[k], "class_index": k, "method": method}
                entry |= {"reasons": why, "peak": peak}
                if names[k] in scaled:
                    scores = score_map(saliency, scaled[names[k]], request.tolerance, request.fraction)
                    entry |= {"hit": scores["hit"], "iou": scores["iou"]}
                    trials.append({"image_id": image_id, "method": method, "finding": names[k], **scores})
                entries.append(entry)
                maps.append(saliency)
    scored = boxes is not None
    index = {
        "created_at": datetime.now(timezone.utc).isoformat(),
        "run_id": record.run_id,
        "task": {"name": task.name, "hash": task.task_hash, "problem": task.problem},
        "model": {"name": record.model.name, "family": spec.family, "target_layer": target},
        "classes": list(names),
        "methods": list(methods),
        "images": image_entries,
        "entries": entries,
        "boxes_available": scored,
        "trials": trials if scored else None,
        "scores": summarise(pd.DataFrame(trials)).to_dict("records") if scored else None,
        "seconds_per_image": {m: s / len(rows) for m, s in seconds.items()},
        "device": str(device),
    }
    stacked = np.stack(maps) if maps else np.zeros((0, *shape), dtype=np.float16)
    return index, images, stacked
