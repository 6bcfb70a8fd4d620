"""Domain-adversarial neural network (DANN)."""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Real
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._utils import Interval
from ..ops import ReversalSchedule, gradient_reverse
from ..training import DeepAdapter
from ..training.data import Batch
from ..training.joint import forward_joint
from ..training.networks import Discriminator

__all__ = ["DANN"]


class DANN(DeepAdapter):
    r"""Domain-adversarial training: features that a domain discriminator cannot tell apart.

    .. math:: \min_{F, C}\max_{D}\; \mathcal L_{cls}(C \circ F)
              - \lambda_p\, \mathcal L_{dom}(D \circ F),\qquad
              \lambda_p = \lambda\Big(\frac{2}{1 + e^{-\gamma p}} - 1\Big)

    trained in one step per batch through a gradient-reversal layer between the
    features and the discriminator; :math:`\mathcal L_{dom}` is the binary
    cross-entropy of the discriminator (source = 1, target = 0) and :math:`p` the
    training progress. The discriminator ends in a single logit (a sigmoid, not a
    one-unit softmax, which would pass no gradient).

    Parameters
    ----------
    trade_off : float, default=1.0
        :math:`\lambda`, the final reversal coefficient.
    reversal_gamma : float, default=10.0
        :math:`\gamma` of the schedule (the paper's value).
    discriminator_hidden_sizes : sequence of int, default=(64,)
        Hidden layers of the discriminator MLP.
    **kwargs
        Parameters shared by every deep strategy, documented in
        :class:`~domainadapt.training.DeepAdapter`: ``network``, ``hidden_sizes``,
        ``dropout``, ``n_epochs``, ``batch_size``, ``lr``, ``optimizer``,
        ``weight_decay``, ``lr_schedule``, ``device``, ``callbacks``, ``estimator``,
        ``random_state``, ...

    Attributes
    ----------
    parts_ : nn.ModuleDict
        The trained modules: ``"features"``, ``"classifier"``, ``"discriminator"``.
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
    domainadapt.model.CDAN : Adversarial training conditioned on the predictions.
    domainadapt.model.MCD : Two classifiers whose disagreement the features minimise.
    domainadapt.model.DAN : Multi-kernel MMD on the last layers.
    domainadapt.model.SourceOnly : The same network without an adaptation term.

    References
    ----------
    Y. Ganin, E. Ustinova, H. Ajakan, P. Germain, H. Larochelle, F. Laviolette,
    M. Marchand, V. Lempitsky. "Domain-Adversarial Training of Neural Networks".
    JMLR 17(59), 2016.

    Examples
    --------
    >>> from domainadapt.datasets import make_rotated_moons
    >>> from domainadapt.model import DANN
    >>> source, target = make_rotated_moons(random_state=0)
    >>> model = DANN(hidden_sizes=(16,), n_epochs=5, random_state=0)
    >>> model = model.fit(source, target.X)
    >>> model.predict(target.X[:5]).shape
    (5,)
    >>> model.classes_
    array([0, 1])
    >>> model.n_features_in_
    2
    """

    _parameter_constraints: dict = {
        **DeepAdapter._parameter_constraints,
        "trade_off": [Interval(Real, 0, None, closed="neither")],
        "reversal_gamma": [Interval(Real, 0, None, closed="neither")],
        "discriminator_hidden_sizes": ["array-like"],
    }

    def __init__(
        self,
        trade_off: float = 1.0,
        reversal_gamma: float = 10.0,
        discriminator_hidden_sizes: Sequence[int] = (64,),
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.trade_off = trade_off
        self.reversal_gamma = reversal_gamma
        self.discriminator_hidden_sizes = discriminator_hidden_sizes

    def _discriminator_input_dim(self, feature_dim: int, n_classes: int) -> int:
        return feature_dim

    def _build_parts(self, input_shape: tuple[int, ...], n_classes: int) -> dict[str, nn.Module]:
        features, dim = self._build_features(input_shape)
        return {
            "features": features,
            "classifier": nn.Linear(dim, n_classes),
            "discriminator": Discriminator(
                self._discriminator_input_dim(dim, n_classes), self.discriminator_hidden_sizes
            ),
        }

    def _make_reversal_schedule(self, max_steps: int) -> ReversalSchedule:
        return ReversalSchedule(
            max_steps=max_steps, gamma=float(self.reversal_gamma), max_coeff=float(self.trade_off)
        )

    @staticmethod
    def domain_loss(
        scores: Tensor, n_source: int, weights: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Binary cross-entropy of the discriminator (source rows first, label 1) and its accuracy."""
        labels = torch.zeros_like(scores, dtype=torch.float32)
        labels[:n_source] = 1.0
        loss = F.binary_cross_entropy_with_logits(
            scores.float(),
            labels,
            weight=weights,
            reduction="sum" if weights is not None else "mean",
        )
        acc = ((scores.detach() > 0).float() == labels).float().mean()
        return loss, acc

    def _training_loss(
        self, parts: nn.ModuleDict, batch: Batch, state: Any
    ) -> tuple[Tensor, dict[str, Any]]:
        f, _, cls = forward_joint(self, parts, batch)
        scores = parts["discriminator"](gradient_reverse(f, state.reversal.coeff))
        dom, acc = self.domain_loss(scores, batch.n_source)
        return cls + dom, {
            "classification": cls.detach(),
            "domain": dom.detach(),
            "domain_acc": acc,
        }
