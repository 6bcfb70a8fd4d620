"""Deep statistic-matching methods: DAN (MK-MMD), JAN (joint MMD) and Deep CORAL."""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Real
from typing import Any

import torch.nn.functional as F
from sklearn.utils._param_validation import StrOptions
from torch import Tensor, nn

from .._utils import Interval
from ..ops._validation import ESTIMATORS
from ..ops.alignment_losses import DAN_MULTIPLIERS, JointMMDAlignment, MMDAlignment, coral_loss
from ..training import DeepAdapter
from ..training.data import Batch
from ..training.joint import forward_joint

__all__ = ["DAN", "JAN", "DCORAL"]


class _AlignmentAdapter(DeepAdapter):
    """Classification loss plus ``trade_off`` times an alignment of the batch's activations."""

    # checked once when fit starts, not on every batch
    _parameter_constraints: dict = {
        **DeepAdapter._parameter_constraints,
        "trade_off": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, trade_off: float = 1.0, **kwargs: Any):
        super().__init__(**kwargs)
        self.trade_off = trade_off

    def _alignment(
        self, f: Tensor, logits: Tensor, ns: int, batch: Batch, state: Any
    ) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _training_loss(
        self, parts: nn.ModuleDict, batch: Batch, state: Any
    ) -> tuple[Tensor, dict[str, Any]]:
        t = self.trade_off
        f, logits, cls = forward_joint(self, parts, batch)
        align = self._alignment(f, logits, batch.n_source, batch, state)
        return cls + t * align, {"classification": cls.detach(), "alignment": align.detach()}


class DAN(_AlignmentAdapter):
    r"""Deep adaptation network: multi-kernel MMD on the last layers.

    .. math:: \min_{F, C}\; \mathcal L_{cls} + \lambda \sum_{l \in \{f, \text{logits}\}}
              \mathrm{MK\text{-}MMD}^2\big(h^l(X^s), h^l(X^t)\big)

    on the feature layer and (``align_logits=True``) the classifier's outputs,
    with a family of Gaussian kernels around the median heuristic
    (:class:`~domainadapt.ops.MMDAlignment`). Source importance weights
    (``sample_weight``) also weight the source rows of the MMD; the gradient flows
    through the heuristic (see Notes).

    Parameters
    ----------
    trade_off : float, default=1.0
        :math:`\lambda`.
    multipliers : sequence of float, default=(0.25, 0.5, 1, 2, 4)
        Bandwidths of the kernel family relative to the median heuristic.
    mmd_estimator : {"biased", "unbiased", "linear"}, default="biased"
        MMD estimator (see :func:`domainadapt.ops.mmd`).
    align_logits : bool, default=True
        Also align the classifier outputs (DAN aligns fc6-fc8, the last being the logits).
    detach_bandwidth : bool, default=False
        Hold the median-heuristic bandwidth constant in the backward pass, as DAN's code
        does. That adds a gradient component along the features' scale; on the full
        MNIST -> USPS sets it shrank a LeNet's features to zero (see Notes).
    **kwargs
        Parameters shared by every deep strategy, documented in
        :class:`~domainadapt.training.DeepAdapter`: ``network``, ``hidden_sizes``,
        ``dropout``, ``n_epochs``, ``batch_size``, ``lr``, ``optimizer``,
        ``weight_decay``, ``lr_schedule``, ``device``, ``callbacks``, ``estimator``,
        ``random_state``, ...

    Attributes
    ----------
    parts_ : nn.ModuleDict
        The trained modules: ``"features"``, ``"classifier"``.
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
    domainadapt.model.JAN : Joint MMD of the features and the softmax outputs.
    domainadapt.model.DCORAL : Covariance matching of the activations.
    domainadapt.model.DANN : Domain-adversarial training through gradient reversal.

    Notes
    -----
    Unlike DAN's code, the gradient flows through the median heuristic
    (``detach_bandwidth=False``). Each layer's MMD is then invariant to a common
    rescaling of that layer, so it cannot be lowered by shrinking the features. With
    the bandwidth held constant it can, and the shrinking speeds up as the features
    get smaller: on the full MNIST -> USPS sets (LeNet, Adam 1e-3) the features of one
    seed in ten went to zero within about 200 steps, leaving the source accuracy at
    chance, with no error. Through the heuristic no seed collapsed. In the runs that
    did not collapse either way, the constant bandwidth scored up to 1.7 points higher
    on the LeNet digit protocols and the same on the 18 tasks of the default-network
    collections (``benchmarks/results/mmd_bandwidth_gradient.md``).

    References
    ----------
    M. Long, Y. Cao, J. Wang, M. I. Jordan. "Learning Transferable Features with
    Deep Adaptation Networks". ICML 2015.

    Examples
    --------
    >>> from domainadapt.datasets import make_rotated_moons
    >>> from domainadapt.model import DAN
    >>> source, target = make_rotated_moons(random_state=0)
    >>> model = DAN(hidden_sizes=(16,), n_epochs=5, random_state=0)
    >>> model = model.fit(source, target.X)
    >>> model.predict(target.X[:5]).shape
    (5,)
    >>> model.classes_
    array([0, 1])
    >>> model.n_features_in_
    2
    """

    _parameter_constraints: dict = {
        **_AlignmentAdapter._parameter_constraints,
        "multipliers": ["array-like", Interval(Real, 0, None, closed="neither")],
        "mmd_estimator": [StrOptions(set(ESTIMATORS))],
        "align_logits": ["boolean"],
        "detach_bandwidth": ["boolean"],
    }

    def __init__(
        self,
        trade_off: float = 1.0,
        multipliers: Sequence[float] = DAN_MULTIPLIERS,
        mmd_estimator: str = "biased",
        align_logits: bool = True,
        detach_bandwidth: bool = False,
        **kwargs: Any,
    ):
        super().__init__(trade_off=trade_off, **kwargs)
        self.multipliers = multipliers
        self.mmd_estimator = mmd_estimator
        self.align_logits = align_logits
        self.detach_bandwidth = detach_bandwidth

    def _alignment(self, f: Tensor, logits: Tensor, ns: int, batch: Batch, state: Any) -> Tensor:
        loss = MMDAlignment(
            multipliers=self.multipliers,
            estimator=self.mmd_estimator,
            detach_bandwidth=self.detach_bandwidth,
        )
        S, T = [f[:ns]], [f[ns:]]
        if self.align_logits:
            S.append(logits[:ns])
            T.append(logits[ns:])
        return loss(S, T, source_weights=batch.source_weight, group=state.group)


class JAN(_AlignmentAdapter):
    r"""Joint adaptation network: joint MMD of the features and the softmax outputs.

    .. math:: \min_{F, C}\; \mathcal L_{cls} + \lambda\,
              \mathrm{JMMD}^2\big((f^s, g^s), (f^t, g^t)\big),\qquad g = \mathrm{softmax}(C(f))

    with a Gaussian kernel family on the features and one Gaussian kernel on the
    softmax outputs (:class:`~domainadapt.ops.JointMMDAlignment`).

    Parameters
    ----------
    trade_off : float, default=1.0
    multipliers : sequence of float, default=(0.25, 0.5, 1, 2, 4)
        Kernel family of the feature layer (the softmax layer uses one kernel at the
        median heuristic).
    detach_bandwidth : bool, default=False
        Hold the median-heuristic bandwidths constant in the backward pass, as JAN's
        code does (see :class:`DAN`).
    **kwargs
        Parameters shared by every deep strategy, documented in
        :class:`~domainadapt.training.DeepAdapter`: ``network``, ``hidden_sizes``,
        ``dropout``, ``n_epochs``, ``batch_size``, ``lr``, ``optimizer``,
        ``weight_decay``, ``lr_schedule``, ``device``, ``callbacks``, ``estimator``,
        ``random_state``, ...

    Attributes
    ----------
    parts_ : nn.ModuleDict
        The trained modules: ``"features"``, ``"classifier"``.
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
    domainadapt.model.DAN : Multi-kernel MMD on the last layers.
    domainadapt.model.DCORAL : Covariance matching of the activations.
    domainadapt.model.CDAN : Adversarial training conditioned on the predictions.

    References
    ----------
    M. Long, H. Zhu, J. Wang, M. I. Jordan. "Deep Transfer Learning with Joint
    Adaptation Networks". ICML 2017.

    Examples
    --------
    >>> from domainadapt.datasets import make_rotated_moons
    >>> from domainadapt.model import JAN
    >>> source, target = make_rotated_moons(random_state=0)
    >>> model = JAN(hidden_sizes=(16,), n_epochs=5, random_state=0)
    >>> model = model.fit(source, target.X)
    >>> model.predict(target.X[:5]).shape
    (5,)
    >>> model.classes_
    array([0, 1])
    >>> model.n_features_in_
    2
    """

    _parameter_constraints: dict = {
        **_AlignmentAdapter._parameter_constraints,
        "multipliers": ["array-like"],
        "detach_bandwidth": ["boolean"],
    }

    def __init__(
        self,
        trade_off: float = 1.0,
        multipliers: Sequence[float] = DAN_MULTIPLIERS,
        detach_bandwidth: bool = False,
        **kwargs: Any,
    ):
        super().__init__(trade_off=trade_off, **kwargs)
        self.multipliers = multipliers
        self.detach_bandwidth = detach_bandwidth

    def _alignment(self, f: Tensor, logits: Tensor, ns: int, batch: Batch, state: Any) -> Tensor:
        g = F.softmax(logits.float(), dim=1)
        loss = JointMMDAlignment(
            multipliers=(tuple(self.multipliers), (1.0,)),
            detach_bandwidth=self.detach_bandwidth,
        )
        return loss(
            [f[:ns], g[:ns]],
            [f[ns:], g[ns:]],
            source_weights=batch.source_weight,
            group=state.group,
        )


class DCORAL(_AlignmentAdapter):
    r"""Deep CORAL: match the covariances of source and target activations.

    .. math:: \min_{F, C}\; \mathcal L_{cls} + \lambda\, \frac{1}{4d^2}\|C_S - C_T\|_F^2

    on the classifier's outputs (``layer="logits"``, the paper's fc8) or on the
    features (``layer="features"``).

    Parameters
    ----------
    trade_off : float, default=1.0
        :math:`\lambda` (the paper picks it so both terms are of the same size at the
        end of training).
    layer : {"logits", "features"}, default="logits"
    **kwargs
        Parameters shared by every deep strategy, documented in
        :class:`~domainadapt.training.DeepAdapter`: ``network``, ``hidden_sizes``,
        ``dropout``, ``n_epochs``, ``batch_size``, ``lr``, ``optimizer``,
        ``weight_decay``, ``lr_schedule``, ``device``, ``callbacks``, ``estimator``,
        ``random_state``, ...

    Attributes
    ----------
    parts_ : nn.ModuleDict
        The trained modules: ``"features"``, ``"classifier"``.
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
    domainadapt.model.DAN : Multi-kernel MMD on the last layers.
    domainadapt.model.JAN : Joint MMD of the features and the softmax outputs.
    domainadapt.feature.CORAL : Match the second-order statistics.

    References
    ----------
    B. Sun, K. Saenko. "Deep CORAL: Correlation Alignment for Deep Domain
    Adaptation". ECCV 2016 Workshops.

    Examples
    --------
    >>> from domainadapt.datasets import make_rotated_moons
    >>> from domainadapt.model import DCORAL
    >>> source, target = make_rotated_moons(random_state=0)
    >>> model = DCORAL(hidden_sizes=(16,), n_epochs=5, random_state=0)
    >>> model = model.fit(source, target.X)
    >>> model.predict(target.X[:5]).shape
    (5,)
    >>> model.classes_
    array([0, 1])
    >>> model.n_features_in_
    2
    """

    _parameter_constraints: dict = {
        **_AlignmentAdapter._parameter_constraints,
        "layer": [StrOptions({"logits", "features"})],
    }

    def __init__(self, trade_off: float = 1.0, layer: str = "logits", **kwargs: Any):
        super().__init__(trade_off=trade_off, **kwargs)
        self.layer = layer

    def _alignment(self, f: Tensor, logits: Tensor, ns: int, batch: Batch, state: Any) -> Tensor:
        h = logits if self.layer == "logits" else f
        return coral_loss(h[:ns], h[ns:], group=state.group)
