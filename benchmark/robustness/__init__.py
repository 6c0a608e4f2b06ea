"""Robustness of a trained run to graded image corruptions (``benchmark robustness RUN_ID``).

``corruptions``: seven corruptions that occur in radiographs, five severities each; ``scoring``: the
rows and relative drops of the derived result; ``run``: the command's work (weights, test images,
inference, bootstrap CIs, the cache beside the run).
"""
