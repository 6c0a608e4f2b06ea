"""One run's or one leaderboard entry's full report: `benchmark report RUN_ID|ENTRY --out FILE.html|FILE.md`.

``content`` gathers a report as data (metrics with CIs, trivial baselines, calibration, risk-coverage,
ROC, the record's and the derived sections, saliency scores, citation); ``html`` and ``markdown`` render
it; ``figures`` builds its plotly figures. The static site (``benchmark.site``) renders the same pages.
"""
