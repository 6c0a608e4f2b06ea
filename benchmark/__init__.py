"""CXR-Bench: reproducible chest X-ray classification benchmarks (package and `benchmark` CLI)."""
