"""Ray: data-parallel runs (``train``: Ray Train), sweeps (``sweep``: Ray tasks) and tuning (``tune``: Ray Tune).

Ray wraps the one training loop and the one runner, it never forks them: a data-parallel
worker, a sweep task and a tuning trial all call ``benchmark.training.runner`` with hooks, and only
the driver (the process that called these functions) writes run records. ``cluster`` holds the
Ray session and what the three share; ``checkpoints`` how fit's checkpoint goes through Ray;
``progress`` a sweep's live table. Ray is imported inside the functions, so importing any of
these modules costs nothing and plain commands never import it.
"""
