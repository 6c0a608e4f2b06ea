"""Prediction files for models that cannot run here: ``image_id`` plus one score column per task label.

A file is validated strictly before anything is recorded: the exact label columns, every id of
the split exactly once and no other id, finite scores in [0, 1] (for a multiclass task, each row
a probability distribution). Problems are listed with their row numbers (row 1 is the first row
after the header) and ids. Labels, patient ids and metadata never come from the file: they come
from the task's pinned split.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.errors import PredictionFileError
from benchmark.submission.metadata import describe_missing
from benchmark.tasks import Task

SUFFIXES = (".csv", ".parquet")
SHOWN = 20  # problems listed in the error; the rest are counted
MULTICLASS_SUM_TOLERANCE = 1e-3  # rounding a probability distribution to 6 decimals moves its sum by far less


def read_predictions(path: Path, task: Task, split_frame: pd.DataFrame, split: str) -> pd.DataFrame:
    """The file's scores as a frame indexed by ``image_id`` in ``split_frame``'s order, columns = task labels.

    ``split_frame`` holds the task's pinned split (``image_id`` and ``split`` of every image).
    Raises PredictionFileError listing the first problems when the file does not validate.
    """
    frame = _read(path)
    labels = list(task.labels)
    expected = split_frame.loc[split_frame["split"] == split, "image_id"].astype(str)
    problems = _column_problems(list(frame.columns), labels)
    if not problems:
        problems = _row_problems(frame, task, expected, split_frame, split)
    if problems:
        listing = "\n".join(f"  - {p}" for p in problems[:SHOWN])
        more = f"\n  ... and {len(problems) - SHOWN} more" if len(problems) > SHOWN else ""
        raise PredictionFileError(
            f"{path}: rejected, {len(problems)} problem(s) (rows count from 1 after the header):\n{listing}{more}\n"
            f"Nothing was recorded. The file needs `image_id` and exactly the columns {labels}, one row per "
            f"{split} image of task {task.name}; `benchmark submit --template --task {task.name} --split {split} "
            "--out FILE` writes one to fill"
        )
    scores = frame.set_index(frame["image_id"].astype(str))[labels].astype(np.float64)
    return scores.loc[expected.to_numpy()]


def write_template(task: Task, split_frame: pd.DataFrame, split: str, out: Path, force: bool = False) -> int:
    """Every id of ``split`` with empty label columns to fill in; returns the number of rows.

    An existing ``out`` is never replaced unless ``force``: it may be a file already filled in.
    """
    check_template_target(out, force)
    ids = split_frame.loc[split_frame["split"] == split, "image_id"].astype(str)
    frame = pd.DataFrame({"image_id": ids.to_numpy()})
    for label in task.labels:
        frame[label] = np.nan
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".csv":
        frame.to_csv(out, index=False)
    else:
        frame.to_parquet(out, index=False)
    return len(frame)


def check_template_target(out: Path, force: bool) -> None:
    """Refuse, before anything is read or written, a template path that is not .csv/.parquet or that exists."""
    if out.suffix not in SUFFIXES:
        raise PredictionFileError(f"{out}: write the template as .csv or .parquet")
    if out.is_dir() or (out.exists() and not out.is_file()):
        raise PredictionFileError(f"{out} {describe_missing(out)}; --out names the template file to write")
    if out.exists() and not force:
        raise PredictionFileError(
            f"{out} already exists (it may hold predictions filled in); nothing was written. Pick another --out, "
            "or pass --force to replace it with an empty template"
        )


def _read(path: Path) -> pd.DataFrame:
    if path.suffix not in SUFFIXES:
        raise PredictionFileError(f"{path}: predictions must be a .csv or .parquet file, got {path.suffix or 'none'}")
    if not path.is_file():
        raise PredictionFileError(
            f"{path} {describe_missing(path)}; give the predictions file itself (.csv or .parquet)"
        )
    try:
        if path.suffix == ".csv":
            # every cell as text: ids stay exactly as written, and bad numbers can be named
            return pd.read_csv(path, dtype=str, keep_default_na=False)
        return pd.read_parquet(path)
    except Exception as exc:  # pandas/pyarrow raise many kinds; all mean the same to the user
        raise PredictionFileError(f"{path} cannot be read as {path.suffix[1:]} ({type(exc).__name__}: {exc})") from exc


def _column_problems(columns: list[str], labels: list[str]) -> list[str]:
    problems = []
    if "image_id" not in columns:
        problems.append("no `image_id` column")
    missing = [label for label in labels if label not in columns]
    extra = [c for c in columns if c != "image_id" and c not in labels]
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    if missing:
        problems.append(f"missing label column(s) {missing}")
    if extra:
        problems.append(f"column(s) {extra} are not labels of the task (expected exactly {labels})")
    if duplicated:
        problems.append(f"column(s) {duplicated} appear more than once")
    return problems


def _row_problems(
    frame: pd.DataFrame, task: Task, expected: pd.Series, split_frame: pd.DataFrame, split: str
) -> list[str]:
    problems: list[str] = []
    null_ids = frame["image_id"].isna().to_numpy()
    # a null id (a parquet null, NaN) is named as such, never turned into the text "nan" or "None"
    ids = pd.Series(["" if null else str(v) for v, null in zip(frame["image_id"], null_ids, strict=True)])
    wanted = set(expected)
    other_split = dict(zip(split_frame["image_id"].astype(str), split_frame["split"], strict=True))
    seen: dict[str, int] = {}
    for row, image_id in enumerate(ids, start=1):
        if null_ids[row - 1]:
            problems.append(f"row {row}: image_id is missing (null); every row needs the id of its image")
        elif not image_id.strip():
            problems.append(f"row {row}: empty image_id")
        elif image_id in seen:
            problems.append(f"row {row}: id {image_id!r} repeats row {seen[image_id]}")
        elif image_id not in wanted:
            where = f"a {other_split[image_id]} image" if image_id in other_split else "not an image of the task"
            problems.append(f"row {row}: id {image_id!r} is {where}; only the {split} split is scored")
        seen.setdefault(image_id, row)
    absent = [i for i in expected if i not in seen]
    if absent:
        shown = ", ".join(repr(i) for i in absent[:5]) + (", ..." if len(absent) > 5 else "")
        problems.append(f"{len(absent)} {split} id(s) have no row: {shown}")
    scores = np.column_stack(
        [pd.to_numeric(frame[label], errors="coerce").to_numpy(dtype=np.float64) for label in task.labels]
    )
    for k, label in enumerate(task.labels):
        for i in np.flatnonzero(np.isnan(scores[:, k])):
            raw = frame[label].iat[i]
            what = "is NaN or empty" if _is_missing(raw) else f"is not a number ({_shown(raw)})"
            problems.append(f"row {i + 1} (id {ids.iat[i]!r}): {label} {what}")
        for i in np.flatnonzero(np.isinf(scores[:, k])):
            problems.append(f"row {i + 1} (id {ids.iat[i]!r}): {label} is infinite")
        with np.errstate(invalid="ignore"):
            outside = np.flatnonzero(np.isfinite(scores[:, k]) & ((scores[:, k] < 0) | (scores[:, k] > 1)))
        for i in outside:
            problems.append(f"row {i + 1} (id {ids.iat[i]!r}): {label} = {float(scores[i, k])!r} is outside [0, 1]")
    if task.problem == "multiclass":
        sums = scores.sum(axis=1)
        for i in np.flatnonzero(np.isfinite(sums) & (np.abs(sums - 1.0) > MULTICLASS_SUM_TOLERANCE)):
            problems.append(
                f"row {i + 1} (id {ids.iat[i]!r}): class scores sum to {sums[i]:.6g}, not 1 "
                "(a multiclass task takes one probability per class, e.g. a softmax)"
            )
    return sorted(problems, key=_row_order)


def _is_missing(raw: object) -> bool:
    """Whether a cell is empty (null, NaN, or text meaning none), as opposed to a value that is not a number."""
    if raw is None or raw is pd.NA:
        return True
    if isinstance(raw, float | np.floating):
        return bool(np.isnan(raw))
    return isinstance(raw, str) and raw.strip().lower() in ("", "nan", "na", "null", "none")


def _shown(raw: object, limit: int = 60) -> str:
    """A cell's value as the error shows it: its type when it is not text or a number, shortened."""
    text = repr(raw)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text if isinstance(raw, str | int | float) else f"a {type(raw).__name__}: {text}"


def _row_order(problem: str) -> int:
    """Problems in file order; those about the whole file (missing ids) last."""
    if problem.startswith("row "):
        return int(problem[4:].split()[0].rstrip(":"))
    return 1 << 62
