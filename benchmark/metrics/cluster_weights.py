"""Resample weights stored per cluster: how often each test image is drawn in each bootstrap resample.

Drawing a patient draws all of its images, so row ``b`` of the dense (B, n) weight matrix is
``counts[b, cluster_of]``. Keeping the (B, k) cluster counts instead of the dense matrix makes
every metric cheaper: sums over images (confusion counts) reduce the images of each cluster
once and cost one (B, k) @ (k, m) product, and AUROC works on pairs of clusters
(benchmark.metrics.auroc). Independent images are the special case of one image per cluster.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ClusterWeights:
    """Draw counts of each cluster in each resample (a row of ones is the plain estimate).

    ``counts=None`` is the jackknife: k resamples, the j-th leaving out cluster j. It is never
    materialised (k x k would not fit for many independent images); kernels solve it in closed form.
    """

    cluster_of: np.ndarray  # (n,) int: the cluster of each image, in [0, n_clusters)
    n_clusters: int
    counts: np.ndarray | None = None  # (B, n_clusters) float64

    @classmethod
    def plain(cls, n: int) -> ClusterWeights:
        """One resample that draws every image once: the point estimate."""
        return cls(np.arange(n), n, np.ones((1, n)))

    @classmethod
    def from_dense(cls, weights: np.ndarray) -> ClusterWeights:
        """(B, n) per-image weights, each image its own cluster."""
        weights = np.atleast_2d(np.asarray(weights, dtype=np.float64))
        return cls(np.arange(weights.shape[1]), weights.shape[1], weights)

    @classmethod
    def jackknife(cls, cluster_of: np.ndarray, n_clusters: int) -> ClusterWeights:
        """Leave one cluster out, for each of the ``n_clusters`` clusters (the BCa acceleration needs them)."""
        return cls(np.asarray(cluster_of), n_clusters)

    @property
    def leave_one_out(self) -> bool:
        return self.counts is None

    @property
    def n_resamples(self) -> int:
        return self.n_clusters if self.counts is None else int(self.counts.shape[0])

    @property
    def n_items(self) -> int:
        return len(self.cluster_of)

    def row_counts(self, rows: slice) -> np.ndarray:
        """Cluster counts of the resamples ``rows`` as a (rows, k) array."""
        if self.counts is not None:
            return self.counts[rows]
        left_out = np.arange(self.n_clusters)[rows]
        out = np.ones((len(left_out), self.n_clusters))
        out[np.arange(len(left_out)), left_out] = 0.0
        return out

    def per_cluster(self, values: np.ndarray) -> np.ndarray:
        """Sums of ``values`` (n,) or (n, m) over the images of each cluster: (k,) or (k, m)."""
        values = np.asarray(values, dtype=np.float64)
        if values.ndim == 1:
            return np.bincount(self.cluster_of, values, minlength=self.n_clusters)
        columns = [np.bincount(self.cluster_of, column, minlength=self.n_clusters) for column in values.T]
        return np.stack(columns, axis=1) if columns else np.zeros((self.n_clusters, 0))

    def total(self, values: np.ndarray) -> np.ndarray:
        """Weighted sums of ``values`` (n,) or (n, m) in every resample: (B,) or (B, m); exact for integers."""
        sums = self.per_cluster(values)
        if self.counts is None:
            return sums.sum(axis=0) - sums
        return self.counts @ sums

    def dense(self, rows: slice = slice(None)) -> np.ndarray:
        """The (rows, n) per-image weights of the resamples ``rows``."""
        return self.row_counts(rows)[:, self.cluster_of]

    def select(self, mask: np.ndarray) -> ClusterWeights:
        """The same resamples restricted to the images where ``mask`` holds (clusters keep their index)."""
        return ClusterWeights(self.cluster_of[mask], self.n_clusters, self.counts)


def concatenated_ranges(starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """``concatenate([arange(s, s + m) for s, m in zip(starts, sizes)])`` without a Python loop."""
    sizes = np.asarray(sizes, dtype=np.int64)
    return np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes) + np.repeat(starts, sizes)
