"""The literature ledger (``leaderboard/literature.yaml``): published numbers as data.

Each ``Source`` is a paper or report (BibTeX, where in it the numbers are, where they were read);
each ``Claim`` is one published number or one per-label row of numbers, on one of our tasks, with
the test set and split as published and a comparability tag saying whether our estimate on the
task can be set beside it:

- ``same_test_images``: the published test images are exactly our task's test images.
- ``same_split``: the same official split (test list), but the images, labels or the unit scored
  differ (another resolution, per study instead of per image, another label release).
- ``different_split``: another split of the same data (a random split, the report's own validation
  split): the number is shown, never compared.
- ``different_data_version``: another version or subset of the data.

A published value keeps its printed form (``"0.91"``, ``"95%"``, ``"0.7680"``): the printed digits
are its precision, which the verdict uses (``benchmark.reference.verdicts``). Quote values in the
YAML file: an unquoted ``0.770`` is read as the float 0.77 and loses its last printed digit. A value
may also be a bound as printed (``">95%"``: "exceeded 95%") or a range over labels
(``"0.73-0.87"``); neither is ever compared with an estimate.

Loading validates everything a typo could break and raises ``ConfigError`` naming the file and the
entry: unknown task, metric, baseline, source or comparability tag, labels that are not the task's,
missing or unknown fields, values that are not probabilities.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import yaml

from baselines import registered_names
from benchmark.errors import ConfigError
from benchmark.metrics.registry import METRICS
from benchmark.tasks import TASKS
from benchmark.yaml_safe import load_bounded

LITERATURE_FILE = "literature.yaml"
COMPARABILITY_TAGS: dict[str, str] = {
    "same_test_images": "the published test images are exactly our task's test images",
    "same_split": "the same official split, with other images, labels or unit scored",
    "different_split": "another split of the same data",
    "different_data_version": "another version or subset of the data",
}
COMPARABLE_TAGS = frozenset({"same_test_images", "same_split"})  # claims a verdict may compare
PROVENANCES = {
    "seed_report": "a seed report in shared/seeds; every value is checked against its text by the tests",
    "primary": "read in the publication itself",
    "secondary": "read in a transcription of the publication's table (named in read_from), not the publication",
}
ValueKind = Literal["exact", "lower_bound", "range"]

_SOURCE_REQUIRED = ("key", "title", "bibtex", "where", "read_from", "provenance")
_SOURCE_OPTIONAL = ("seed_report", "note")
_CLAIM_REQUIRED = (
    "id",
    "task",
    "source",
    "model",
    "metric",
    "values",
    "test_set",
    "split",
    "image_size",
    "comparability",
    "reason",
)
_CLAIM_OPTIONAL = ("baseline", "metric_as_published", "quote", "position", "report", "note")
_NUMBER = r"(\d+(?:\.\d+)?)(%?)"
_EXACT = re.compile(rf"^{_NUMBER}$")
_LOWER_BOUND = re.compile(rf"^>\s*{_NUMBER}$")
_RANGE = re.compile(rf"^{_NUMBER}\s*[-–]\s*{_NUMBER}$")
_METRIC = re.compile(r"^([a-z_][a-z0-9_]*)(?:\[([A-Za-z0-9_]+)\])?$")
_SEED_REPORT = re.compile(r"^\d{3}$")


@dataclass(frozen=True)
class PublishedValue:
    """A number as printed. ``low``/``high`` are proportions (a percentage is divided by 100): equal for
    an exact value, the bound and 1 for a lower bound, the two ends of a range. ``half_unit`` is half
    the last printed digit, as a proportion (0.005 for "0.91" and for "95%")."""

    text: str
    kind: ValueKind
    low: float
    high: float
    half_unit: float
    numbers: tuple[str, ...]  # the numbers as printed, without sign or percent: ("95",) for ">95%"

    @property
    def value(self) -> float:
        """The printed value (exact values only)."""
        if self.kind != "exact":
            raise ValueError(f"{self.text!r} is a {self.kind.replace('_', ' ')}, not one value")
        return self.low


@dataclass(frozen=True)
class Source:
    """A paper or report. ``where``: the table, section or page holding the numbers; ``read_from``: where
    they were actually read (a URL, a repository path or a seed report file); ``seed_report``: the seed
    report number ("001") when the source is one of the seed reports."""

    key: str
    title: str
    bibtex: str
    where: str
    read_from: tuple[str, ...]
    provenance: str
    seed_report: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Claim:
    """One published number (``value``) or one row of per-label numbers (``per_label``, our label names).

    ``metric`` is our metric name (``auroc``, ``sensitivity`` for a published recall, ``auroc[findings14]``
    for a mean over a task's label subset); ``metric_as_published`` the source's own name. ``report`` is
    the seed report whose text holds ``quote`` (one snippet, or one per label) and ``position`` the
    1-based column of the value among the quote's cells (numbers, ``--`` and ``N/A``).
    """

    id: str
    task: str
    source: str
    model: str
    metric: str
    test_set: str
    split: str
    image_size: int | None  # None: the source does not state it
    comparability: str
    reason: str
    value: PublishedValue | None = None
    per_label: dict[str, PublishedValue] = field(default_factory=dict)
    baseline: str | None = None
    metric_as_published: str | None = None
    quote: str | dict[str, str] | None = None
    position: int | dict[str, int] | None = None
    report: str | None = None
    note: str | None = None

    @property
    def comparable(self) -> bool:
        """Whether the tag lets a verdict compare the claim (the metric may still be missing from ours)."""
        return self.comparability in COMPARABLE_TAGS

    def items(self) -> list[tuple[str | None, PublishedValue]]:
        """(label, value) pairs: one pair with label None for a single value, else one per label."""
        if self.value is not None:
            return [(None, self.value)]
        return list(self.per_label.items())

    def quote_for(self, label: str | None) -> str | None:
        if isinstance(self.quote, dict):
            return self.quote.get(label) if label is not None else None
        return self.quote

    def position_for(self, label: str | None) -> int | None:
        if isinstance(self.position, dict):
            return self.position.get(label) if label is not None else None
        return self.position


@dataclass(frozen=True)
class Ledger:
    path: Path
    sources: dict[str, Source]
    claims: tuple[Claim, ...]

    def claims_for(self, task_name: str) -> tuple[Claim, ...]:
        return tuple(claim for claim in self.claims if claim.task == task_name)

    def source_of(self, claim: Claim) -> Source:
        return self.sources[claim.source]


def default_ledger_path() -> Path:
    """The ledger shipped in the ``leaderboard`` package (a checkout or an installed wheel)."""
    import leaderboard  # the package's location only; nothing of the app is imported

    return Path(leaderboard.__file__).resolve().parent / LITERATURE_FILE


def load_ledger(path: str | Path | None = None) -> Ledger:
    """The ledger at ``path`` (default ``default_ledger_path()``), validated; ``ConfigError`` otherwise."""
    path = Path(path) if path is not None else default_ledger_path()
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(
            f"literature ledger {path} cannot be read ({type(exc).__name__}: {exc}); restore it from the "
            "repository or pass the path of a ledger file"
        ) from exc
    try:
        data = load_bounded(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"literature ledger {path} is not valid YAML: {exc}; fix the file") from exc
    if not isinstance(data, Mapping) or set(data) != {"sources", "claims"}:
        found = sorted(data) if isinstance(data, Mapping) else type(data).__name__
        raise ConfigError(
            f"literature ledger {path} must be a mapping with exactly the keys 'sources' and 'claims' "
            f"(found {found}); fix the file"
        )
    sources = _sources(data["sources"], path)
    claims = _claims(data["claims"], sources, path)
    return Ledger(path, sources, claims)


def claims_for(task_name: str, ledger: Ledger | None = None) -> tuple[Claim, ...]:
    """The claims on ``task_name`` (of ``ledger``, default the shipped one), in the file's order."""
    return (ledger or load_ledger()).claims_for(task_name)


def parse_value(raw: Any, where: str) -> PublishedValue:
    """A value as printed: "0.91", "95%", ">0.9" (a lower bound), "0.73-0.87" (a range over labels)."""
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise ConfigError(f'{where}: a value must be a number as printed, e.g. "0.91" or "95%", got {raw!r}')
    text = raw.strip() if isinstance(raw, str) else repr(raw)
    if match := _EXACT.match(text):
        number = _number(*match.groups(), where)
        return PublishedValue(text, "exact", number[0], number[0], number[1], (match.group(1),))
    if match := _LOWER_BOUND.match(text):
        number = _number(*match.groups(), where)
        return PublishedValue(text, "lower_bound", number[0], 1.0, number[1], (match.group(1),))
    if match := _RANGE.match(text):
        first, first_pct, second, second_pct = match.groups()
        low, high = _number(first, first_pct, where), _number(second, second_pct, where)
        if first_pct != second_pct or low[0] > high[0]:
            raise ConfigError(f"{where}: range {text!r} must go from low to high in one unit")
        return PublishedValue(text, "range", low[0], high[0], max(low[1], high[1]), (first, second))
    raise ConfigError(
        f'{where}: value {text!r} is not a number as printed ("0.91", "95%"), a lower bound (">0.9") '
        'or a range ("0.73-0.87")'
    )


def _number(digits: str, percent: str, where: str) -> tuple[float, float]:
    """(proportion, half of the last printed digit as a proportion) of a printed number."""
    exact = Decimal(digits)
    decimals = -int(exact.as_tuple().exponent)  # type: ignore[operator]
    if percent:
        exact, decimals = exact / 100, decimals + 2
    if not 0 <= exact <= 1:
        raise ConfigError(f"{where}: {digits}{percent} is not a proportion in [0, 1]")
    return float(exact), float(Decimal(5) * Decimal(10) ** -(decimals + 1))


def _fields(entry: Any, required: tuple[str, ...], optional: tuple[str, ...], where: str) -> dict[str, Any]:
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{where} must be a mapping of fields, got {type(entry).__name__}; fix the entry")
    missing = [name for name in required if name not in entry]
    unknown = sorted(set(entry) - set(required) - set(optional))
    if missing or unknown:
        problems = ([f"missing {missing}"] if missing else []) + ([f"unknown {unknown}"] if unknown else [])
        raise ConfigError(
            f"{where}: {'; '.join(problems)} fields; an entry has {list(required)} and may have {list(optional)}"
        )
    for name in required:
        if name != "image_size" and (entry[name] is None or entry[name] == ""):
            raise ConfigError(f"{where}: field {name!r} is empty; fill it in")
    return dict(entry)


def _text(value: Any, name: str, where: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{where}: {name} must be text, got {value!r}")
    return value


def _sources(raw: Any, path: Path) -> dict[str, Source]:
    if not isinstance(raw, list):
        raise ConfigError(f"literature ledger {path}: 'sources' must be a list of sources")
    sources: dict[str, Source] = {}
    for i, entry in enumerate(raw):
        key = entry.get("key") if isinstance(entry, Mapping) else None
        where = f"literature ledger {path}, sources[{i}] ({key or 'no key'})"
        spec = _fields(entry, _SOURCE_REQUIRED, _SOURCE_OPTIONAL, where)
        key = _text(spec["key"], "key", where)
        if key in sources:
            raise ConfigError(f"{where}: key {key!r} is used by another source; give each source its own key")
        if spec["provenance"] not in PROVENANCES:
            raise ConfigError(f"{where}: provenance {spec['provenance']!r} is not one of {sorted(PROVENANCES)}")
        read_from = spec["read_from"]
        if not isinstance(read_from, list) or not read_from or not all(isinstance(r, str) for r in read_from):
            raise ConfigError(f"{where}: read_from must list where the numbers were read (URLs, repository paths)")
        seed = spec.get("seed_report")
        if (seed is not None) != (spec["provenance"] == "seed_report") or (
            seed is not None and not _SEED_REPORT.match(str(seed))
        ):
            raise ConfigError(
                f'{where}: a seed report source has provenance seed_report and seed_report "NNN" (e.g. "001"); '
                "other sources have neither"
            )
        sources[key] = Source(
            key=key,
            title=_text(spec["title"], "title", where),
            bibtex=_text(spec["bibtex"], "bibtex", where),
            where=_text(spec["where"], "where", where),
            read_from=tuple(read_from),
            provenance=spec["provenance"],
            seed_report=seed,
            note=spec.get("note"),
        )
    return sources


def _claims(raw: Any, sources: dict[str, Source], path: Path) -> tuple[Claim, ...]:
    if not isinstance(raw, list):
        raise ConfigError(f"literature ledger {path}: 'claims' must be a list of claims")
    claims: list[Claim] = []
    seen: set[str] = set()
    for i, entry in enumerate(raw):
        claim_id = entry.get("id") if isinstance(entry, Mapping) else None
        where = f"literature ledger {path}, claims[{i}] ({claim_id or 'no id'})"
        claim = _claim(_fields(entry, _CLAIM_REQUIRED, _CLAIM_OPTIONAL, where), sources, where)
        if claim.id in seen:
            raise ConfigError(f"{where}: id {claim.id!r} is used by another claim; give each claim its own id")
        seen.add(claim.id)
        claims.append(claim)
    return tuple(claims)


def _claim(spec: dict[str, Any], sources: dict[str, Source], where: str) -> Claim:
    task_name = _text(spec["task"], "task", where)
    if task_name not in TASKS:
        raise ConfigError(f"{where}: task {task_name!r} is not a registered task; tasks: {sorted(TASKS.names())}")
    task = TASKS.get(task_name)
    source_key = _text(spec["source"], "source", where)
    if source_key not in sources:
        raise ConfigError(f"{where}: source {source_key!r} is not in the ledger's sources; add it or fix the key")
    tag = spec["comparability"]
    if tag not in COMPARABILITY_TAGS:
        raise ConfigError(f"{where}: comparability {tag!r} is not one of {list(COMPARABILITY_TAGS)}")
    metric = _metric(_text(spec["metric"], "metric", where), task.macro_subsets or {}, where)
    value, per_label = _values(spec["values"], task.labels, where)
    if per_label and "[" in metric:
        raise ConfigError(f"{where}: {metric} is a mean over labels; give it one value, not one per label")
    baseline = spec.get("baseline")
    if baseline is not None and baseline not in registered_names():
        raise ConfigError(f"{where}: baseline {baseline!r} is not a registered baseline model; leave it out or fix it")
    image_size = spec["image_size"]
    if image_size is not None and (isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1):
        raise ConfigError(f"{where}: image_size must be a side in pixels, or null when the source does not state it")
    report = spec.get("report", sources[source_key].seed_report)
    if report is not None and not _SEED_REPORT.match(str(report)):
        raise ConfigError(f'{where}: report must be a seed report number "NNN", got {report!r}')
    labels = [label for label, _ in ([(None, value)] if value else per_label.items())]
    quote = _per_label_field(spec.get("quote"), str, labels, "quote", where)
    position = _per_label_field(spec.get("position"), int, labels, "position", where)
    if report is not None and quote is None:
        raise ConfigError(f"{where}: a claim read from seed report {report} needs the quote its numbers are in")
    return Claim(
        id=_text(spec["id"], "id", where),
        task=task_name,
        source=source_key,
        model=_text(spec["model"], "model", where),
        metric=metric,
        test_set=_text(spec["test_set"], "test_set", where),
        split=_text(spec["split"], "split", where),
        image_size=image_size,
        comparability=tag,
        reason=_text(spec["reason"], "reason", where),
        value=value,
        per_label=per_label,
        baseline=baseline,
        metric_as_published=spec.get("metric_as_published"),
        quote=quote,
        position=position,
        report=None if report is None else str(report),
        note=spec.get("note"),
    )


def _metric(metric: str, subsets: Mapping[str, Any], where: str) -> str:
    match = _METRIC.match(metric)
    if not match or match.group(1) not in METRICS:
        raise ConfigError(f"{where}: metric {metric!r} is not one of ours {sorted(METRICS.names())} (or NAME[subset])")
    if match.group(2) is not None and match.group(2) not in subsets:
        raise ConfigError(f"{where}: {metric!r} names a label subset the task does not have; subsets: {list(subsets)}")
    return metric


def _values(raw: Any, labels: tuple[str, ...], where: str) -> tuple[PublishedValue | None, dict[str, PublishedValue]]:
    if not isinstance(raw, Mapping):
        return parse_value(raw, f"{where}, values"), {}
    if not raw:
        raise ConfigError(f"{where}: values is empty; give a value or one per label")
    unknown = [label for label in raw if label not in labels]
    if unknown:
        raise ConfigError(f"{where}: labels {unknown} are not the task's labels {list(labels)}; use the task's names")
    return None, {label: parse_value(v, f"{where}, values[{label!r}]") for label, v in raw.items()}


def _per_label_field(raw: Any, kind: type, labels: list[Any], name: str, where: str) -> Any:
    """A field given once for the claim or once per label (the labels of ``values``)."""
    if raw is None:
        return None
    if isinstance(raw, Mapping):
        if labels == [None] or set(raw) != set(labels):
            raise ConfigError(f"{where}: {name} per label must name exactly the labels of values {labels}")
        values = list(raw.values())
    else:
        values = [raw]
    if not all(isinstance(v, kind) and not isinstance(v, bool) and (kind is not int or v >= 1) for v in values):
        what = "a column number from 1" if kind is int else f"a {kind.__name__}"
        raise ConfigError(f"{where}: {name} must be {what}, once or once per label; got {raw!r}")
    return dict(raw) if isinstance(raw, Mapping) else raw


__all__ = [
    "COMPARABILITY_TAGS",
    "COMPARABLE_TAGS",
    "LITERATURE_FILE",
    "PROVENANCES",
    "Claim",
    "Ledger",
    "PublishedValue",
    "Source",
    "claims_for",
    "default_ledger_path",
    "load_ledger",
    "parse_value",
]
