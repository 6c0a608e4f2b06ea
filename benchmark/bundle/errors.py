"""The typed errors of a bundle's export and verification (exit code 2 through the CLI)."""

from __future__ import annotations

from benchmark.errors import ChecksumError, ConfigError, ReproductionError, RunDamagedError


class BundleFormatError(ConfigError):
    """A file that is not a CXR-Bench bundle (unreadable archive, unsafe or unexpected member names), or a
    bundle asked for in a way it cannot be written (no task, an output name that is not ``.tar.gz``)."""


class BundleChecksumError(ChecksumError):
    """A bundle member that is missing, not listed, or whose bytes differ from its sha256 (in SHA256SUMS, in
    the manifest, or in its run's record)."""


class BundleMismatchError(ReproductionError):
    """A bundle whose numbers are not what its files give: a run re-scored from its predictions differs from
    its record, or the standings re-rendered from its records differ from the bundled ones."""


class BundleDamagedRunsError(RunDamagedError):
    """Runs of the task that cannot be bundled: their record or prediction files are damaged."""
