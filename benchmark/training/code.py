"""The training code's hash: which loop, augmentation, losses and schedules produced a run.

A model's ``source_hash`` covers its factory and what that imports; the training loop is not among
them, yet a change to it (an augmentation distribution, a schedule's step, the early-stopping rule)
changes every trained run. Records therefore carry this hash beside the model's, and run keys and
leaderboard entries include it: a run trained by other training code is another run, and
``benchmark reproduce`` names the training files that changed since a run was recorded.

The hash covers the files that decide what training does with a model's parameters and how its
predictions are made, listed below, by the same (relative path, sha256) rule as model sources.
"""

from __future__ import annotations

from functools import lru_cache

from benchmark.models.source import PROJECT_DIR, SourceFile, hash_sources

TRAINING_FILES = (
    "benchmark/training/loop.py",  # epochs, steps, validation, model selection
    "benchmark/training/augment.py",  # augmentation distributions and resampling
    "benchmark/training/prefetch.py",  # batch order and gathering
    "benchmark/training/losses.py",  # losses, class weights
    "benchmark/training/optim.py",  # optimisers and learning-rate schedules
    "benchmark/training/early_stopping.py",
    "benchmark/training/checkpoint.py",  # what a resumed run restores
    "benchmark/training/ddp.py",  # sharding and gradient averaging across workers
    "benchmark/training/inference.py",  # how scores are predicted
    "benchmark/models/freeze.py",  # frozen-backbone stages
    "benchmark/models/io.py",  # input normalisation, outputs to probabilities
    "benchmark/data/prepared.py",  # the prepared images a batch is gathered from
)


def training_sources() -> tuple[SourceFile, ...]:
    """The training code's files in this checkout."""
    return tuple(SourceFile(name, PROJECT_DIR / name) for name in TRAINING_FILES)


@lru_cache(maxsize=1)
def training_digests() -> dict[str, str]:
    """sha256 of each training file, by path relative to the checkout (read once per process)."""
    return {source.name: source.sha256() for source in training_sources()}


@lru_cache(maxsize=1)
def training_code_hash() -> str:
    """The hash of the training code in this checkout (read once per process)."""
    return hash_sources(training_sources())
