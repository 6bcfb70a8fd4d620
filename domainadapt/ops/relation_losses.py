"""Relation losses: relational knowledge distillation and class-conditional discrepancy.

Pure torch functions plus thin ``nn.Module`` wrappers:

* :func:`rkd_distance_loss`, :func:`rkd_angle_loss` (Park et al., CVPR 2019): a
  student's pairwise distances and triplet angles match a teacher's;
* :func:`class_discrepancy_matrix` and :func:`contrastive_domain_discrepancy`
  (Kang et al., CVPR 2019, CAN): MMD between source class ``c`` and target class
  ``c'`` for every pair, on one kernel matrix built with
  :func:`domainadapt.ops.kernel_matrix`.

Used by :class:`~domainadapt.relation.RelationalDistillation` and
:class:`~domainadapt.relation.ClassRelationAlignment`, re-exported by
:mod:`domainadapt.relation`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._validation import want_value_checks
from .kernels import kernel_matrix

__all__ = [
    "ContrastiveDomainDiscrepancyLoss",
    "RKDAngleLoss",
    "RKDDistanceLoss",
    "class_discrepancy_matrix",
    "contrastive_domain_discrepancy",
    "rkd_angle_loss",
    "rkd_distance_loss",
]


def _check_pair(student: Tensor, teacher: Tensor) -> None:
    for name, t in (("student", student), ("teacher", teacher)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor; got {type(t).__name__}.")
        if t.dim() != 2:
            raise ValueError(f"{name} must be 2-D (batch, features); got shape {tuple(t.shape)}.")
    if student.shape[0] != teacher.shape[0]:
        raise ValueError(
            f"student and teacher must hold the same rows: {student.shape[0]} vs "
            f"{teacher.shape[0]}."
        )


def _normalised_distances(Z: Tensor, eps: float) -> Tensor:
    """Pairwise distances divided by their mean over the off-diagonal pairs (0 on the
    diagonal). Masks are multiplied in, not gathered by a boolean index, which would
    make the host wait for the device to count them."""
    n = Z.shape[0]
    diff = Z[:, None, :] - Z[None, :, :]
    sq = (diff * diff).sum(-1)
    off = (~torch.eye(n, dtype=torch.bool, device=Z.device)).to(sq.dtype)
    # the clamp keeps sqrt's infinite gradient at 0 out of the diagonal, which the mask
    # then zeroes
    D = torch.sqrt(sq.clamp_min(eps)) * off
    mean = (D.sum() / (n * (n - 1))).clamp_min(eps)
    return D / mean


def rkd_distance_loss(student: Tensor, teacher: Tensor, eps: float = 1e-12) -> Tensor:
    r"""RKD distance loss: Huber loss between mean-normalised pairwise distances.

    .. math:: \mathcal L_D = \frac{1}{n(n-1)} \sum_{i \ne j}
              \ell_\delta\Big(\frac{\|t_i - t_j\|}{\mu_t}, \frac{\|s_i - s_j\|}{\mu_s}\Big)

    :math:`\mu` is the mean distance over the batch's pairs and :math:`\ell_\delta`
    the Huber loss with :math:`\delta = 1` (PyTorch's ``smooth_l1_loss``).
    ``student`` and ``teacher`` may have different widths; the teacher is
    detached.

    References
    ----------
    W. Park, D. Kim, Y. Lu, M. Cho. "Relational knowledge distillation". CVPR 2019.
    """
    _check_pair(student, teacher)
    if student.shape[0] < 2:
        raise ValueError("rkd_distance_loss needs at least 2 rows.")
    n = student.shape[0]
    with torch.no_grad():
        t = _normalised_distances(teacher.detach(), eps)
    s = _normalised_distances(student, eps)
    # mean over the n(n-1) off-diagonal pairs: the diagonal is 0 in both, its loss 0
    return F.smooth_l1_loss(s, t.to(s.dtype), reduction="sum") / (n * (n - 1))


def _angles(Z: Tensor, eps: float) -> Tensor:
    """``A[j, i, k] = cos`` of the angle at vertex ``j`` between ``z_i`` and ``z_k``."""
    e = Z[None, :, :] - Z[:, None, :]  # e[j, i] = z_i - z_j
    e = F.normalize(e, p=2, dim=2, eps=eps)
    return torch.bmm(e, e.transpose(1, 2))


def rkd_angle_loss(student: Tensor, teacher: Tensor, eps: float = 1e-12) -> Tensor:
    r"""RKD angle loss: Huber loss between the cosines of all triplet angles.

    .. math:: \mathcal L_A = \frac{1}{|\mathcal T|}\sum_{(i,j,k) \in \mathcal T}
              \ell_\delta\big(\langle e^t_{ij}, e^t_{kj}\rangle,
              \langle e^s_{ij}, e^s_{kj}\rangle\big),\quad
              e_{ij} = \frac{z_i - z_j}{\|z_i - z_j\|}

    over the triplets of distinct rows :math:`\mathcal T` (vertex :math:`j`).

    References
    ----------
    W. Park, D. Kim, Y. Lu, M. Cho. "Relational knowledge distillation". CVPR 2019.
    """
    _check_pair(student, teacher)
    n = student.shape[0]
    if n < 3:
        raise ValueError("rkd_angle_loss needs at least 3 rows.")
    idx = torch.arange(n, device=student.device)
    distinct = (
        (idx[:, None, None] != idx[None, :, None])
        & (idx[None, :, None] != idx[None, None, :])
        & (idx[:, None, None] != idx[None, None, :])
    )
    with torch.no_grad():
        t = _angles(teacher.detach(), eps)
    s = _angles(student, eps)
    # Masked mean over the n(n-1)(n-2) distinct triplets (a multiply, not a boolean
    # gather, which would copy the n^3 entries twice and sync to count them).
    per_triplet = F.smooth_l1_loss(s, t.to(s.dtype), reduction="none")
    return (per_triplet * distinct.to(s.dtype)).sum() / (n * (n - 1) * (n - 2))


class RKDDistanceLoss(nn.Module):
    """``nn.Module`` form of :func:`rkd_distance_loss`.

    Examples
    --------
    Distances are normalised by their mean, so a rescaled teacher costs nothing;
    an unrelated one does:

    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> teacher = torch.randn(16, 4)
    >>> loss = RKDDistanceLoss()
    >>> float(loss(2.0 * teacher, teacher)) < 1e-6
    True
    >>> float(loss(torch.randn(16, 8), teacher)) > 0.01
    True
    """

    def forward(self, student: Tensor, teacher: Tensor) -> Tensor:
        return rkd_distance_loss(student, teacher)


class RKDAngleLoss(nn.Module):
    """``nn.Module`` form of :func:`rkd_angle_loss`.

    Examples
    --------
    Angles survive scaling and translation; an unrelated student does not match:

    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> teacher = torch.randn(16, 4)
    >>> loss = RKDAngleLoss()
    >>> float(loss(2.0 * teacher + 1.0, teacher)) < 1e-6
    True
    >>> float(loss(torch.randn(16, 4), teacher)) > 0.01
    True
    """

    def forward(self, student: Tensor, teacher: Tensor) -> Tensor:
        return rkd_angle_loss(student, teacher)


# ----------------------------------------------------------------------------- CDD
def _class_weights(labels: Tensor, n_classes: int, name: str) -> Tensor:
    """(n, C) membership weights from hard labels (n,) or probabilities (n, C)."""
    if labels.dim() == 1:
        if labels.dtype.is_floating_point:
            raise TypeError(f"{name} must be integer class indices or (n, C) probabilities.")
        # on accelerators the range check would synchronise; one_hot's scatter asserts there
        if (
            want_value_checks(labels, None)
            and labels.numel()
            and (int(labels.min()) < 0 or int(labels.max()) >= n_classes)
        ):
            raise ValueError(f"{name} must lie in [0, {n_classes}); got values outside.")
        return F.one_hot(labels.long(), n_classes).to(torch.get_default_dtype())
    if labels.dim() == 2 and labels.shape[1] == n_classes:
        return labels
    raise ValueError(f"{name} must have shape (n,) or (n, {n_classes}); got {tuple(labels.shape)}.")


def class_discrepancy_matrix(
    source: Tensor,
    target: Tensor,
    source_labels: Tensor,
    target_labels: Tensor,
    n_classes: int,
    *,
    kernel: str = "gaussian",
    bandwidth: float | Tensor | str | None = None,
    multipliers: float | Sequence[float] = (0.5, 1.0, 2.0),
) -> tuple[Tensor, Tensor]:
    r"""Biased MMD² between source class :math:`c` and target class :math:`c'`, for all pairs.

    .. math:: D^{cc'} = \frac{a_c^\top K_{ss} a_c}{(1^\top a_c)^2}
              + \frac{b_{c'}^\top K_{tt} b_{c'}}{(1^\top b_{c'})^2}
              - 2\,\frac{a_c^\top K_{st} b_{c'}}{(1^\top a_c)(1^\top b_{c'})}

    with :math:`a_c` the source membership of class :math:`c` (one-hot labels)
    and :math:`b_{c'}` the target membership (hard pseudo-labels or
    probabilities). One kernel matrix on the pooled rows
    (:func:`domainadapt.ops.kernel_matrix`, bandwidth from the pooled sample);
    the diagonal :math:`D^{cc}` equals ``domainadapt.ops.mmd`` with class
    weights.

    Returns
    -------
    D : Tensor of shape (n_classes, n_classes)
    present : Tensor of bool, shape (n_classes, n_classes)
        Whether both classes have positive mass (absent pairs are 0 in ``D``).
    """
    if source.dim() != 2 or target.dim() != 2 or source.shape[1] != target.shape[1]:
        raise ValueError(
            "source and target must be 2-D with the same number of features; got "
            f"{tuple(source.shape)} and {tuple(target.shape)}."
        )
    A = _class_weights(source_labels, n_classes, "source_labels").to(source.dtype)
    B = _class_weights(target_labels, n_classes, "target_labels").to(source.dtype)
    if A.shape[0] != source.shape[0] or B.shape[0] != target.shape[0]:
        raise ValueError("source_labels / target_labels must have one entry per row.")
    n = source.shape[0]
    Z = torch.cat([source, target])
    K = kernel_matrix(Z, kernel=kernel, bandwidth=bandwidth, multipliers=multipliers)
    Kss, Kst, Ktt = K[:n, :n], K[:n, n:], K[n:, n:]
    mass_s, mass_t = A.sum(0), B.sum(0)
    present_s, present_t = mass_s > 0, mass_t > 0
    An = A / torch.where(present_s, mass_s, torch.ones_like(mass_s))
    Bn = B / torch.where(present_t, mass_t, torch.ones_like(mass_t))
    e_ss = (An * (Kss @ An)).sum(0)  # (C,)
    e_tt = (Bn * (Ktt @ Bn)).sum(0)  # (C,)
    e_st = An.T @ Kst @ Bn  # (C, C)
    D = e_ss[:, None] + e_tt[None, :] - 2.0 * e_st
    present = present_s[:, None] & present_t[None, :]
    return torch.where(present, D, torch.zeros_like(D)), present


def contrastive_domain_discrepancy(
    source: Tensor,
    target: Tensor,
    source_labels: Tensor,
    target_labels: Tensor,
    n_classes: int,
    *,
    contrastive: bool = True,
    kernel: str = "gaussian",
    bandwidth: float | Tensor | str | None = None,
    multipliers: float | Sequence[float] = (0.5, 1.0, 2.0),
) -> Tensor:
    r"""Contrastive domain discrepancy (CDD) of CAN.

    .. math:: \mathcal D^{cdd} = \frac1{M}\sum_{c} D^{cc}
              - \frac{1}{M(M-1)} \sum_{c \ne c'} D^{cc'}

    over the :math:`M` classes present in both domains: the same class of the
    two domains is pulled together, different classes are pushed apart. With
    ``contrastive=False`` only the first term (class-conditional MMD). Target
    labels are pseudo-labels (hard or soft); never the true target labels.

    References
    ----------
    G. Kang, L. Jiang, Y. Yang, A. G. Hauptmann. "Contrastive adaptation network
    for unsupervised domain adaptation". CVPR 2019.
    """
    D, present = class_discrepancy_matrix(
        source,
        target,
        source_labels,
        target_labels,
        n_classes,
        kernel=kernel,
        bandwidth=bandwidth,
        multipliers=multipliers,
    )
    # masks as weights, no count read back on the host (no synchronisation): with no
    # shared class the loss is 0 (graph kept), with one only the intra term remains
    w = torch.diagonal(present).to(D.dtype)
    M = w.sum()
    intra = (torch.diagonal(D) * w).sum() / M.clamp_min(1.0)
    if not contrastive:
        return intra
    pairs = w[:, None] * w[None, :]
    pairs = pairs - torch.diag_embed(w)  # c != c'
    inter = (D * pairs).sum() / (M * (M - 1.0)).clamp_min(1.0)
    return intra - inter


class ContrastiveDomainDiscrepancyLoss(nn.Module):
    """``nn.Module`` form of :func:`contrastive_domain_discrepancy`.

    Examples
    --------
    Two well-separated classes: with matching (pseudo-)labels the same class of the
    two domains coincides and different classes are far apart, so CDD is negative;
    swapped labels make it positive. Without the contrastive term, the
    class-conditional MMD is 0 on identical domains:

    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> labels = torch.arange(32) % 2
    >>> source = torch.randn(32, 4) + 4.0 * labels[:, None]
    >>> loss = ContrastiveDomainDiscrepancyLoss(n_classes=2)
    >>> float(loss(source, source, labels, labels)) < 0
    True
    >>> float(loss(source, source, labels, 1 - labels)) > 0
    True
    >>> mmd_only = ContrastiveDomainDiscrepancyLoss(n_classes=2, contrastive=False)
    >>> float(mmd_only(source, source, labels, labels)) < 1e-6
    True
    """

    def __init__(
        self,
        n_classes: int,
        *,
        contrastive: bool = True,
        kernel: str = "gaussian",
        bandwidth: float | None = None,
        multipliers: Sequence[float] = (0.5, 1.0, 2.0),
    ):
        super().__init__()
        if isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 1:
            raise ValueError(f"n_classes must be an integer >= 1; got {n_classes!r}.")
        self.n_classes = n_classes
        self.contrastive = contrastive
        self.kernel = kernel
        self.bandwidth = bandwidth
        self.multipliers = tuple(multipliers)

    def forward(
        self, source: Tensor, target: Tensor, source_labels: Tensor, target_labels: Tensor
    ) -> Tensor:
        return contrastive_domain_discrepancy(
            source,
            target,
            source_labels,
            target_labels,
            self.n_classes,
            contrastive=self.contrastive,
            kernel=self.kernel,
            bandwidth=self.bandwidth,
            multipliers=self.multipliers,
        )
