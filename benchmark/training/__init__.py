"""Training: the loop (fit), losses, optimisers, augmentation, DDP, inference and the run pipeline."""
