"""Losses on a batch of target predictions that look across the rows: minimum class
confusion (MCC) and batch nuclear-norm maximisation (BNM).

Unlike the per-row entropy (:func:`~domainadapt.ops.prediction_entropy`), both read
the batch's prediction matrix as a whole, so that confident predictions are also
pushed to spread over the classes. They keep the dtype of the logits (float64 for
``torch.autograd.gradcheck``; half precision is computed in float32).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["batch_nuclear_norm_loss", "minimum_class_confusion"]


def _check(logits: Tensor, name: str) -> Tensor:
    if not isinstance(logits, Tensor) or logits.dim() != 2 or logits.shape[1] < 1:
        raise ValueError(
            f"{name}: logits must be a tensor of shape (n_rows, n_classes); got "
            f"{tuple(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__}."
        )
    if logits.shape[0] == 0:
        raise ValueError(f"{name}: logits hold no row.")
    return logits if logits.dtype in (torch.float32, torch.float64) else logits.float()


def minimum_class_confusion(logits: Tensor, temperature: float = 2.5) -> Tensor:
    r"""Minimum class confusion loss (MCC) of a batch of target predictions.

    .. math:: \hat Y = \mathrm{softmax}(Z / T),\quad
              w_i = n\,\frac{1 + e^{-H(\hat y_i)}}{\sum_{i'} (1 + e^{-H(\hat y_{i'})})},\quad
              C = \hat Y^\top \mathrm{diag}(w)\, \hat Y,\quad
              \tilde C_{jk} = \frac{C_{jk}}{\sum_{k'} C_{jk'}},\quad
              \mathcal L_{MCC} = \frac1K \sum_{j \ne k} \tilde C_{jk}

    :math:`C_{jk}` is how often the batch's predictions put mass on classes
    :math:`j` and :math:`k` together (weighted towards the confident rows, whose
    entropy :math:`H` is low); after normalising each class's row, the off-diagonal
    sum is the confusion between classes. It is 0 for one-hot predictions and
    :math:`(K - 1) / K` for uniform ones.

    Parameters
    ----------
    logits : Tensor of shape (n, n_classes)
        Class scores of a batch of target rows.
    temperature : float, default=2.5
        :math:`T`, the probability rescaling (2.5 in the paper's code).

    Returns
    -------
    Tensor
        A scalar in :math:`[0, (K - 1) / K]`.

    References
    ----------
    Y. Jin, X. Wang, M. Long, J. Wang. "Minimum Class Confusion for Versatile
    Domain Adaptation". ECCV 2020.

    Examples
    --------
    >>> import torch
    >>> round(float(minimum_class_confusion(torch.zeros(4, 3))), 4)  # uniform: (K-1)/K
    0.6667
    >>> float(minimum_class_confusion(100 * torch.eye(3))) < 1e-6  # one-hot
    True
    """
    if not temperature > 0:
        raise ValueError(f"minimum_class_confusion: temperature must be > 0; got {temperature}.")
    z = _check(logits, "minimum_class_confusion")
    n, k = z.shape
    p = F.softmax(z / float(temperature), dim=1)
    entropy = -(p * torch.log(p.clamp_min(torch.finfo(p.dtype).tiny))).sum(1)
    w = 1.0 + torch.exp(-entropy)
    w = (n * w / w.sum()).unsqueeze(1)
    confusion = (p * w).t() @ p
    confusion = confusion / confusion.sum(1, keepdim=True).clamp_min(torch.finfo(p.dtype).tiny)
    return (confusion.sum() - torch.trace(confusion)) / k


def batch_nuclear_norm_loss(logits: Tensor) -> Tensor:
    r"""Batch nuclear-norm maximisation loss (BNM): minus the nuclear norm of the
    batch's prediction matrix over the batch size.

    .. math:: \mathcal L_{BNM} = -\frac{1}{n}\,\lVert \mathrm{softmax}(Z) \rVert_*

    The nuclear norm (sum of singular values) of the :math:`n \times K` probability
    matrix grows with the predictions' confidence (it bounds the Frobenius norm) and
    with their diversity (it approximates the rank, the number of classes in use).
    Differentiable (through :func:`torch.linalg.svdvals`); the score variant of
    model selection is :class:`~domainadapt.selection.BatchNuclearNormScorer`.

    Parameters
    ----------
    logits : Tensor of shape (n, n_classes)
        Class scores of a batch of target rows.

    Returns
    -------
    Tensor
        A scalar in :math:`[-\sqrt{\min(n, K)/n}, 0)`: :math:`-1` for confident
        predictions of ``n <= K`` distinct classes.

    References
    ----------
    S. Cui, S. Wang, J. Zhuo, L. Li, Q. Huang, Q. Tian. "Towards Discriminability
    and Diversity: Batch Nuclear-norm Maximization under Label Insufficient
    Situations". CVPR 2020.

    Examples
    --------
    >>> import torch
    >>> round(float(batch_nuclear_norm_loss(100 * torch.eye(3))), 4)  # one-hot, 3 classes
    -1.0
    >>> round(float(batch_nuclear_norm_loss(torch.zeros(4, 3))), 4)  # uniform: rank 1
    -0.2887
    """
    p = F.softmax(_check(logits, "batch_nuclear_norm_loss"), dim=1)
    return -torch.linalg.svdvals(p).sum() / p.shape[0]
