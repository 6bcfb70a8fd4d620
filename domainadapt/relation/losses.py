"""Relation losses, re-exported from :mod:`domainadapt.ops.relation_losses`.

Kept because :mod:`.class_relation` and :mod:`.distillation` still import
``from .losses``; delete once they import from :mod:`domainadapt.ops`.
"""

from ..ops.relation_losses import (
    ContrastiveDomainDiscrepancyLoss,
    RKDAngleLoss,
    RKDDistanceLoss,
    class_discrepancy_matrix,
    contrastive_domain_discrepancy,
    rkd_angle_loss,
    rkd_distance_loss,
)

__all__ = [
    "ContrastiveDomainDiscrepancyLoss",
    "RKDAngleLoss",
    "RKDDistanceLoss",
    "class_discrepancy_matrix",
    "contrastive_domain_discrepancy",
    "rkd_angle_loss",
    "rkd_distance_loss",
]
