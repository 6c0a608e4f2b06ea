"""AUROC in every bootstrap resample at once, exactly (Mann-Whitney, a tie counts 1/2).

For resample weights ``c`` the AUROC numerator is ``sum_ij c_i c_j H(s_i - s_j)`` over positive
images i and negative images j (H = 1 if >, 1/2 if =, 0 if <). With whole clusters drawn it is a
quadratic form in the cluster counts: ``c_pos . M . c_neg``, where ``M[a, b]`` sums H over the
positives of cluster a and the negatives of cluster b. ``M`` is built once from one sort, then all
resamples cost one float64 matrix product. Every term is a multiple of 1/2, so the sums are exact
in float64 whatever the summation order. When ``M`` would be large (many independent images) the
sorted path (cumulative negatives below each score, per resample) is cheaper; both give the
same numbers. The jackknife (leave one cluster out, for BCa) has a closed form from the
per-image placement counts.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from benchmark.metrics.cluster_weights import ClusterWeights, concatenated_ranges

MAX_PAIR_ENTRIES = 1 << 24  # largest cluster pair matrix (128 MiB of float64)
# Costs in units of one pair-matrix entry in one resample's matrix product (measured on 2 cores):
# one image in one resample on the sorted path (gather + cumulative sums) costs about 256, building
# one pair-matrix entry about 350.
PAIR_COST_RATIO = 256
PAIR_BUILD_COST = 350
CHUNK_ELEMENTS = 1 << 22  # rows of resamples are processed in blocks of about this many values


def weighted_auroc(y: np.ndarray, score: np.ndarray, weights: ClusterWeights | np.ndarray) -> np.ndarray:
    """AUROC for each resample of ``weights`` (or each row of (B, n) image weights); NaN labels ignored.

    A resample without a positive or without a negative gives NaN.
    """
    if not isinstance(weights, ClusterWeights):
        weights = ClusterWeights.from_dense(weights)
    known = ~np.isnan(y)
    positive, score, weights = y[known] == 1, np.asarray(score, dtype=np.float64)[known], weights.select(known)
    n_pos, n_neg = weights.total(positive), weights.total(~positive)
    if positive.all() or not positive.any():
        return np.full(weights.n_resamples, np.nan)
    if weights.leave_one_out:
        numerator = _jackknife_numerators(positive, score, weights.cluster_of, weights.n_clusters)
    else:
        p, q = (
            np.count_nonzero(np.bincount(weights.cluster_of[m], minlength=weights.n_clusters))
            for m in (positive, ~positive)
        )
        pair_cost = p * q * (PAIR_BUILD_COST + weights.n_resamples)
        if p * q <= MAX_PAIR_ENTRIES and pair_cost <= PAIR_COST_RATIO * weights.n_resamples * len(score):
            numerator = _pair_numerators(positive, score, weights)
        else:
            numerator = _sorted_numerators(positive, score, weights)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = numerator / (n_pos * n_neg)
    return np.where((n_pos > 0) & (n_neg > 0), auc, np.nan)


def _present(cluster_ids: np.ndarray, n_clusters: int) -> tuple[np.ndarray, np.ndarray]:
    """(the clusters that occur, sorted; the position of each item's cluster among them)."""
    present = np.flatnonzero(np.bincount(cluster_ids, minlength=n_clusters))
    position = np.zeros(n_clusters, dtype=np.int64)
    position[present] = np.arange(len(present))
    return present, position[cluster_ids]


def pair_matrix(
    positive: np.ndarray, score: np.ndarray, cluster_of: np.ndarray, n_clusters: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(M, clusters with positives, clusters with negatives): M[a, b] = sum of H over their image pairs.

    Built from one sort: positives in a chunk of the sorted scores meet all negatives of earlier
    chunks (one small matrix product), negatives strictly below them within their chunk (pairs
    listed explicitly), and tied negatives for 1/2 (one sparse product over tie groups). Chunks
    end at tie-group starts, so an earlier chunk never holds a tied score.
    """
    order = np.argsort(score, kind="stable")
    score, positive, cluster = score[order], positive[order], cluster_of[order]
    pos_clusters, pos_row = _present(cluster[positive], n_clusters)
    neg_clusters, neg_col = _present(cluster[~positive], n_clusters)
    p, q, n = len(pos_clusters), len(neg_clusters), len(score)
    pos_at, neg_at = np.flatnonzero(positive), np.flatnonzero(~positive)

    starts = np.flatnonzero(np.r_[True, score[1:] != score[:-1]])
    group = np.cumsum(np.r_[True, score[1:] != score[:-1]]) - 1
    n_chunks = int(np.clip(n // 200, 1, 256))
    wanted = np.searchsorted(starts, np.linspace(0, n, n_chunks + 1)[1:-1])
    bounds = np.unique(np.r_[0, starts[wanted[wanted < len(starts)]], n])
    chunk = np.searchsorted(bounds, np.arange(n), side="right") - 1
    t = len(bounds) - 1

    # Negatives of earlier chunks: all strictly below.
    pos_hist = np.bincount(pos_row * t + chunk[pos_at], minlength=p * t).reshape(p, t).astype(np.float64)
    neg_hist = np.bincount(chunk[neg_at] * q + neg_col, minlength=t * q).reshape(t, q).astype(np.float64)
    matrix = pos_hist @ (np.cumsum(neg_hist, axis=0) - neg_hist)

    # Negatives of the same chunk in lower tie groups: listed as pairs.
    negatives_before = np.r_[0, np.cumsum(~positive)]
    first = negatives_before[bounds[chunk[pos_at]]]
    count = negatives_before[starts[group[pos_at]]] - first
    if count.sum():
        keys = np.repeat(pos_row, count) * q + neg_col[concatenated_ranges(first, count)]
        matrix += np.bincount(keys, minlength=p * q).reshape(p, q)

    # Tied negatives: 1/2 each.
    pos_group, neg_group = group[pos_at], group[neg_at]
    n_groups = int(group[-1]) + 1
    if (
        np.bincount(pos_group, minlength=n_groups).astype(bool)
        & np.bincount(neg_group, minlength=n_groups).astype(bool)
    ).any():
        pos_by_group = sparse.csr_matrix((np.ones(len(pos_at)), (pos_row, pos_group)), shape=(p, n_groups))
        neg_by_group = sparse.csr_matrix((np.ones(len(neg_at)), (neg_group, neg_col)), shape=(n_groups, q))
        matrix += 0.5 * (pos_by_group @ neg_by_group).toarray()
    return matrix, pos_clusters, neg_clusters


def _pair_numerators(positive: np.ndarray, score: np.ndarray, weights: ClusterWeights) -> np.ndarray:
    matrix, pos_clusters, neg_clusters = pair_matrix(positive, score, weights.cluster_of, weights.n_clusters)
    rows = max(1, CHUNK_ELEMENTS // max(matrix.shape))
    out = np.empty(weights.n_resamples)
    for start in range(0, weights.n_resamples, rows):
        by_cluster = weights.row_counts(slice(start, start + rows)).T  # (k, rows): clusters gathered as rows
        products = matrix.T @ by_cluster[pos_clusters]
        out[start : start + rows] = np.einsum("qb,qb->b", products, by_cluster[neg_clusters])
    return out


def _sorted_numerators(positive: np.ndarray, score: np.ndarray, weights: ClusterWeights) -> np.ndarray:
    """Per resample: positives' weights times the weight of negatives below (+1/2 tied), over tie groups."""
    order = np.argsort(score, kind="stable")
    score, positive, cluster = score[order], positive[order], weights.cluster_of[order]
    starts = np.flatnonzero(np.r_[True, score[1:] != score[:-1]])
    rows = max(1, CHUNK_ELEMENTS // len(score))
    out = np.empty(weights.n_resamples)
    for start in range(0, weights.n_resamples, rows):
        w = weights.row_counts(slice(start, start + rows))[:, cluster]
        pos = np.add.reduceat(w * positive, starts, axis=1)
        neg = np.add.reduceat(w * ~positive, starts, axis=1)
        out[start : start + rows] = (pos * (np.cumsum(neg, axis=1) - 0.5 * neg)).sum(axis=1)
    return out


def _jackknife_numerators(positive: np.ndarray, score: np.ndarray, cluster_of: np.ndarray, k: int) -> np.ndarray:
    """Numerator without cluster j, for every j: total - pairs with a positive in j - pairs with a
    negative in j + pairs with both in j (counted twice)."""
    pos_score, neg_score = score[positive], score[~positive]
    pos_cluster, neg_cluster = cluster_of[positive], cluster_of[~positive]
    pos_placement = placements(np.sort(neg_score), pos_score, above=False)
    neg_placement = placements(np.sort(pos_score), neg_score, above=True)
    by_pos = np.bincount(pos_cluster, pos_placement, minlength=k)
    by_neg = np.bincount(neg_cluster, neg_placement, minlength=k)
    # Pairs within one cluster: each positive against the negatives of its own cluster.
    neg_order = np.argsort(neg_cluster, kind="stable")
    neg_start = np.r_[0, np.cumsum(np.bincount(neg_cluster, minlength=k))]
    count = neg_start[pos_cluster + 1] - neg_start[pos_cluster]
    diff = np.repeat(pos_score, count) - neg_score[neg_order[concatenated_ranges(neg_start[pos_cluster], count)]]
    within = np.bincount(np.repeat(pos_cluster, count), (diff > 0) + 0.5 * (diff == 0), minlength=k)
    return pos_placement.sum() - by_pos - by_neg + within


def placements(sorted_other: np.ndarray, values: np.ndarray, above: bool) -> np.ndarray:
    """For each value, how many of ``sorted_other`` lie below it (or above, with ``above``), ties 1/2."""
    left = np.searchsorted(sorted_other, values, side="left")
    right = np.searchsorted(sorted_other, values, side="right")
    strictly = len(sorted_other) - right if above else left
    return strictly + 0.5 * (right - left)
