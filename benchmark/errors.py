"""Typed errors. Each one says what went wrong, where, and what to do about it."""

from __future__ import annotations


class BenchmarkError(Exception):
    """Base class for every error CXR-Bench raises on purpose."""


class UnknownNameError(BenchmarkError, KeyError):
    """A task, model or metric name that is not registered."""

    def __str__(self) -> str:  # KeyError quotes its message; we want plain text
        return str(self.args[0])


class NameClashError(BenchmarkError):
    """Two registrations under one name."""


class ConfigError(BenchmarkError):
    """A task file, recipe or override that does not validate."""


class DatasetNotFoundError(BenchmarkError):
    """The data root lacks the files a task needs."""


class DataFormatError(BenchmarkError):
    """A data file exists but its content is wrong: corrupt image, missing column, bad label."""


class ChecksumError(BenchmarkError):
    """A downloaded file whose checksum does not match the published one."""


class SplitMismatchError(BenchmarkError):
    """The split computed from a data root does not hash to the task's pinned value."""


class RunNotFoundError(BenchmarkError):
    """A run id that is not in the results directory."""


class SaliencyCacheError(BenchmarkError):
    """A run's saliency cache that is absent, from another run, or does not match its index."""


class StatisticsError(BenchmarkError):
    """Inputs a statistic cannot be computed from: unknown metric value, missing column, wrong problem type."""


class PredictionsMismatchError(StatisticsError):
    """Prediction tables compared with each other do not hold the same test images or the same truth."""


class TaskMismatchError(StatisticsError):
    """Runs of different task hashes: their numbers are never ranked together."""


class ReadOnlyStoreError(BenchmarkError):
    """A write asked of a results directory opened read-only (the leaderboard never writes the store)."""


class RecordError(BenchmarkError):
    """A run directory whose record.json cannot be read."""


class SubmissionError(BenchmarkError):
    """A submission folder, its submission.yaml, model code or weights that do not validate."""


class PredictionFileError(SubmissionError):
    """A predictions file that does not cover the task's split exactly, with valid scores."""


class ReproductionError(BenchmarkError):
    """A run that cannot be re-run as recorded (changed task or code, missing weights)."""


class DistributedRunError(BenchmarkError):
    """A run, sweep or tuning job on Ray that failed; names the runs and how to continue."""


class InvalidRunError(BenchmarkError):
    """A trained run that must not be recorded: non-finite scores, or no training step taken.
    Nothing is written; the run's checkpoint stays in its work folder for diagnosis."""


class RunDamagedError(RecordError):
    """A run directory whose files are missing, unreadable or differ from the sha256 its record holds."""


class DuplicateRunError(BenchmarkError):
    """A second run for an (entry, seed) that already has one, or a seed whose predictions repeat another's."""


class SubmissionProcessError(SubmissionError):
    """Submitted plugin code that failed, exited early or broke its limits in its child process."""


class DownloadError(BenchmarkError):
    """A transfer that failed, was cut off or cannot start (too little disk space); a partial file is kept to resume."""


class DiskSpaceError(DownloadError):
    """Too little free space under the data root for a download; nothing was written."""
