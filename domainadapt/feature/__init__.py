"""Feature-based strategies: align the representations of source and target."""

from ..registry import register_adapter
from .coral import CORAL

__all__ = ["CORAL"]

register_adapter(
    "coral",
    "feature",
    lambda estimator, random_state: CORAL(estimator=estimator),
    description="CORAL: align second-order statistics (Sun et al. 2016)",
)
