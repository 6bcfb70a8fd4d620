"""Relation-based strategies: transfer the relations between samples across domains.

:class:`LabelPropagation` spreads source labels to the target over a bipartite
source-target k-NN graph. The relation losses of relational knowledge
distillation (RKD) and the class-conditional / contrastive domain discrepancy
(CAN) live in :mod:`domainadapt.ops.relation_losses` and are re-exported here.
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
from ..registry import register
from .label_propagation import LabelPropagation, spread_labels, symmetric_normalize

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

register("label_propagation", "relation",
         "Label spreading on a bipartite source-target k-NN graph (Zhou et al. 2003)",
         )(LabelPropagation)

# Deep relation-based strategies (CAN, RKD): registered with the small deep settings.
from .class_relation import ClassRelationAlignment, spherical_kmeans  # noqa: E402
from .distillation import RelationalDistillation  # noqa: E402

__all__ += ["ClassRelationAlignment", "RelationalDistillation", "spherical_kmeans"]

_DEEP_RELATION_SMALL = {"hidden_sizes": (16,), "n_epochs": 5, "batch_size": 64, "n_threads": 1}
_DEEP_RELATION = {"benchmark": False, "stochastic": True}

register("class_relation_alignment", "relation",
         "CAN: contrastive domain discrepancy on clustered target classes (Kang et al. 2019)",
         test_params={**_DEEP_RELATION_SMALL, "warmup_fraction": 0.4},
         **_DEEP_RELATION)(ClassRelationAlignment)
# batch_size=32 in the tests: the angle loss costs O(batch^3)
register("relational_distillation", "relation",
         "RKD: a student keeps a source-trained teacher's target relations (Park et al. 2019)",
         test_params={**_DEEP_RELATION_SMALL, "batch_size": 32, "teacher_hidden_sizes": (32,)},
         **_DEEP_RELATION)(RelationalDistillation)
