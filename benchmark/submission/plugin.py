"""A plugin submission's model: ``model.py`` imported by file path, or an installed entry point.

Called only by the child process of ``benchmark submit`` (benchmark.submission.child), and by
``benchmark run --model FOLDER`` and ``benchmark reproduce`` in their own process: submitted code runs
when a user asks for it, never when the package, the registry or another command is imported.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType

import torch

from benchmark.errors import BenchmarkError, SubmissionError
from benchmark.models.io import num_outputs
from benchmark.models.registry import ENTRY_POINT_GROUP, ModelInputs, ModelSpec, _as_spec
from benchmark.recipe import Recipe
from benchmark.results.record import PluginSubmission
from benchmark.submission.metadata import METADATA_FILE, Submission, load_submission
from benchmark.tasks import TASKS

log = logging.getLogger(__name__)


def load_plugin(folder: Path, task_name: str) -> tuple[ModelSpec, PluginSubmission]:
    """Validate the submission for ``task_name`` and build its ModelSpec, named ``submission:<name>``.

    Returns the spec and the ``submission`` section of its run records. Everything that can be
    checked without running submitted code (metadata, paths, weights hash, task) is checked first;
    then the model is built for the task and run on a batch of two blank images.
    """
    submission = load_submission(folder)
    submission.check_task(task_name)
    section = submission.to_record()  # hashed before any submitted code runs
    if submission.model.entry_point:
        spec, section["package"] = _entry_point_spec(submission)
    else:
        spec = _file_spec(submission)
    recipe = spec.recipe
    if submission.weights_file is not None:
        recipe = dataclasses.replace(recipe, pretrained_weights=str(submission.weights_file))
    spec = dataclasses.replace(spec, name=submission.model_name, recipe=recipe)
    _check_builds(spec, task_name)
    section["source_hash"] = spec.source_hash
    log.info("submission %s: model from %s (sha256 %s)", submission.name, spec.source_file, spec.source_hash[:12])
    return spec, PluginSubmission.from_dict(section, str(submission.folder / METADATA_FILE))


def _check_builds(spec: ModelSpec, task_name: str) -> None:
    """Build the model with the task's head and run it on blank batches of 2 and then 3 images, so a
    broken factory, or a model whose output shape depends on the batch size (which training's larger
    batches would only meet mid-run), stops here, named."""
    task = TASKS.get(task_name)
    recipe = spec.recipe
    size = recipe.image_size or task.native_image_size
    outputs = num_outputs(recipe, task.problem, len(task.labels))
    shapes: list[tuple[int, tuple[int, ...]]] = []
    batch = (2, recipe.in_chans, size, size)
    try:
        with torch.random.fork_rng(), torch.no_grad():
            torch.manual_seed(0)
            model = spec.build(ModelInputs(outputs, recipe.in_chans, size), recipe).eval()
            for n in (2, 3):  # two sizes: an output that ignores the batch dimension differs between them
                batch = (n, recipe.in_chans, size, size)
                shapes.append((n, tuple(model(torch.zeros(batch)).shape)))
    except BenchmarkError as exc:  # e.g. weights that do not fit: name the submission's file too
        raise SubmissionError(f"{spec.source_file}: {spec.name} cannot be built for task {task.name}: {exc}") from exc
    except Exception as exc:
        raise SubmissionError(
            f"{spec.source_file}: building {spec.name} for task {task.name} or running it on a batch of shape "
            f"{batch} failed ({type(exc).__name__}: {exc}); the factory gets ModelInputs(num_outputs={outputs}, "
            f"in_chans={recipe.in_chans}, image_size={size})"
        ) from exc
    for n, shape in shapes:
        if shape != (n, outputs):
            raise SubmissionError(
                f"{spec.source_file}: {spec.name} gives outputs of shape {shape} for a batch of {n}; task "
                f"{task.name} needs ({n}, {outputs}): use inputs.num_outputs for the last layer and keep the "
                "batch dimension as it comes (one row per image, whatever the batch size)"
            )


def _file_spec(submission: Submission) -> ModelSpec:
    entry = submission.model
    assert entry.file is not None
    module = _import_file(entry.file, f"cxr_submission_{submission.name.replace('-', '_')}")
    factory = getattr(module, entry.factory, None)
    recipe = getattr(module, entry.recipe, None)
    problems = []
    if not callable(factory):
        problems.append(f"model.factory {entry.factory!r} is not a function in {entry.file.name}")
    if not isinstance(recipe, Recipe):
        got = type(recipe).__name__ if recipe is not None else "nothing"
        problems.append(
            f"model.recipe {entry.recipe!r} in {entry.file.name} must be a benchmark.recipe.Recipe, got {got}"
        )
    if problems:
        raise SubmissionError(
            f"{entry.file}: " + "; ".join(problems) + ". model.py defines `def build_model(inputs: ModelInputs) -> "
            "nn.Module` and `RECIPE = Recipe(...)` (or the names given in submission.yaml)"
        )
    assert callable(factory) and isinstance(recipe, Recipe)
    card = entry.card or submission.description
    # the folder's own modules that model.py imports count as its source, as the project's do
    return ModelSpec(submission.model_name, factory, recipe, entry.family, card, source_folder=submission.folder)


def _import_file(path: Path, module_name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise SubmissionError(f"{path} cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise SubmissionError(
            f"{path} failed on import ({type(exc).__name__}: {exc}); fix the model file (it must import only "
            "packages installed here and write nothing on import)"
        ) from exc
    return module


def _entry_point_spec(submission: Submission) -> tuple[ModelSpec, dict[str, str | None]]:
    """The entry point's ModelSpec and the distribution that provides it (name, version)."""
    name = submission.model.entry_point
    found = entry_points(group=ENTRY_POINT_GROUP, name=name)
    if not found:
        raise SubmissionError(
            f"{submission.folder / METADATA_FILE}: no installed package declares model {name!r} in the entry-point "
            f"group {ENTRY_POINT_GROUP}; pip install the submission's package first"
        )
    entry_point = next(iter(found))
    try:
        loaded = entry_point.load()
    except Exception as exc:
        raise SubmissionError(f"entry point {name!r} ({entry_point.value}) failed on import: {exc}") from exc
    dist = entry_point.dist
    package = {"name": dist.name if dist else None, "version": dist.version if dist else None}
    return _as_spec(name, loaded), package
