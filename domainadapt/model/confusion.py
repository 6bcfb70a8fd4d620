"""Minimum class confusion (MCC) and batch nuclear-norm maximisation (BNM): a loss on
the batch's target prediction matrix added to the supervised loss."""

from __future__ import annotations

from numbers import Real
from typing import Any

from torch import Tensor, nn

from .._utils import Interval
from ..ops import batch_nuclear_norm_loss, minimum_class_confusion
from ..training import DeepAdapter
from ..training.data import Batch
from ..training.joint import forward_joint

__all__ = ["BNM", "MCC"]


class _TargetPredictionLoss(DeepAdapter):
    """Supervised loss + ``trade_off`` x a loss on the target rows' logits."""

    _log_name = "target_loss"

    _parameter_constraints: dict = {
        **DeepAdapter._parameter_constraints,
        "trade_off": [Interval(Real, 0, None, closed="left")],
    }

    def _target_loss(self, logits_target: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _training_loss(
        self, parts: nn.ModuleDict, batch: Batch, state: Any
    ) -> tuple[Tensor, dict[str, Any]]:
        # source and target rows in one pass; cls includes the labelled target rows
        _, logits, cls = forward_joint(self, parts, batch)
        extra = self._target_loss(logits[batch.n_source :])
        return cls + float(self.trade_off) * extra, {
            "classification": cls.detach(),
            self._log_name: extra.detach(),
        }


class MCC(_TargetPredictionLoss):
    r"""Minimum class confusion: target predictions that do not mix classes.

    .. math:: \min_{F, C}\; \mathcal L_{cls}(C \circ F) + \lambda\,
              \mathcal L_{MCC}\big(C(F(x^t))\big)

    :math:`\mathcal L_{MCC}` (:func:`~domainadapt.ops.minimum_class_confusion`) is
    the normalised off-diagonal mass of the class-correlation matrix of a target
    batch's temperature-scaled predictions, each row weighted by its certainty.
    It needs no domain discriminator and no kernel: one extra term on the target
    logits of each batch.

    Parameters
    ----------
    trade_off : float, default=1.0
        :math:`\lambda`, the weight of the confusion loss.
    temperature : float, default=2.5
        Temperature of the predictions in the confusion matrix (the paper's value).
    **kwargs
        Parameters shared by every deep strategy, documented in
        :class:`~domainadapt.training.DeepAdapter`: ``network``, ``hidden_sizes``,
        ``dropout``, ``n_epochs``, ``batch_size``, ``lr``, ``optimizer``,
        ``weight_decay``, ``lr_schedule``, ``device``, ``callbacks``, ``estimator``,
        ``random_state``, ...

    Attributes
    ----------
    parts_ : nn.ModuleDict
        The trained modules: ``"features"`` and ``"classifier"``.
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    history_ : list of dict
        One record per epoch (``classification``, ``confusion``, ...); these and the
        other fitted attributes (``n_iter_``, ``n_epochs_``, ``dropout_``, ...) as in
        :class:`~domainadapt.training.DeepAdapter`.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of the features seen during ``fit``; set only when the rows have
        string column names (e.g. a pandas DataFrame).

    See Also
    --------
    domainadapt.model.BNM : Batch nuclear-norm maximisation, another batch-level loss.
    domainadapt.model.DANN : Adversarial alignment of the features.
    domainadapt.model.SourceOnly : The same network without an adaptation term.

    Notes
    -----
    Labelled target rows (``sample_domain == "target_labelled"`` or
    ``Domain(X, y, labelled=mask)``) join the source rows in the cross-entropy; the
    confusion loss is computed on every target row of the batch.

    References
    ----------
    Y. Jin, X. Wang, M. Long, J. Wang. "Minimum Class Confusion for Versatile
    Domain Adaptation". ECCV 2020.

    Examples
    --------
    >>> from domainadapt.datasets import make_rotated_moons
    >>> from domainadapt.model import MCC
    >>> source, target = make_rotated_moons(random_state=0)
    >>> model = MCC(hidden_sizes=(16,), n_epochs=5, random_state=0)
    >>> model = model.fit(source, target.X)
    >>> model.predict(target.X[:5]).shape
    (5,)
    >>> model.n_features_in_
    2
    """

    _log_name = "confusion"

    _parameter_constraints: dict = {
        **_TargetPredictionLoss._parameter_constraints,
        "temperature": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(self, trade_off: float = 1.0, temperature: float = 2.5, **kwargs: Any):
        super().__init__(**kwargs)
        self.trade_off = trade_off
        self.temperature = temperature

    def _target_loss(self, logits_target: Tensor) -> Tensor:
        return minimum_class_confusion(logits_target, float(self.temperature))


class BNM(_TargetPredictionLoss):
    r"""Batch nuclear-norm maximisation: confident *and* diverse target predictions.

    .. math:: \min_{F, C}\; \mathcal L_{cls}(C \circ F) - \frac{\lambda}{b_t}\,
              \big\lVert \mathrm{softmax}\big(C(F(X^t_{batch}))\big) \big\rVert_*

    The nuclear norm of a target batch's :math:`b_t \times K` probability matrix
    (:func:`~domainadapt.ops.batch_nuclear_norm_loss`) grows with the predictions'
    confidence, like minus the entropy, and with the number of classes they use,
    so that maximising it does not collapse the target onto the majority classes
    (entropy minimisation's failure mode).

    Parameters
    ----------
    trade_off : float, default=1.0
        :math:`\lambda`, the weight of the nuclear-norm term.
    **kwargs
        Parameters shared by every deep strategy, documented in
        :class:`~domainadapt.training.DeepAdapter`: ``network``, ``hidden_sizes``,
        ``dropout``, ``n_epochs``, ``batch_size``, ``lr``, ``optimizer``,
        ``weight_decay``, ``lr_schedule``, ``device``, ``callbacks``, ``estimator``,
        ``random_state``, ...

    Attributes
    ----------
    parts_ : nn.ModuleDict
        The trained modules: ``"features"`` and ``"classifier"``.
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    history_ : list of dict
        One record per epoch (``classification``, ``nuclear_norm`` — the loss, i.e.
        minus the normalised norm —, ...); these and the other fitted attributes as
        in :class:`~domainadapt.training.DeepAdapter`.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of the features seen during ``fit``; set only when the rows have
        string column names (e.g. a pandas DataFrame).

    See Also
    --------
    domainadapt.model.MCC : Minimum class confusion, another batch-level loss.
    domainadapt.selection.BatchNuclearNormScorer : The same quantity as a model-selection score.
    domainadapt.model.SourceOnly : The same network without an adaptation term.

    Notes
    -----
    Labelled target rows join the source rows in the cross-entropy; the nuclear
    norm is computed on every target row of the batch. The norm depends on the
    batch size (at most :math:`\sqrt{\min(b_t, K) / b_t}` after the division), so
    ``trade_off`` tuned for one ``batch_size`` may need changing with another.

    References
    ----------
    S. Cui, S. Wang, J. Zhuo, L. Li, Q. Huang, Q. Tian. "Towards Discriminability
    and Diversity: Batch Nuclear-norm Maximization under Label Insufficient
    Situations". CVPR 2020.

    Examples
    --------
    >>> from domainadapt.datasets import make_rotated_moons
    >>> from domainadapt.model import BNM
    >>> source, target = make_rotated_moons(random_state=0)
    >>> model = BNM(hidden_sizes=(16,), n_epochs=5, random_state=0)
    >>> model = model.fit(source, target.X)
    >>> model.predict(target.X[:5]).shape
    (5,)
    >>> model.n_features_in_
    2
    """

    _log_name = "nuclear_norm"

    def __init__(self, trade_off: float = 1.0, **kwargs: Any):
        super().__init__(**kwargs)
        self.trade_off = trade_off

    def _target_loss(self, logits_target: Tensor) -> Tensor:
        return batch_nuclear_norm_loss(logits_target)
