"""Shared fixtures: the real data folder and small generated datasets in the real layouts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from benchmark.data.cache import CACHE_ENV
from benchmark.reference.board import REFERENCE_ENV
from benchmark.tasks import TASKS, Task, task_from_dict, tasks_dir
from benchmark.tasks.registry import TASKS_DIR_ENV
from tests.fixtures.covid_kaggle.make import make_covid_dataset

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Prepared caches of the test session go to a temporary folder, never the user's."""
    os.environ[CACHE_ENV] = str(tmp_path_factory.mktemp("cache"))


@pytest.fixture(autouse=True, scope="session")
def _no_reference_board() -> None:
    """Commands and the leaderboard read only the folders a test gives them: the shipped reference board
    is read beside them by default (benchmark.reference.board), so tests of it switch it on themselves."""
    os.environ[REFERENCE_ENV] = "none"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real datasets (../shared/data). CI has them; their absence is a failure, not a skip."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"real data expected at {SHARED_DATA} (the project's ../shared/data)")
    return SHARED_DATA


def cli_env(folder: Path, task: Task, name: str | None = None) -> dict[str, str]:
    """Environment for a `benchmark` subprocess whose task files are the real ones plus ``task``
    (under ``name``, default its own name: a pinned copy then replaces the real task of that name)."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in tasks_dir().glob("*.yaml"):
        (folder / path.name).write_text(path.read_text())
    spec = {k: (list(v) if isinstance(v, tuple) else v) for k, v in task.__dict__.items()}
    spec["name"] = name or task.name
    (folder / f"{spec['name']}.yaml").write_text(yaml.safe_dump(spec))
    return {**os.environ, TASKS_DIR_ENV: str(folder), "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}


def pinned_copy(task: Task, root: Path, **changes: object) -> Task:
    """``task`` re-pinned to the data under ``root`` (a generated fixture), with ``changes`` applied."""
    spec = {**task.__dict__, **changes}
    placeholders = {"split_sha256": "0" * 64, "expected_counts": {}, "expected_patients": None}
    data = task_from_dict({**spec, **placeholders}, "fixture").load_data(root, verify=False)
    spec.update(split_sha256=data.split_hash, expected_counts=data.report.counts)
    if spec.get("expected_patients") is not None:
        spec["expected_patients"] = data.patient_counts()
    return task_from_dict(spec, "fixture")


@pytest.fixture(scope="session")
def tiny_covid_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_covid_dataset(tmp_path_factory.mktemp("covid"))


@pytest.fixture(scope="session")
def tiny_covid_task(tiny_covid_root: Path) -> Task:
    """covid3's spec pinned to the generated dataset, with a cheap bootstrap."""
    return pinned_copy(TASKS.get("covid3"), tiny_covid_root, bootstrap={"n_resamples": 200, "seed": 0})


__all__ = ["REPO", "SHARED_DATA", "cli_env", "pinned_copy"]
