"""Builders of derived datasets from datasets as distributed."""
