"""The shortcut audit: a model trained with the lung field hidden, and on the lung field only."""
