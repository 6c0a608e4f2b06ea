"""The reference board: what the shipped board holds and what the literature says about it.

``plan`` (``leaderboard/reference.yaml``): which baselines and seeds the shipped board holds.
``ledger`` (``leaderboard/literature.yaml``): published numbers as data, each with its source and a
comparability tag. ``verdicts``: a published claim beside our estimate and its 95% CI (inside, above,
below, or not comparable and why).

Nothing is imported here, so importing one module does not load the others; import them by name.
"""
