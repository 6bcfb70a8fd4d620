"""Core torch ops of domainadapt: kernels, MMD estimators, gradient reversal, and every
torch loss of the package.

Public API
----------
mmd, joint_mmd, mmd_test, MMDTestResult
    MMD² estimators (biased / unbiased / linear-time, weighted, multi-kernel, joint),
    memory-bounded beyond a block size, and the two-sample permutation test.
kernel_matrix, kernel_matvec, pairwise_sq_dists, bandwidth_heuristic
    Kernel helpers; :func:`kernel_matvec` computes ``K(X, Y) @ v`` tile by tile.
gradient_reverse, GradientReversal, ReversalSchedule
    DANN's gradient reversal and its coefficient schedule.
multilayer_mmd, MMDLoss, MMDAlignment, JointMMDLoss, JointMMDAlignment, coral_loss, DeepCORAL
    Alignment losses (DAN, JAN, Deep CORAL), functional and ``nn.Module`` forms
    (re-exported by :mod:`domainadapt.feature`).
rkd_distance_loss, rkd_angle_loss, class_discrepancy_matrix, contrastive_domain_discrepancy
    Relation losses (RKD, CAN) and their modules (re-exported by
    :mod:`domainadapt.relation`).
prediction_entropy, information_maximization
    Losses on unlabelled predictions (TENT, SHOT).
minimum_class_confusion, batch_nuclear_norm_loss
    Losses on a batch's prediction matrix (MCC, BNM).
all_gather_rows
    Differentiable all-gather used by ``group=``.
"""

from .alignment_losses import (
    DAN_MULTIPLIERS,
    DeepCORAL,
    JointMMDAlignment,
    JointMMDLoss,
    MMDAlignment,
    MMDLoss,
    coral_loss,
    multilayer_mmd,
)
from .confusion_losses import batch_nuclear_norm_loss, minimum_class_confusion
from .distributed import all_gather_rows
from .entropy_losses import information_maximization, prediction_entropy
from .kernels import (
    KernelSpec,
    bandwidth_heuristic,
    kernel_matrix,
    kernel_matvec,
    pairwise_sq_dists,
)
from .mmd import joint_mmd, mmd
from .relation_losses import (
    ContrastiveDomainDiscrepancyLoss,
    RKDAngleLoss,
    RKDDistanceLoss,
    class_discrepancy_matrix,
    contrastive_domain_discrepancy,
    rkd_angle_loss,
    rkd_distance_loss,
)
from .reversal import GradientReversal, ReversalSchedule, gradient_reverse
from .testing import MMDTestResult, mmd_test

__all__ = [
    "DAN_MULTIPLIERS",
    "ContrastiveDomainDiscrepancyLoss",
    "DeepCORAL",
    "GradientReversal",
    "JointMMDAlignment",
    "JointMMDLoss",
    "KernelSpec",
    "MMDAlignment",
    "MMDLoss",
    "MMDTestResult",
    "RKDAngleLoss",
    "RKDDistanceLoss",
    "ReversalSchedule",
    "all_gather_rows",
    "bandwidth_heuristic",
    "batch_nuclear_norm_loss",
    "class_discrepancy_matrix",
    "contrastive_domain_discrepancy",
    "coral_loss",
    "gradient_reverse",
    "information_maximization",
    "joint_mmd",
    "kernel_matrix",
    "kernel_matvec",
    "minimum_class_confusion",
    "mmd",
    "mmd_test",
    "multilayer_mmd",
    "pairwise_sq_dists",
    "prediction_entropy",
    "rkd_angle_loss",
    "rkd_distance_loss",
]
