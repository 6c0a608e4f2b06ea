"""The reference plan (``leaderboard/reference.yaml``): which baselines and seeds the shipped board holds.

Data, not code: `benchmark sweep --plan FILE` turns it into run requests, in the file's order, for the
tasks whose data is present; the sweep skips runs already recorded, so a stopped campaign resumes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from benchmark.errors import ConfigError
from benchmark.yaml_safe import load_bounded

PLAN_FILE = "reference.yaml"
_ENTRY_KEYS = {"task", "models", "seeds", "overrides", "note"}
_AUDIT_KEYS = {"task", "model", "seeds", "note"}


def default_plan_path() -> Path:
    """The plan shipped in the ``leaderboard`` package (a checkout or an installed wheel)."""
    import leaderboard

    return Path(leaderboard.__file__).resolve().parent / PLAN_FILE


@dataclass(frozen=True)
class PlanEntry:
    """Runs of ``models`` on ``task`` for each of ``seeds``, by each model's recipe plus ``overrides``."""

    task: str
    models: tuple[str, ...]
    seeds: tuple[int, ...]
    overrides: dict[str, Any] = field(default_factory=dict)
    note: str | None = None


@dataclass(frozen=True)
class PlanAudit:
    """``benchmark audit TASK --model MODEL --seeds ...`` on the board (its normal runs are the plan's)."""

    task: str
    model: str
    seeds: tuple[int, ...]
    note: str | None = None


@dataclass(frozen=True)
class ReferencePlan:
    path: Path
    results: Path  # where the board's runs are published (resolved against the plan's folder)
    entries: tuple[PlanEntry, ...]
    audits: tuple[PlanAudit, ...] = ()

    @property
    def tasks(self) -> list[str]:
        """The plan's tasks, in order of first appearance."""
        return list(dict.fromkeys(entry.task for entry in self.entries))

    def runs(self, tasks: Iterable[str] | None = None) -> list[tuple[str, str, int, dict[str, Any]]]:
        """(task, model, seed, overrides) of every planned run, in plan order, once each."""
        wanted = set(tasks) if tasks is not None else None
        planned: dict[tuple[str, str, int], dict[str, Any]] = {}
        for entry in self.entries:
            if wanted is not None and entry.task not in wanted:
                continue
            for model in entry.models:
                for seed in entry.seeds:
                    planned.setdefault((entry.task, model, seed), entry.overrides)
        return [(task, model, seed, overrides) for (task, model, seed), overrides in planned.items()]


def load_plan(path: Path | None = None) -> ReferencePlan:
    """The plan at ``path`` (default: the shipped one), checked against the task and model registries."""
    path = Path(path) if path is not None else default_plan_path()
    try:
        raw = load_bounded(path.read_text())
    except OSError as exc:
        raise ConfigError(f"reference plan {path} cannot be read ({exc}); pass --plan FILE") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"reference plan {path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("entries"), list) or not isinstance(raw.get("results"), str):
        raise ConfigError(f"reference plan {path}: expected a mapping with `results: FOLDER` and `entries: [...]`")
    entries = tuple(_entry(item, f"{path}: entry {i + 1}") for i, item in enumerate(raw["entries"]))
    audits = raw.get("audits") or []
    if not isinstance(audits, list):
        raise ConfigError(f"reference plan {path}: `audits` must be a list of {{task, model, seeds}}")
    checked = tuple(_audit(item, f"{path}: audit {i + 1}") for i, item in enumerate(audits))
    return ReferencePlan(path.resolve(), (path.parent / raw["results"]).resolve(), entries, checked)


def _audit(item: Any, where: str) -> PlanAudit:
    from benchmark.models.registry import MODELS
    from benchmark.tasks import TASKS

    keys = sorted(item) if isinstance(item, dict) else type(item).__name__
    if not isinstance(item, dict) or not {"task", "model", "seeds"} <= set(item) or set(item) - _AUDIT_KEYS:
        raise ConfigError(f"{where}: needs exactly task, model and seeds (optional: note); got {keys}")
    TASKS.get(item["task"])
    MODELS.get(item["model"])
    seeds = item["seeds"]
    if not (isinstance(seeds, list) and seeds and all(isinstance(s, int) and s >= 0 for s in seeds)):
        raise ConfigError(f"{where}: seeds must be a non-empty list of non-negative integers")
    return PlanAudit(item["task"], item["model"], tuple(seeds), item.get("note"))


def _entry(item: Any, where: str) -> PlanEntry:
    from benchmark.models.registry import MODELS
    from benchmark.recipe import Recipe
    from benchmark.tasks import TASKS

    if not isinstance(item, dict) or not {"task", "models", "seeds"} <= set(item):
        raise ConfigError(f"{where}: needs task, models and seeds (optional: overrides, note)")
    unknown = set(item) - _ENTRY_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_ENTRY_KEYS)}")
    TASKS.get(item["task"])  # UnknownNameError names the task and the registered ones
    models, seeds = item["models"], item["seeds"]
    if not (isinstance(models, list) and models and all(isinstance(m, str) for m in models)):
        raise ConfigError(f"{where}: models must be a non-empty list of model names")
    if not (isinstance(seeds, list) and seeds and all(isinstance(s, int) and s >= 0 for s in seeds)):
        raise ConfigError(f"{where}: seeds must be a non-empty list of non-negative integers")
    overrides = item.get("overrides") or {}
    if not isinstance(overrides, dict):
        raise ConfigError(f"{where}: overrides must be a mapping of recipe fields to values")
    for model in models:
        recipe: Recipe = MODELS.get(model).recipe
        try:
            recipe.with_overrides(overrides)
        except ConfigError as exc:
            raise ConfigError(f"{where}: overrides for {model}: {exc}") from exc
    return PlanEntry(item["task"], tuple(models), tuple(seeds), dict(overrides), item.get("note"))
