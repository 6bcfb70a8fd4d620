"""Instance-based strategies: importance weights for the source rows."""

from ..registry import register_adapter
from .classifier_ratio import ClassifierDensityRatio

__all__ = ["ClassifierDensityRatio"]

register_adapter(
    "classifier_ratio",
    "instance",
    lambda estimator, random_state: ClassifierDensityRatio(
        estimator=estimator, random_state=random_state
    ),
    description="Importance weights from a domain classifier (Bickel et al. 2009)",
)
