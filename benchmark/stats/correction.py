"""Multiple-comparison correction of p-values (statsmodels ``multipletests``)."""

from __future__ import annotations

import numpy as np
from statsmodels.stats.multitest import multipletests

from benchmark.errors import StatisticsError

# Our names -> statsmodels' method names.
CORRECTIONS = {"holm": "holm", "bh": "fdr_bh", "none": None}
CORRECTION_NAMES = {"holm": "Holm", "bh": "Benjamini-Hochberg", "none": "unadjusted"}
CORRECTION_METHODS = {  # as a methods paragraph cites them
    "holm": "Holm's method (Holm 1979)",
    "bh": "the Benjamini-Hochberg procedure (Benjamini & Hochberg 1995)",
    "none": "no correction",
}


def adjust_pvalues(p_values: np.ndarray, method: str = "holm") -> np.ndarray:
    """Adjusted p-values: ``holm`` (Holm 1979; family-wise error), ``bh`` (Benjamini & Hochberg 1995;
    false discovery rate) or ``none``."""
    if method not in CORRECTIONS:
        raise StatisticsError(f"correction must be one of {list(CORRECTIONS)}, got {method!r}")
    p_values = np.asarray(p_values, dtype=np.float64)
    if CORRECTIONS[method] is None or len(p_values) == 0:
        return p_values.copy()
    return multipletests(p_values, method=CORRECTIONS[method])[1]
