"""Losses on the predictions of unlabelled rows: entropy (TENT) and information
maximisation (SHOT).

Both take class scores (logits) and are differentiable; they need no label and no
source row, which is what makes the source-free / test-time methods built on them
(:class:`~domainadapt.model.SHOT`, :class:`~domainadapt.model.TENT`) possible.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["information_maximization", "prediction_entropy"]


def _check_logits(logits: Tensor, name: str) -> Tensor:
    if not isinstance(logits, Tensor) or logits.dim() != 2 or logits.shape[1] < 1:
        raise ValueError(
            f"{name}: logits must be a tensor of shape (n_rows, n_classes); got "
            f"{tuple(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__}."
        )
    if logits.shape[0] == 0:
        raise ValueError(f"{name}: logits hold no row.")
    return logits.float()


def prediction_entropy(logits: Tensor, reduction: str = "mean") -> Tensor:
    r"""Shannon entropy of the softmax predictions (TENT's objective).

    .. math:: H(x) = -\sum_k p_k(x) \log p_k(x),\qquad p(x) = \mathrm{softmax}(z(x))

    Parameters
    ----------
    logits : Tensor of shape (n, n_classes)
    reduction : {"mean", "sum", "none"}, default="mean"

    Returns
    -------
    Tensor
        A scalar, or the per-row entropies (``"none"``), in nats.

    References
    ----------
    D. Wang, E. Shelhamer, S. Liu, B. Olshausen, T. Darrell. "Tent: Fully
    Test-time Adaptation by Entropy Minimization". ICLR 2021.
    """
    logp = F.log_softmax(_check_logits(logits, "prediction_entropy"), dim=1)
    h = -(logp.exp() * logp).sum(1)
    if reduction == "mean":
        return h.mean()
    if reduction == "sum":
        return h.sum()
    if reduction == "none":
        return h
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none'; got {reduction!r}.")


def information_maximization(
    logits: Tensor, diversity_weight: float = 1.0, eps: float = 1e-6
) -> Tensor:
    r"""Information-maximisation loss of SHOT: confident and diverse predictions.

    .. math:: \mathcal L_{IM} = \underbrace{-\frac1n\sum_i\sum_k p_{ik}\log p_{ik}}_{\text{mean entropy}}
              \;-\; \lambda\,\underbrace{\Big(-\sum_k \bar p_k \log \bar p_k\Big)}_{\text{diversity}},
              \qquad \bar p = \frac1n\sum_i p_i

    Minimising the first term makes each prediction confident; maximising the
    entropy of the mean prediction keeps the classes in use (no collapse onto one
    class). It is the negative mutual information between inputs and predicted
    labels when :math:`\lambda = 1`; its minimum is :math:`-\lambda\log K`.

    Parameters
    ----------
    logits : Tensor of shape (n, n_classes)
        Class scores of a batch of unlabelled rows.
    diversity_weight : float, default=1.0
        :math:`\lambda` (1 in the paper).
    eps : float, default=1e-6
        Added inside the logarithm of :math:`\bar p`.

    Returns
    -------
    Tensor
        A scalar.

    See Also
    --------
    domainadapt.selection.information_maximization : at ``diversity_weight=1``
        the same quantity with the opposite sign (a score, higher is better, on
        NumPy probabilities) for choosing among fitted models; not a loss.

    References
    ----------
    J. Liang, D. Hu, J. Feng. "Do We Really Need to Access the Source Data? Source
    Hypothesis Transfer for Unsupervised Domain Adaptation". ICML 2020.
    """
    logits = _check_logits(logits, "information_maximization")
    p = F.softmax(logits, dim=1)
    mean_entropy = prediction_entropy(logits)
    p_bar = p.mean(0)
    diversity = -(p_bar * torch.log(p_bar + eps)).sum()
    return mean_entropy - float(diversity_weight) * diversity
