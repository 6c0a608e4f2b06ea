"""``submissions/<team>/submission.yaml``: who submits what, validated before any submitted code runs.

The file is read as safe YAML with aliases refused (``benchmark.yaml_safe``: no Python objects, no
expansion bombs). Unknown and missing keys are named,
every problem found is listed at once, and paths must stay inside the submission folder:
absolute paths, ``..`` and symlinks that lead outside are refused.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from benchmark.data.download import file_digest
from benchmark.errors import SubmissionError
from benchmark.yaml_safe import load_bounded

METADATA_FILE = "submission.yaml"
REQUIRED = ("name", "authors", "contact", "licence", "tasks", "model", "extra_training_data")
OPTIONAL = ("paper", "url", "weights", "description")
MODEL_FILE_KEYS = ("file", "factory", "recipe", "family", "card")
MODEL_ENTRY_POINT_KEYS = ("entry_point", "family", "card")
WEIGHTS_KEYS = ("file", "sha256")
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{1,63}$")
NAME_RULE = "2-64 characters of a-z, 0-9, _ and -, starting with a letter or digit"
SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class ModelEntry:
    """Either a file in the folder (``file`` with ``factory`` and ``recipe`` names in it) or an
    installed package's model in the ``cxr_benchmark.models`` entry-point group."""

    file: Path | None
    factory: str
    recipe: str
    entry_point: str | None
    family: str
    card: str


@dataclass(frozen=True)
class Submission:
    folder: Path
    name: str
    authors: tuple[str, ...]
    contact: str
    licence: str
    tasks: tuple[str, ...]
    model: ModelEntry
    extra_training_data: tuple[str, ...]
    paper: str = ""
    url: str = ""
    description: str = ""
    weights_file: Path | None = None
    weights_sha256: str | None = None

    @property
    def model_name(self) -> str:
        """How the model is named in records and on the leaderboard."""
        return f"submission:{self.name}"

    def check_task(self, task_name: str) -> None:
        if task_name not in self.tasks:
            raise SubmissionError(
                f"{self.folder / METADATA_FILE}: task {task_name!r} is not among the submission's tasks "
                f"{list(self.tasks)}; add it to `tasks` (the model must be meant for it) or pick a listed task"
            )

    def to_record(self) -> dict[str, Any]:
        """What a run record states about the submission (metadata, where it came from, its hashes): a
        ``benchmark.results.record.PluginSubmission`` but for ``source_hash`` (and an entry point's
        ``package``), which ``load_plugin`` adds once the model is loaded."""
        return {
            "kind": "entry_point" if self.model.entry_point else "plugin",
            "name": self.name,
            "authors": list(self.authors),
            "contact": self.contact,
            "paper": self.paper or None,
            "url": self.url or None,
            "licence": self.licence,
            "tasks": list(self.tasks),
            "extra_training_data": list(self.extra_training_data),
            "folder": str(self.folder),
            "metadata_sha256": file_digest(self.folder / METADATA_FILE, "sha256"),
            "model_file": self.model.file.name if self.model.file else None,
            "model_sha256": file_digest(self.model.file, "sha256") if self.model.file else None,
            "entry_point": self.model.entry_point,
            "weights": ({"file": self.weights_file.name, "sha256": self.weights_sha256} if self.weights_file else None),
        }


def name_problem(name: object, key: str) -> str | None:
    """Why ``name`` cannot name an entry (None when it can). One rule for plugin and prediction
    submissions: the name becomes part of folder names, ``benchmark runs`` rows and Markdown tables,
    where a newline, ``|`` or 300 characters break them."""
    if isinstance(name, str) and NAME_PATTERN.match(name):
        return None
    shown = repr(name) if len(repr(name)) <= 80 else f"{repr(name)[:60]}... ({len(str(name))} characters)"
    return f"{key} {shown} must be {NAME_RULE}"


def check_name(name: object, key: str) -> str:
    """``name`` if it can name an entry, else a SubmissionError naming ``key`` (the argument or field)."""
    problem = name_problem(name, key)
    if problem is not None:
        raise SubmissionError(f"{problem}; the entry is recorded as submission:NAME")
    assert isinstance(name, str)
    return name


def load_submission(folder: Path) -> Submission:
    """Read and validate ``folder/submission.yaml``, and check the weights' sha256 when declared."""
    folder = Path(folder).resolve()
    path = folder / METADATA_FILE
    if not path.is_file():
        raise SubmissionError(
            f"{path} {describe_missing(path)}; a submission folder holds submission.yaml and model.py "
            "(copy submissions/_template/ to start)"
        )
    try:
        spec = load_bounded(path.read_text())
    except yaml.YAMLError as exc:
        raise SubmissionError(f"{path}: not valid YAML: {exc}") from exc
    problems: list[str] = []
    if not isinstance(spec, dict):
        raise SubmissionError(f"{path}: must be a mapping of keys {list(REQUIRED)} (+ optional {list(OPTIONAL)})")
    problems += _key_problems(spec, REQUIRED, OPTIONAL, "")
    name = spec.get("name")
    if "name" in spec and (problem := name_problem(name, "name")) is not None:
        problems.append(problem)
    authors = _string_list(spec, "authors", problems, allow_empty=False)
    tasks = _string_list(spec, "tasks", problems, allow_empty=False)
    extra = _string_list(spec, "extra_training_data", problems, allow_empty=True)
    for key in ("contact", "licence", "paper", "url", "description"):
        if key in spec and not (isinstance(spec[key], str) and spec[key].strip()):
            problems.append(f"{key} must be a non-empty string")
    if not spec.get("paper") and not spec.get("url"):
        problems.append("give `paper` (a citation) or `url` (where the method is described), or both")
    if tasks:
        problems += _unknown_tasks(tasks)
    model = _model_entry(spec.get("model"), folder, problems) if "model" in spec else None
    weights_file, weights_sha = _weights(spec.get("weights"), folder, problems) if "weights" in spec else (None, None)
    if problems:
        listing = "\n".join(f"  - {p}" for p in problems)
        raise SubmissionError(
            f"{path} does not validate ({len(problems)} problem(s)):\n{listing}\n"
            "submissions/README.md describes every key; submissions/_template/submission.yaml is a valid example"
        )
    assert model is not None
    if weights_file is not None:
        actual = file_digest(weights_file, "sha256")
        if actual != weights_sha:
            raise SubmissionError(
                f"{path}: weights file {weights_file.name} has sha256 {actual}, but weights.sha256 declares "
                f"{weights_sha}; the file changed since it was declared: restore it, or declare the new hash "
                "if the change is intended"
            )
    return Submission(
        folder=folder,
        name=str(name),
        authors=tuple(authors),
        contact=spec["contact"],
        licence=spec["licence"],
        tasks=tuple(tasks),
        model=model,
        extra_training_data=tuple(extra),
        paper=spec.get("paper") or "",
        url=spec.get("url") or "",
        description=spec.get("description") or "",
        weights_file=weights_file,
        weights_sha256=weights_sha,
    )


def inside_folder(folder: Path, value: object, key: str, problems: list[str]) -> Path | None:
    """``folder/value`` if it names an existing file that stays inside ``folder``; else a problem."""
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{key} must be a file name relative to the submission folder")
        return None
    relative = Path(value)
    if relative.is_absolute():
        problems.append(f"{key} {value!r} is an absolute path; name a file inside the submission folder")
        return None
    if ".." in relative.parts:
        problems.append(f"{key} {value!r} contains '..'; files must stay inside the submission folder")
        return None
    target = (folder / relative).resolve()
    if not target.is_relative_to(folder):
        problems.append(f"{key} {value!r} is a symlink to {target}, outside the submission folder; copy the file in")
        return None
    if not target.is_file():
        problems.append(f"{key} {value!r} {describe_missing(target)} (in {folder}); name a file")
        return None
    return target


def describe_missing(path: Path) -> str:
    """What ``path`` is, when a regular file was expected there: absent, a folder or something else."""
    if path.is_dir():
        return "is a folder, not a file"
    if path.exists():
        return "is not a regular file (a device, FIFO or socket)"
    return "does not exist"


def _key_problems(spec: dict[str, Any], required: tuple[str, ...], optional: tuple[str, ...], where: str) -> list[str]:
    known = (*required, *optional)
    problems = [f"missing required key {where}{k}" for k in required if k not in spec]
    for key in spec:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"did you mean {where}{close[0]}?" if close else f"known keys: {', '.join(known)}"
            problems.append(f"unknown key {where}{key} ({hint})")
    return problems


def _string_list(spec: dict[str, Any], key: str, problems: list[str], allow_empty: bool) -> list[str]:
    if key not in spec:
        return []
    value = spec[key]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        problems.append(f"{key} must be a list of non-empty strings" + (" ([] for none)" if allow_empty else ""))
        return []
    if not value and not allow_empty:
        problems.append(f"{key} must list at least one entry")
    return value


def _unknown_tasks(tasks: list[str]) -> list[str]:
    from benchmark.tasks import TASKS

    known = TASKS.names()
    return [f"tasks: unknown task {t!r} (known: {', '.join(known)})" for t in tasks if t not in known]


def _model_entry(value: object, folder: Path, problems: list[str]) -> ModelEntry | None:
    if not isinstance(value, dict):
        problems.append("model must be a mapping: {file, factory, recipe} or {entry_point}")
        return None
    by_entry_point = "entry_point" in value
    keys = MODEL_ENTRY_POINT_KEYS if by_entry_point else MODEL_FILE_KEYS
    required = ("entry_point",) if by_entry_point else ("file",)
    problems += _key_problems(value, required, tuple(k for k in keys if k not in required), "model.")
    for key in ("factory", "recipe", "family", "card", "entry_point"):
        if key in value and not (isinstance(value[key], str) and value[key].strip()):
            problems.append(f"model.{key} must be a non-empty string")
    file = None if by_entry_point else inside_folder(folder, value.get("file"), "model.file", problems)
    if file is not None and file.suffix != ".py":
        problems.append(f"model.file {value['file']!r} must be a Python file (.py)")
    return ModelEntry(
        file=file,
        factory=str(value.get("factory", "build_model")),
        recipe=str(value.get("recipe", "RECIPE")),
        entry_point=value.get("entry_point"),
        family=str(value.get("family", "submission")),
        card=str(value.get("card", "")),
    )


def _weights(value: object, folder: Path, problems: list[str]) -> tuple[Path | None, str | None]:
    if not isinstance(value, dict):
        problems.append("weights must be a mapping {file, sha256}")
        return None, None
    problems += _key_problems(value, WEIGHTS_KEYS, (), "weights.")
    sha = value.get("sha256")
    if "sha256" in value and isinstance(sha, int | float) and not isinstance(sha, bool):
        problems.append(
            f"weights.sha256 was read by YAML as the number {sha!r}: a hash of digits only must be quoted, "
            'sha256: "<64 hex digits>" (sha256sum FILE)'
        )
        sha = None
    elif "sha256" in value and not (isinstance(sha, str) and SHA256_PATTERN.match(sha)):
        problems.append(f"weights.sha256 {sha!r} must be 64 lowercase hex digits (sha256sum FILE)")
        sha = None
    file = inside_folder(folder, value.get("file"), "weights.file", problems) if "file" in value else None
    return file, sha
