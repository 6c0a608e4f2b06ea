"""The run record, ``<run dir>/record.json``, as a typed value: what a result is a result of.

``RunRecord`` is the only way a record is built, read or written. Its fields and sections keep
the names and nesting records have always had on disk, so ``to_json(from_json(text))`` gives the
same JSON back. Reading checks every field against its type: a record with a missing, unknown or
mistyped field, or of another ``schema_version``, is refused with a ``RecordError`` naming the
file. A field with ``_ABSENT_WHEN_NONE`` metadata is left out of the JSON when it is None (a
section that does not apply: a multilabel task's confusion matrix, a baseline's submission).

This module is light on purpose (no torch, no pandas): the leaderboard and every command import it.
"""

from __future__ import annotations

import dataclasses
import json
import numbers
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin, get_type_hints

from benchmark.errors import RecordError

SCHEMA_VERSION = 1
RECORD_FILE = "record.json"

# a registered model's run, a submission's, or a run of the shipped reference board (leaderboard/reference.yaml)
Origin = Literal["baseline", "submission", "reference"]
# what RunRequest.extra and benchmark.results.run_sections may add
CALLER_SECTIONS = ("submission", "tuning", "distributed", "reproduces", "external", "expert", "subgroups")
_OMIT = "absent_when_none"
_ABSENT_WHEN_NONE = {_OMIT: True}  # field metadata: left out of the JSON, rather than null, when None
_S = TypeVar("_S", bound="_Section")


class _Invalid(Exception):
    """A value that does not fit its field; the message names the field's path (``task.labels[2]``)."""


class _Section:
    """JSON conversion shared by the record and its sections (dataclasses)."""

    @classmethod
    def from_dict(cls: type[_S], data: Any, origin: str) -> _S:
        """``data`` (JSON-shaped) checked against the fields' types; ``origin`` names it in the error."""
        try:
            return _decode_fields(cls, data, "")
        except _Invalid as exc:
            raise RecordError(f"{origin} does not fit a run record's {cls.__name__}: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        """The JSON-shaped dict (tuples as lists, absent sections left out)."""
        return _encode(self)


@dataclass(frozen=True, kw_only=True)
class MetricCI(_Section):
    """A metric's value with its bootstrap CI; ``n_degenerate`` counts resamples where it was undefined."""

    value: float
    ci_low: float
    ci_high: float
    n_degenerate: int


@dataclass(frozen=True, kw_only=True)
class BootstrapSettings(_Section):
    """How the CIs were drawn: ``unit`` is ``patient`` when images share patients, else ``image``."""

    n_resamples: int
    seed: int
    unit: str
    n_units: int
    method: str
    level: float


@dataclass(frozen=True, kw_only=True)
class ConfusionMatrix(_Section):
    """Rows true class, columns predicted class (binary and multiclass tasks)."""

    labels: tuple[str, ...]
    matrix: tuple[tuple[int, ...], ...]


@dataclass(frozen=True, kw_only=True)
class Evaluation(_Section):
    """A task's evaluation of a Predictions table: the part of a record ``Task.evaluate`` gives."""

    metrics: dict[str, MetricCI]
    bootstrap: BootstrapSettings
    thresholds: dict[str, float]
    confusion_matrix: ConfusionMatrix | None = field(default=None, metadata=_ABSENT_WHEN_NONE)


@dataclass(frozen=True, kw_only=True)
class SplitReportSection(_Section):
    """The split as it was read: counts and the images removed or kept as duplicates or unreadable."""

    counts: dict[str, int]
    removed_cross_split_duplicates: tuple[dict[str, Any], ...]
    within_split_duplicates: tuple[dict[str, Any], ...]
    kept_cross_split_duplicates: tuple[dict[str, Any], ...]
    skipped_unreadable: tuple[dict[str, Any], ...]


@dataclass(frozen=True, kw_only=True)
class TaskSection(_Section):
    """What the result is a result on."""

    name: str
    version: int
    hash: str
    split_sha256: str
    patients: dict[str, int]
    primary_metric: str
    problem: str
    labels: tuple[str, ...]
    data_root: str
    split_report: SplitReportSection


@dataclass(frozen=True, kw_only=True)
class ModelInput(_Section):
    image_size: int
    in_chans: int


@dataclass(frozen=True, kw_only=True)
class ModelSection(_Section):
    """The model; a prediction submission has no source, parameters or input (None)."""

    name: str
    family: str
    source_file: str | None
    source_hash: str | None
    parameters: int | None
    input: ModelInput | None
    # sha256 of every file source_hash covers, by name relative to its root (records since the hash covered imports)
    sources: dict[str, str] | None = field(default=None, metadata=_ABSENT_WHEN_NONE)


@dataclass(frozen=True, kw_only=True)
class Weights(_Section):
    """What the model started from: ``init`` is ``random init`` or ``pretrained`` (with the file and its hash)."""

    init: str
    file: str | None = field(default=None, metadata=_ABSENT_WHEN_NONE)
    sha256: str | None = field(default=None, metadata=_ABSENT_WHEN_NONE)


@dataclass(frozen=True, kw_only=True)
class TrainingSection(_Section):
    history: tuple[dict[str, Any], ...]  # one entry per epoch: losses, validation scores, lr, seconds
    best_epoch: int
    epochs_run: int
    stopped_early: bool
    resumed_from_epoch: int | None
    # the training code (benchmark.training.code): its hash and each file's sha256 (records since it was recorded)
    code_hash: str | None = field(default=None, metadata=_ABSENT_WHEN_NONE)
    code: dict[str, str] | None = field(default=None, metadata=_ABSENT_WHEN_NONE)


@dataclass(frozen=True, kw_only=True)
class GitSection(_Section):
    """The commit of the checkout that ran; None when it was not a git checkout."""

    commit: str | None
    dirty: bool | None


@dataclass(frozen=True, kw_only=True)
class HardwareSection(_Section):
    platform: str
    python: str
    cpu: str
    torch_threads: int
    device: str
    gpu: str | None = field(default=None, metadata=_ABSENT_WHEN_NONE)  # CUDA devices only
    cuda: str | None = field(default=None, metadata=_ABSENT_WHEN_NONE)


@dataclass(frozen=True, kw_only=True)
class Durations(_Section):
    """Seconds per stage; a prediction submission trains nothing (no ``train``)."""

    data: float
    train: float | None = field(default=None, metadata=_ABSENT_WHEN_NONE)
    evaluate: float
    total: float


@dataclass(frozen=True, kw_only=True)
class PredictionsSubmission(_Section):
    """A predictions file scored by ``benchmark submit --predictions`` (the model ran elsewhere)."""

    kind: Literal["predictions"]
    name: str
    file: str
    sha256: str
    val_file: str | None
    val_sha256: str | None
    thresholds_from: str


@dataclass(frozen=True, kw_only=True)
class SubmittedWeights(_Section):
    file: str
    sha256: str | None


@dataclass(frozen=True, kw_only=True)
class PackageInfo(_Section):
    """The installed distribution that provides an entry-point model."""

    name: str | None
    version: str | None


@dataclass(frozen=True, kw_only=True)
class PluginSubmission(_Section):
    """A submission folder's model run here: a model file in the folder (``plugin``) or an installed
    package's entry point (``entry_point``), with the metadata of its submission.yaml."""

    kind: Literal["plugin", "entry_point"]
    name: str
    authors: tuple[str, ...]
    contact: str
    paper: str | None
    url: str | None
    licence: str
    tasks: tuple[str, ...]
    extra_training_data: tuple[str, ...]
    folder: str
    metadata_sha256: str
    model_file: str | None
    model_sha256: str | None
    entry_point: str | None
    weights: SubmittedWeights | None
    package: PackageInfo | None = field(default=None, metadata=_ABSENT_WHEN_NONE)  # entry points only
    source_hash: str


SubmissionSection = PredictionsSubmission | PluginSubmission


@dataclass(frozen=True, kw_only=True)
class TuningSection(_Section):
    """``benchmark tune``: the search and every trial (``best_<metric>`` per trial) behind the chosen overrides."""

    samples: int
    scheduler: str
    metric: str
    mode: str
    search_space: dict[str, tuple[Any, ...]]
    best_config: dict[str, Any]
    trials: tuple[dict[str, Any], ...]


@dataclass(frozen=True, kw_only=True)
class DistributedSection(_Section):
    """A data-parallel run on Ray Train."""

    workers: int
    gpus_per_worker: float
    world_size: int
    backend: str


@dataclass(frozen=True, kw_only=True)
class RunRecord(_Section):
    """One run. ``recipe``, ``weights`` and ``training`` are None for a prediction submission;
    ``files`` (sha256 of every file of the run directory) is set when the run is published;
    ``submission``, ``tuning``, ``distributed`` and ``reproduces`` (the run id a re-run reproduces)
    only where they apply."""

    schema_version: int
    run_id: str
    created_at: str  # ISO 8601, UTC
    origin: Origin
    run_key: str  # identity of the inputs (task hash, model code, recipe, seed): same key, same training
    task: TaskSection
    model: ModelSection
    weights: Weights | None
    recipe: dict[str, Any] | None
    overrides: dict[str, Any]
    seed: int
    n_test: int
    metrics: dict[str, MetricCI]
    bootstrap: BootstrapSettings
    thresholds: dict[str, float]
    confusion_matrix: ConfusionMatrix | None = field(default=None, metadata=_ABSENT_WHEN_NONE)
    training: TrainingSection | None
    versions: dict[str, str]
    git: GitSection
    hardware: HardwareSection
    durations_s: Durations
    files: dict[str, str] | None = field(default=None, metadata=_ABSENT_WHEN_NONE)
    submission: SubmissionSection | None = field(default=None, metadata=_ABSENT_WHEN_NONE)
    tuning: TuningSection | None = field(default=None, metadata=_ABSENT_WHEN_NONE)
    distributed: DistributedSection | None = field(default=None, metadata=_ABSENT_WHEN_NONE)
    reproduces: str | None = field(default=None, metadata=_ABSENT_WHEN_NONE)
    # scored after the test set, where the task has them (benchmark.results.run_sections): external test
    # sets by name (benchmark.external), Google's expert labels (benchmark.stats.expert_labels), subgroups
    # by sex, age band and view (benchmark.stats.subgroups)
    external: dict[str, Any] | None = field(default=None, metadata=_ABSENT_WHEN_NONE)
    expert: dict[str, Any] | None = field(default=None, metadata=_ABSENT_WHEN_NONE)
    subgroups: dict[str, Any] | None = field(default=None, metadata=_ABSENT_WHEN_NONE)

    @classmethod
    def from_dict(cls, data: Any, origin: str) -> RunRecord:
        """A record read from ``origin`` (its path), checked field by field and for its schema version."""
        if not isinstance(data, Mapping):
            raise RecordError(_unreadable(origin, f"a JSON {type(data).__name__}, not an object"))
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise RecordError(
                f"{origin} has schema_version {version!r}, and this CXR-Bench reads version {SCHEMA_VERSION}: read it "
                "with the CXR-Bench version that wrote it (its record names it under versions), re-run it with this "
                "one, or move its folder out of the results directory"
            )
        try:
            return _decode_fields(cls, data, "")
        except _Invalid as exc:
            raise RecordError(_unreadable(origin, str(exc))) from None

    @classmethod
    def from_json(cls, text: str, origin: str) -> RunRecord:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise RecordError(_unreadable(origin, f"{type(exc).__name__}: {exc}")) from exc
        return cls.from_dict(data, origin)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, default=str) + "\n"

    @classmethod
    def load(cls, path: Path) -> RunRecord:
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise RecordError(_unreadable(str(path), f"{type(exc).__name__}: {exc}")) from exc
        return cls.from_json(text, str(path))

    def write(self, path: Path) -> None:
        Path(path).write_text(self.to_json())

    def with_sections(self, sections: Mapping[str, Any]) -> RunRecord:
        """This record with the sections a run's caller adds (``CALLER_SECTIONS``, as section objects or
        their JSON-shaped dicts), each checked against its field."""
        hints = _hints(RunRecord)
        unknown = sorted(set(sections) - set(CALLER_SECTIONS))
        if unknown:
            raise RecordError(f"run record sections {unknown} do not exist; a run's caller adds only {CALLER_SECTIONS}")
        try:
            decoded = {name: _decode(value, hints[name], name) for name, value in sections.items()}
        except _Invalid as exc:
            raise RecordError(f"a section added to run {self.run_id} does not fit the run record: {exc}") from None
        return dataclasses.replace(self, **decoded)

    @property
    def primary(self) -> MetricCI | None:
        """The task's primary metric (None when the record has no value for it)."""
        return self.metrics.get(self.task.primary_metric)

    def thresholds_list(self, labels: Sequence[str] | None = None) -> list[float] | None:
        """The thresholds in the order of ``labels`` (default the task's); None when the record has none."""
        if not self.thresholds:
            return None
        return [float(self.thresholds[label]) for label in (labels if labels is not None else self.task.labels)]


def _unreadable(origin: str, problem: str) -> str:
    return (
        f"{origin} is not a readable run record ({problem}); run directories are written whole, so this one was "
        "edited or damaged: restore it, or move its folder out of the results directory"
    )


# --- conversion between JSON-shaped values and the typed sections -------------------------------


@cache
def _hints(cls: type) -> dict[str, Any]:
    """The type of each field of a section (annotations resolved once)."""
    hints = get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


@cache
def _omittable(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in dataclasses.fields(cls) if f.metadata.get(_OMIT))


def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        omit = _omittable(type(value))
        return {
            f.name: _encode(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if not (f.name in omit and getattr(value, f.name) is None)
        }
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    return value


def _path(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _decode_fields(cls: type[_S], value: Any, where: str) -> _S:
    if isinstance(value, cls):
        return value
    fields = _hints(cls)
    name = where or ("the record" if cls is RunRecord else "the section")
    if not isinstance(value, Mapping):
        raise _Invalid(f"{name} is a {type(value).__name__}; expected an object with fields {list(fields)}")
    unknown = sorted(str(k) for k in set(value) - set(fields))
    missing = [k for k in fields if k not in value and k not in _omittable(cls)]
    if unknown or missing:
        found = [f"missing field(s) {missing}"] * bool(missing) + [f"unknown field(s) {unknown}"] * bool(unknown)
        raise _Invalid(f"{name} has {' and '.join(found)}")
    return cls(**{k: _decode(v, fields[k], _path(where, k)) for k, v in value.items()})


def _decode(value: Any, hint: Any, where: str) -> Any:
    """``value`` as the type ``hint``: sections from dicts, tuples from lists; anything else raises _Invalid."""
    if hint is Any:
        return value
    origin, args = get_origin(hint), get_args(hint)
    if origin is typing.Union or origin is types.UnionType:
        options = [a for a in args if a is not type(None)]
        if value is None:
            if len(options) < len(args):
                return None
            raise _Invalid(f"{where} is null")
        if len(options) > 1:
            return _decode_fields(_by_kind(value, options, where), value, where)
        return _decode(value, options[0], where)
    if value is None:
        raise _Invalid(f"{where} is null; expected {_describe(hint)}")
    if origin is Literal:
        if value not in args:
            raise _Invalid(f"{where} is {value!r}; expected one of {list(args)}")
        return value
    if dataclasses.is_dataclass(hint):
        return _decode_fields(hint, value, where)
    if origin is dict:
        if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
            raise _Invalid(f"{where} is {_shown(value)}; expected an object")
        return {k: _decode(v, args[1], f"{where}.{k}") for k, v in value.items()}
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise _Invalid(f"{where} is {_shown(value)}; expected a list")
        return tuple(_decode(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
    return _scalar(value, hint, where)


def _scalar(value: Any, hint: type, where: str) -> Any:
    """str and bool as they are; numbers (numpy's too) as int, or as float where an int also fits."""
    if hint is bool or hint is str:
        fits = isinstance(value, hint)
    elif isinstance(value, bool) or not isinstance(value, numbers.Real):
        fits = False
    elif hint is int:
        fits = isinstance(value, numbers.Integral)
        value = int(value) if fits else value
    else:
        fits = hint is float
        value = value if type(value) in (int, float) else float(value)
    if not fits:
        raise _Invalid(f"{where} is {_shown(value)}; expected {_describe(hint)}")
    return value


def _by_kind(value: Any, options: list[type], where: str) -> type:
    """Which of several sections (the submission kinds) ``value`` is, by its ``kind``."""
    for option in options:
        if isinstance(value, option):
            return option
    kinds = {kind: option for option in options for kind in get_args(_hints(option)["kind"])}
    kind = value.get("kind") if isinstance(value, Mapping) else None
    if kind not in kinds:
        raise _Invalid(f"{where}.kind is {kind!r}; expected one of {list(kinds)}")
    return kinds[kind]


def _shown(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


def _describe(hint: Any) -> str:
    return getattr(hint, "__name__", str(hint))


__all__ = [
    "CALLER_SECTIONS",
    "RECORD_FILE",
    "SCHEMA_VERSION",
    "BootstrapSettings",
    "ConfusionMatrix",
    "DistributedSection",
    "Durations",
    "Evaluation",
    "GitSection",
    "HardwareSection",
    "MetricCI",
    "ModelInput",
    "ModelSection",
    "Origin",
    "PackageInfo",
    "PluginSubmission",
    "PredictionsSubmission",
    "RunRecord",
    "SplitReportSection",
    "SubmissionSection",
    "SubmittedWeights",
    "TaskSection",
    "TrainingSection",
    "TuningSection",
    "Weights",
]
