"""Statistics for CXR-Bench results (documented in full below once complete)."""
