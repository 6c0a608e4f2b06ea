"""External test sets a task declares (``external:`` in ``tasks/<name>.yaml``), validated and hashed.

An external set is another dataset, read by one of the existing source adapters
(``benchmark.data.sources``), whose images a trained model of the task is scored on. Its classes
(binary and multiclass tasks) or label columns (multilabel tasks) are mapped onto the task's labels by
``label_map``; what is left unmapped is left out and counted. Form::

    external:
      <name>:
        description: ...                  # prose, not hashed
        source: {kind: kermany, folder: chest_xray, parent: kermany, split_folders: {test: test}}
        source_labels: [PNEUMONIA]        # the label columns the adapter is asked for
        source_problem: binary            # default: multilabel for a multilabel task, else by the labels' count
        official_split: test              # which of the source's official splits is scored
        classes:                          # binary/multiclass tasks: how an image gets its class, first match wins
          - {class: NORMAL, where: {PNEUMONIA: 0}}
          - {class: viral, where: {PNEUMONIA: 1}, name_contains: _virus_}
        label_map: {NORMAL: Normal, viral: Viral Pneumonia, bacterial: null}   # class -> task class, or null
      <name>:
        not_external: <reason>            # declared, never scored: e.g. the same source as the task

Without ``classes`` a multiclass source's image has the class of its one-hot column. For a binary task the
map's targets are its class names (negative, positive); for a multilabel task ``label_map`` maps source
columns onto task labels, and only the mapped labels are scored. The set's own hash (``spec_hash``) is
stored with every result; the task hash leaves ``external`` out, so declaring a set changes no result.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from benchmark.data.sources import SOURCES
from benchmark.errors import ConfigError, DatasetNotFoundError, ReadOnlyStoreError
from benchmark.metrics.registry import PROBLEMS

PROSE_KEYS = frozenset({"description"})
SCORED_KEYS = frozenset({"source", "source_labels", "source_problem", "official_split", "classes", "label_map"})
REQUIRED_KEYS = frozenset({"source", "official_split", "label_map"})
RULE_KEYS = frozenset({"class", "where", "name_contains"})
UNMATCHED = "(no rule matched)"


class ExternalSetError(ConfigError):
    """An external set declared wrongly, or asked for by a name the task does not declare."""


class ExternalDataMissingError(DatasetNotFoundError):
    """An external set's files are not under the data root."""


class RunWithoutWeightsError(ConfigError):
    """The run has no model weights to score an external set with."""


class ReferenceRunError(ReadOnlyStoreError):
    """A shipped reference run is read-only: nothing is derived beside it."""


@dataclass(frozen=True)
class ClassRule:
    """An image whose ``where`` columns equal the given values (and whose id contains ``name_contains``)
    has class ``name``."""

    name: str
    where: tuple[tuple[str, Any], ...] = ()
    name_contains: str | None = None


@dataclass(frozen=True)
class ExternalSet:
    name: str
    task_name: str
    raw: dict[str, Any]  # as declared: what spec_hash hashes (prose left out)
    description: str = ""
    not_external: str | None = None
    source: dict[str, Any] | None = None
    source_labels: tuple[str, ...] = ()
    source_problem: str = ""
    official_split: str = ""
    classes: tuple[ClassRule, ...] = ()
    label_map: dict[str, str | None] | None = None

    @property
    def scored(self) -> bool:
        return self.not_external is None

    @property
    def spec_hash(self) -> str:
        """sha256 of the declaration without its prose: results of different external specs never mix."""
        spec = {k: v for k, v in self.raw.items() if k not in PROSE_KEYS}
        return hashlib.sha256(json.dumps(spec, sort_keys=True, separators=(",", ":")).encode()).hexdigest()

    @property
    def how_to_get(self) -> str:
        return str((self.source or {}).get("how_to_get", "obtain the dataset as its publisher distributes it"))


def binary_class_names(
    labels: tuple[str, ...] | list[str], class_names: tuple[str, ...] | list[str]
) -> tuple[str, str]:
    """(negative, positive) class names of a binary task."""
    return (class_names[0], class_names[1]) if len(class_names) == 2 else ("negative", labels[0])


def parse_external_set(
    name: str,
    raw: Any,
    problem: str,
    labels: tuple[str, ...] | list[str],
    class_names: tuple[str, ...] | list[str],
    origin: str,
    task_name: str = "",
) -> ExternalSet:
    """One declared set, checked against the task's problem and labels; every problem names ``origin``."""
    where = f"{origin}: external.{name}"
    if not isinstance(raw, dict):
        raise ExternalSetError(f"{where} must be a mapping (source, official_split, label_map...) or not_external")
    if "not_external" in raw:
        extra = sorted(set(raw) - {"not_external"} - PROSE_KEYS)
        reason = raw["not_external"]
        if extra or not isinstance(reason, str) or not reason.strip():
            raise ExternalSetError(f"{where}: `not_external: <reason>` takes a non-empty reason and no other keys")
        return ExternalSet(name, task_name, dict(raw), str(raw.get("description", "")), not_external=reason.strip())
    unknown = sorted(set(raw) - SCORED_KEYS - PROSE_KEYS)
    missing = sorted(REQUIRED_KEYS - set(raw))
    if unknown or missing:
        raise ExternalSetError(
            f"{where}: missing keys {missing}, unknown keys {unknown} (known: {sorted(SCORED_KEYS | PROSE_KEYS)})"
        )
    source = raw["source"]
    if not isinstance(source, dict) or source.get("kind") not in SOURCES:
        raise ExternalSetError(f"{where}.source.kind must be one of {SOURCES.names()}")
    label_map = raw["label_map"]
    if not isinstance(label_map, dict) or not label_map:
        raise ExternalSetError(f"{where}.label_map must map the external set's classes or labels onto the task's")
    multilabel = problem == "multilabel"
    source_labels = tuple(raw.get("source_labels", list(label_map) if multilabel else []))
    if not source_labels or not all(isinstance(s, str) for s in source_labels):
        raise ExternalSetError(f"{where}.source_labels must list the label columns the source adapter gives")
    default_problem = "multilabel" if multilabel else ("binary" if len(source_labels) == 1 else "multiclass")
    source_problem = raw.get("source_problem", default_problem)
    if source_problem not in PROBLEMS:
        raise ExternalSetError(f"{where}.source_problem must be one of {PROBLEMS}, got {source_problem!r}")
    if not isinstance(raw["official_split"], str):
        raise ExternalSetError(f"{where}.official_split must name one official split (e.g. test)")
    rules = _rules(raw.get("classes"), where, multilabel)
    targets = _targets(problem, labels, class_names)
    _check_map(label_map, targets, rules, source_labels, source_problem, multilabel, where)
    return ExternalSet(
        name=name,
        task_name=task_name,
        raw=dict(raw),
        description=str(raw.get("description", "")),
        source=dict(source),
        source_labels=source_labels,
        source_problem=source_problem,
        official_split=raw["official_split"],
        classes=rules,
        label_map=dict(label_map),
    )


def _rules(raw: Any, where: str, multilabel: bool) -> tuple[ClassRule, ...]:
    if raw is None:
        return ()
    if multilabel:
        raise ExternalSetError(f"{where}.classes: a multilabel task maps label columns (label_map), not classes")
    if not isinstance(raw, list) or not raw:
        raise ExternalSetError(f"{where}.classes must be a list of rules {{class, where, name_contains}}")
    rules = []
    for k, rule in enumerate(raw):
        if not isinstance(rule, dict) or "class" not in rule or set(rule) - RULE_KEYS:
            raise ExternalSetError(
                f"{where}.classes[{k}] must be {{class: NAME, where: {{COLUMN: VALUE}}, name_contains: TEXT}}"
            )
        conditions = rule.get("where") or {}
        if not isinstance(conditions, dict):
            raise ExternalSetError(f"{where}.classes[{k}].where must map columns to values")
        contains = rule.get("name_contains")
        if contains is not None and not isinstance(contains, str):
            raise ExternalSetError(f"{where}.classes[{k}].name_contains must be text")
        rules.append(ClassRule(str(rule["class"]), tuple(conditions.items()), contains))
    return tuple(rules)


def _targets(
    problem: str, labels: tuple[str, ...] | list[str], class_names: tuple[str, ...] | list[str]
) -> tuple[str, ...]:
    """What a label map may name on the task's side."""
    if problem == "binary":
        return (*binary_class_names(labels, class_names), labels[0])
    return tuple(labels)


def _check_map(
    label_map: dict[str, Any],
    targets: tuple[str, ...],
    rules: tuple[ClassRule, ...],
    source_labels: tuple[str, ...],
    source_problem: str,
    multilabel: bool,
    where: str,
) -> None:
    for external, target in label_map.items():
        if target is not None and target not in targets:
            raise ExternalSetError(
                f"{where}.label_map maps {external!r} onto {target!r}, which is not a label of this task: use one of "
                f"{list(dict.fromkeys(targets))}, or null to leave {external!r} out"
            )
    if multilabel:
        unknown = sorted(set(label_map) - set(source_labels))
        named = [t for t in label_map.values() if t is not None]
        if unknown:
            raise ExternalSetError(
                f"{where}.label_map names source labels {unknown} not in source_labels {list(source_labels)}"
            )
        if len(named) != len(set(named)):
            raise ExternalSetError(f"{where}.label_map maps two source labels onto one task label: {named}")
        if not named:
            raise ExternalSetError(f"{where}.label_map maps no source label onto a task label: nothing would be scored")
        return
    if rules:
        known = {rule.name for rule in rules}
    elif source_problem == "multiclass":
        known = set(source_labels)
    else:
        raise ExternalSetError(
            f"{where}: a {source_problem} source needs `classes` rules saying how an image gets its class"
        )
    unknown = sorted(set(label_map) - known)
    if unknown:
        raise ExternalSetError(
            f"{where}.label_map names classes {unknown} that the external set does not have ({sorted(known)})"
        )
    if all(target is None for target in label_map.values()):
        raise ExternalSetError(f"{where}.label_map leaves every class out: nothing would be scored")


def check_external_sets(
    raw: Any, problem: str, labels: list[str], class_names: list[str] | tuple[str, ...], origin: str
) -> None:
    """Validate a task file's ``external`` field (called when the task file is loaded)."""
    if not isinstance(raw, dict) or not raw:
        raise ExternalSetError(f"{origin}: external must map set names to their declarations")
    for name, spec in raw.items():
        if not isinstance(name, str) or not name.replace("_", "").replace("-", "").isalnum():
            raise ExternalSetError(f"{origin}: external set name {name!r} must use letters, digits, '_' and '-'")
        parse_external_set(name, spec, problem, labels, class_names, origin)


def external_sets(task: Any) -> dict[str, ExternalSet]:
    """The task's declared sets by name (scored ones and those declared not external)."""
    origin = f"task {task.name}"
    return {
        name: parse_external_set(name, raw, task.problem, task.labels, task.class_names, origin, task.name)
        for name, raw in (task.external or {}).items()
    }


def external_set(task: Any, name: str) -> ExternalSet:
    """One declared, scorable set; refused with the task's names when unknown or declared not external."""
    declared = external_sets(task)
    if name not in declared:
        names = sorted(declared) or ["(none)"]
        raise ExternalSetError(
            f"task {task.name} declares no external set {name!r}; its external sets: {', '.join(names)} "
            f"(declare one under `external:` in tasks/{task.name}.yaml)"
        )
    found = declared[name]
    if found.not_external is not None:
        raise ExternalSetError(f"{name!r} is declared not external for task {task.name}: {found.not_external}")
    return found
