"""Dataset adapters, splits, duplicate checks and the prepared image cache."""
