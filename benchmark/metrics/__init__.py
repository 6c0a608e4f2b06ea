"""Metrics: the metric registry, vectorised (cluster-weighted) AUROC, threshold rules, Predictions arrays."""
