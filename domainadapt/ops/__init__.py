"""Core torch ops of domainadapt: kernels, MMD estimators, gradient reversal.

Public API
----------
mmd, joint_mmd, mmd_test, MMDTestResult
    MMD² estimators (biased / unbiased / linear-time, weighted, multi-kernel, joint),
    memory-bounded beyond a block size, and the two-sample permutation test.
kernel_matrix, kernel_matvec, pairwise_sq_dists, bandwidth_heuristic
    Kernel helpers; :func:`kernel_matvec` computes ``K(X, Y) @ v`` tile by tile.
gradient_reverse, GradientReversal, ReversalSchedule
    DANN's gradient reversal and its coefficient schedule.
MMDLoss, JointMMDLoss
    ``nn.Module`` wrappers.
all_gather_rows
    Differentiable all-gather used by ``group=``.
"""

from .distributed import all_gather_rows
from .kernels import (
    KernelSpec,
    bandwidth_heuristic,
    kernel_matrix,
    kernel_matvec,
    pairwise_sq_dists,
)
from .mmd import JointMMDLoss, MMDLoss, joint_mmd, mmd
from .reversal import GradientReversal, ReversalSchedule, gradient_reverse
from .testing import MMDTestResult, mmd_test

__all__ = [
    "GradientReversal",
    "JointMMDLoss",
    "KernelSpec",
    "MMDLoss",
    "MMDTestResult",
    "ReversalSchedule",
    "all_gather_rows",
    "bandwidth_heuristic",
    "gradient_reverse",
    "joint_mmd",
    "kernel_matrix",
    "kernel_matvec",
    "mmd",
    "mmd_test",
    "pairwise_sq_dists",
]
