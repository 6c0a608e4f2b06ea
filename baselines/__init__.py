"""Baseline model families; importing this package registers every one of them."""

from baselines import lotko_cnn, resnet  # noqa: F401
