"""Training: the loop (``loop.fit``: train_one_epoch, validate) and its parts, one job each: ``losses``,
``optim`` (optimiser, learning-rate schedule), ``early_stopping``, ``checkpoint``, ``augment``, ``ddp``
(data parallelism), ``inference``; ``runner`` is the run pipeline around them."""
