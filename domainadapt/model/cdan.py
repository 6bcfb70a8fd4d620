"""Conditional domain-adversarial network (CDAN, CDAN+E)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Integral
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._utils import Interval
from ..ops import gradient_reverse
from ..training.data import Batch
from ..training.joint import forward_joint
from ..training.networks import Discriminator
from .dann import DANN

__all__ = ["CDAN", "MultilinearMap"]


class MultilinearMap(nn.Module):
    r"""The conditioning map :math:`T(f, g)` of CDAN.

    Exact: :math:`T_\otimes(f, g) = \mathrm{vec}(f \otimes g)` of width :math:`d_f C`.
    Randomized (when :math:`d_f C` is large): :math:`T_\odot(f, g) =
    \frac{1}{\sqrt{r}} (R_f f) \odot (R_g g)` with fixed Gaussian matrices
    :math:`R_f \in \mathbb R^{r\times d_f}, R_g \in \mathbb R^{r\times C}` (buffers,
    drawn once at construction), whose inner products approximate those of
    :math:`T_\otimes` in expectation.

    Parameters
    ----------
    feature_dim, n_classes : int
    random_dim : int or None
        ``None``: exact map; an int ``r``: the randomized map.
    """

    def __init__(self, feature_dim: int, n_classes: int, random_dim: int | None = None):
        super().__init__()
        self.feature_dim, self.n_classes, self.random_dim = feature_dim, n_classes, random_dim
        if random_dim is not None:
            self.register_buffer("R_f", torch.randn(random_dim, feature_dim))
            self.register_buffer("R_g", torch.randn(random_dim, n_classes))

    @property
    def out_features(self) -> int:
        return self.random_dim if self.random_dim is not None else self.feature_dim * self.n_classes

    def forward(self, f: Tensor, g: Tensor) -> Tensor:
        if self.random_dim is None:
            return torch.bmm(g.unsqueeze(2), f.unsqueeze(1)).flatten(1)
        return (f @ self.R_f.T) * (g @ self.R_g.T) / math.sqrt(self.random_dim)


class CDAN(DANN):
    r"""Conditional adversarial adaptation: the discriminator sees features *and* predictions.

    .. math:: \min_{F, C}\max_{D}\; \mathcal L_{cls}
              - \lambda_p\, \mathbb E\big[w(x)\, \ell_{dom}\big(D(T(f, g)), d\big)\big],
              \qquad f = F(x),\; g = \mathrm{softmax}(C(f))

    with :math:`T` the multilinear map :math:`f \otimes g` (randomized when
    :math:`d_f C` exceeds ``max_multilinear_dim``), the reversal schedule of DANN and,
    for CDAN+E (``entropy=True``), the entropy conditioning
    :math:`w(x) = 1 + e^{-H(g)}` normalised to sum to one per domain, which puts
    confident (easy-to-transfer) rows first. :math:`g` is detached in :math:`T` and
    :math:`w`, as in the paper's code.

    Parameters
    ----------
    entropy : bool, default=False
        CDAN+E.
    max_multilinear_dim : int, default=4096
        Use the randomized map above this width of :math:`f \otimes g`.
    random_dim : int, default=1024
        Width :math:`r` of the randomized map.
    trade_off, reversal_gamma, discriminator_hidden_sizes
        As in :class:`~domainadapt.model.DANN`.
    **kwargs
        Parameters shared by every deep strategy, documented in
        :class:`~domainadapt.training.DeepAdapter`: ``network``, ``hidden_sizes``,
        ``dropout``, ``n_epochs``, ``batch_size``, ``lr``, ``optimizer``,
        ``weight_decay``, ``lr_schedule``, ``device``, ``callbacks``, ``estimator``,
        ``random_state``, ...

    Attributes
    ----------
    parts_ : nn.ModuleDict
        The trained modules: ``"features"``, ``"classifier"``, ``"multilinear"``, ``"discriminator"``.
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    history_ : list of dict
        One record per epoch; these and the other fitted attributes
        (``n_iter_``, ``n_epochs_``, ``dropout_``, ...) as in
        :class:`~domainadapt.training.DeepAdapter`.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of the features seen during ``fit``; set only when the rows have
        string column names (e.g. a pandas DataFrame).

    See Also
    --------
    domainadapt.model.DANN : Domain-adversarial training through gradient reversal.
    domainadapt.model.MCD : Two classifiers whose disagreement the features minimise.
    domainadapt.model.JAN : Joint MMD of the features and the softmax outputs.

    References
    ----------
    M. Long, Z. Cao, J. Wang, M. I. Jordan. "Conditional Adversarial Domain
    Adaptation". NeurIPS 2018.

    Examples
    --------
    >>> from domainadapt.datasets import make_rotated_moons
    >>> from domainadapt.model import CDAN
    >>> source, target = make_rotated_moons(random_state=0)
    >>> model = CDAN(entropy=True, hidden_sizes=(16,), n_epochs=5, random_state=0)
    >>> model = model.fit(source, target.X)
    >>> model.predict(target.X[:5]).shape
    (5,)
    >>> model.classes_
    array([0, 1])
    >>> model.n_features_in_
    2
    """

    _parameter_constraints: dict = {
        **DANN._parameter_constraints,
        "entropy": ["boolean"],
        "max_multilinear_dim": [Interval(Integral, 1, None, closed="left")],
        "random_dim": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        entropy: bool = False,
        max_multilinear_dim: int = 4096,
        random_dim: int = 1024,
        trade_off: float = 1.0,
        reversal_gamma: float = 10.0,
        discriminator_hidden_sizes: Sequence[int] = (64,),
        **kwargs: Any,
    ):
        super().__init__(
            trade_off=trade_off,
            reversal_gamma=reversal_gamma,
            discriminator_hidden_sizes=discriminator_hidden_sizes,
            **kwargs,
        )
        self.entropy = entropy
        self.max_multilinear_dim = max_multilinear_dim
        self.random_dim = random_dim

    def _build_parts(self, input_shape: tuple[int, ...], n_classes: int) -> dict[str, nn.Module]:
        features, dim = self._build_features(input_shape)
        rdim = self.random_dim if dim * n_classes > self.max_multilinear_dim else None
        mapping = MultilinearMap(dim, n_classes, rdim)
        return {
            "features": features,
            "classifier": nn.Linear(dim, n_classes),
            "multilinear": mapping,
            "discriminator": Discriminator(mapping.out_features, self.discriminator_hidden_sizes),
        }

    def _training_loss(
        self, parts: nn.ModuleDict, batch: Batch, state: Any
    ) -> tuple[Tensor, dict[str, Any]]:
        f, logits, cls = forward_joint(self, parts, batch)
        ns = batch.n_source
        g = F.softmax(logits.float(), dim=1).detach()
        h = parts["multilinear"](f, g.to(f.dtype))
        scores = parts["discriminator"](gradient_reverse(h, state.reversal.coeff))
        weights = None
        if self.entropy:
            ent = -(g * torch.log(g.clamp_min(1e-12))).sum(1)
            w = 1.0 + torch.exp(-ent)
            w = torch.cat([w[:ns] / w[:ns].sum(), w[ns:] / w[ns:].sum()])
            weights = w / w.sum()
        dom, acc = self.domain_loss(scores, ns, weights)
        return cls + dom, {
            "classification": cls.detach(),
            "domain": dom.detach(),
            "domain_acc": acc,
        }
