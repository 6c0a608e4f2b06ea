"""Early stopping: keep the best epoch by the recipe's ``select_on``, stop when patience runs out."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from benchmark.recipe import Recipe
from benchmark.training.checkpoint import TrainingState


@dataclass(frozen=True)
class EarlyStopping:
    """The recipe's stopping rule. Its bookkeeping (best score, epoch and weights, epochs without
    improvement) lives in the TrainingState, so the checkpoint carries it across a resume."""

    maximise: bool  # select_on val_auroc; else the validation loss is minimised
    patience: int | None  # None: never stop early
    frozen_epochs: int  # length of the first (frozen) stage; it is never cut short

    @classmethod
    def from_recipe(cls, recipe: Recipe) -> EarlyStopping:
        return cls(recipe.select_on == "val_auroc", recipe.early_stopping_patience, recipe.frozen_epochs)

    def update(self, state: TrainingState, epoch: int, scores: dict[str, float], model: nn.Module) -> bool:
        """Record ``epoch``'s validation ``scores`` (and ``model``'s weights when they are the best so
        far) in ``state``; True when training should stop after this epoch."""
        monitored = -scores["val_auroc"] if self.maximise else scores["val_loss"]
        if monitored < state.best_score:
            state.best_score, state.best_epoch, state.bad_epochs = monitored, epoch, 0
            state.best_model = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        else:
            state.bad_epochs += 1
        if epoch + 1 == self.frozen_epochs:  # fine-tuning gets its own patience, as Keras' second fit()
            state.bad_epochs = 0
        in_first_stage = epoch + 1 < self.frozen_epochs
        return self.patience is not None and state.bad_epochs >= self.patience and not in_first_stage
