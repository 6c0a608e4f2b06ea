"""Bootstrap resamples: which patients (or images) each resample draws, drawn the way scipy draws them.

``scipy.stats.bootstrap`` draws ``rng.integers(0, n, (n_resamples, n))`` from a numpy Generator;
this module draws cluster positions the same way (one row per resample, k draws from k
clusters), so on independent images the resamples equal scipy's for the same seed. The drawn
positions are kept (``Resamples.indices``) so that a reference loop can replay exactly the same
resamples; metrics consume them as per-cluster counts (benchmark.metrics.cluster_weights.ClusterWeights).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchmark.errors import StatisticsError
from benchmark.metrics.cluster_weights import ClusterWeights, concatenated_ranges


@dataclass(frozen=True)
class Clusters:
    """The resampling unit of each test image: its patient, or the image itself."""

    cluster_of: np.ndarray  # (n,) int in [0, k)
    ids: np.ndarray  # (k,) the id of each cluster (patient ids, or image positions)
    unit: str  # "patient" | "image"

    @property
    def n_clusters(self) -> int:
        return len(self.ids)

    @classmethod
    def of(cls, ids: np.ndarray | None, n: int | None = None) -> Clusters:
        """Patients when some patient has several images, else independent images in row order.

        Resampling single-image patients is resampling images, so both give the same resamples
        (and the scipy-compatible draw) in that case.
        """
        if ids is None:
            if n is None:
                raise StatisticsError("pass cluster ids or the number of images")
            return cls(np.arange(n), np.arange(n), "image")
        ids = np.asarray(ids).astype(str)
        unique, cluster_of = np.unique(ids, return_inverse=True)
        if len(unique) == len(ids):
            return cls(np.arange(len(ids)), np.arange(len(ids)), "image")
        return cls(cluster_of.reshape(-1), unique, "patient")

    def plain(self) -> ClusterWeights:
        """The point estimate: every cluster once."""
        return ClusterWeights(self.cluster_of, self.n_clusters, np.ones((1, self.n_clusters)))

    def jackknife(self) -> ClusterWeights:
        return ClusterWeights.jackknife(self.cluster_of, self.n_clusters)


@dataclass(frozen=True)
class Resamples:
    """``indices[b]``: the cluster positions drawn (with replacement) in resample b."""

    clusters: Clusters
    indices: np.ndarray  # (B, k) int

    @property
    def n_resamples(self) -> int:
        return int(self.indices.shape[0])

    def weights(self) -> ClusterWeights:
        """Per-cluster draw counts of every resample."""
        b, k = self.indices.shape
        # Built cluster-major, (k, B), and handed over transposed: the AUROC kernel gathers clusters as rows.
        flat = (self.indices * b + np.arange(b)[:, None]).ravel()
        counts = np.bincount(flat, minlength=k * b).reshape(k, b).astype(np.float64)
        return ClusterWeights(self.clusters.cluster_of, k, counts.T)

    def image_indices(self, b: int) -> np.ndarray:
        """Row positions of the images of resample b: each drawn cluster's images, in draw order."""
        order = np.argsort(self.clusters.cluster_of, kind="stable")
        start = np.r_[0, np.cumsum(np.bincount(self.clusters.cluster_of, minlength=self.clusters.n_clusters))]
        drawn = self.indices[b]
        return order[concatenated_ranges(start[drawn], start[drawn + 1] - start[drawn])]


def draw_resamples(
    clusters: Clusters, n_resamples: int, seed: int | np.random.Generator, strata: np.ndarray | None = None
) -> Resamples:
    """``n_resamples`` bootstrap resamples of the clusters.

    Without ``strata``: ``rng.integers(0, k, (n_resamples, k))``, scipy's draw. With ``strata``
    (one label per cluster) each stratum is resampled on its own and keeps its size, as in pROC's
    stratified bootstrap (cases and controls resampled separately).
    """
    if n_resamples < 1:
        raise StatisticsError(f"n_resamples must be at least 1, got {n_resamples}")
    rng = np.random.default_rng(seed)
    k = clusters.n_clusters
    if strata is None:
        return Resamples(clusters, rng.integers(0, k, (n_resamples, k)))
    strata = np.asarray(strata)
    if len(strata) != k:
        raise StatisticsError(f"strata has {len(strata)} entries for {k} clusters; pass one stratum per cluster")
    parts = []
    for stratum in np.unique(strata):
        members = np.flatnonzero(strata == stratum)
        parts.append(members[rng.integers(0, len(members), (n_resamples, len(members)))])
    return Resamples(clusters, np.concatenate(parts, axis=1))
