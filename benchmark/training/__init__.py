"""Training: the loop (``loop.fit``: train_one_epoch, validate) and its parts, one job each: ``losses``,
``optim`` (optimiser, learning-rate schedule), ``early_stopping``, ``checkpoint``, ``augment`` (batched, on the
training device), ``prefetch`` (batches gathered ahead), ``ddp`` (data parallelism), ``inference``; ``runner`` is
the run pipeline around them."""
