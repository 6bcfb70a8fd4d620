"""Model-based strategies: reuse and adapt a trained model's parameters."""

from ..registry import register_adapter
from .baseline import NoAdaptation

__all__ = ["NoAdaptation"]

register_adapter(
    "no_adaptation",
    "model",
    lambda estimator, random_state: NoAdaptation(estimator=estimator),
    description="Train on the labelled source only (the baseline)",
)
