"""Relation-based strategies: transfer the relations between samples across domains.

:class:`LabelPropagation` spreads source labels to the target over a bipartite
source-target k-NN graph; :mod:`~domainadapt.relation.losses` holds the
relation losses of relational knowledge distillation (RKD) and the
class-conditional / contrastive domain discrepancy (CAN).
"""

from ..registry import register_adapter
from .label_propagation import LabelPropagation, spread_labels, symmetric_normalize
from .losses import (
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
    "LabelPropagation",
    "RKDAngleLoss",
    "RKDDistanceLoss",
    "class_discrepancy_matrix",
    "contrastive_domain_discrepancy",
    "rkd_angle_loss",
    "rkd_distance_loss",
    "spread_labels",
    "symmetric_normalize",
]

register_adapter(
    "label_propagation",
    "relation",
    lambda estimator, random_state: LabelPropagation(estimator=estimator),
    description="Label spreading on a bipartite source-target k-NN graph (Zhou et al. 2003)",
)
