"""Task specifications: one ``<name>.yaml`` per benchmark task (package data, read by benchmark.tasks)."""
