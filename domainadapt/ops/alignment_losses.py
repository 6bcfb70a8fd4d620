"""Alignment losses on mini-batches of features: MMD and multi-layer MK-MMD (DAN), joint
MMD (JAN), Deep CORAL.

One functional form and one thin ``nn.Module`` each:

* :func:`multilayer_mmd` / :class:`MMDLoss`: MMD² summed over layers (one layer is
  :func:`~domainadapt.ops.mmd`); :class:`MMDAlignment` is :class:`MMDLoss` with DAN's
  defaults;
* :func:`~domainadapt.ops.joint_mmd` / :class:`JointMMDLoss`; :class:`JointMMDAlignment`
  is :class:`JointMMDLoss` with JAN's defaults;
* :func:`coral_loss` / :class:`DeepCORAL`.

Source and target batch sizes may differ, features of shape (batch, ...) are
flattened, and ``group=`` computes the loss over the global batch under
``torch.distributed`` (rows all-gathered with gradient). They are what
:class:`~domainadapt.model.DAN`, :class:`~domainadapt.model.JAN` and
:class:`~domainadapt.model.DCORAL` add to the classification loss, and can be used in
any training loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from ._options import resolve_mmd_options, takes_mmd_options
from .distributed import all_gather_rows
from .mmd import joint_mmd, mmd

__all__ = [
    "DAN_MULTIPLIERS",
    "DeepCORAL",
    "JointMMDAlignment",
    "JointMMDLoss",
    "MMDAlignment",
    "MMDLoss",
    "coral_loss",
    "multilayer_mmd",
]

#: DAN's family of Gaussian kernels: bandwidths 2^k times the median heuristic.
DAN_MULTIPLIERS = (0.25, 0.5, 1.0, 2.0, 4.0)


def _layers(x: Tensor | Sequence[Tensor], name: str) -> list[Tensor]:
    if isinstance(x, Tensor):
        layers = [x]
    else:
        try:
            layers = list(x)
        except TypeError:
            raise TypeError(f"{name} must be a tensor or a sequence of tensors.") from None
    if not layers:
        raise ValueError(f"{name} is empty: give at least one layer.")
    out = []
    for i, t in enumerate(layers):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}[{i}] must be a torch.Tensor; got {type(t).__name__}.")
        if t.dim() < 2:
            raise ValueError(
                f"{name}[{i}] must have shape (batch, features...); got {tuple(t.shape)}."
            )
        out.append(t.flatten(1))
    return out


def _check_weights(weights: Any, n_layers: int) -> list[float]:
    if weights is None:
        return [1.0] * n_layers
    w = [float(v) for v in weights]
    if len(w) != n_layers:
        raise ValueError(f"layer_weights has {len(w)} entries for {n_layers} layers.")
    if any(not v >= 0 for v in w):
        raise ValueError(f"layer_weights must be non-negative; got {w}.")
    return w


def _per_layer_multipliers(multipliers: Any, n_layers: int) -> list[Any]:
    if isinstance(multipliers, Tensor):
        return [multipliers] * n_layers
    mult = list(multipliers) if not isinstance(multipliers, (int, float)) else [multipliers]
    if mult and all(isinstance(m, (list, tuple)) for m in mult):
        if len(mult) != n_layers:
            raise ValueError(
                f"multipliers has {len(mult)} per-layer entries for {n_layers} layers."
            )
        return mult
    return [tuple(mult)] * n_layers


def _paired_layers(
    source: Tensor | Sequence[Tensor], target: Tensor | Sequence[Tensor]
) -> tuple[list[Tensor], list[Tensor]]:
    """Both sides as lists of 2-D layers, checked to have as many layers."""
    S, T = _layers(source, "source"), _layers(target, "target")
    if len(S) != len(T):
        raise ValueError(f"source has {len(S)} layers but target has {len(T)}.")
    return S, T


@takes_mmd_options()
def multilayer_mmd(
    source: Tensor | Sequence[Tensor],
    target: Tensor | Sequence[Tensor],
    *,
    layer_weights: Sequence[float] | None = None,
    x_weights: Tensor | None = None,
    y_weights: Tensor | None = None,
    **options: Any,
) -> Tensor:
    r"""MMD² summed over layers, the adaptation loss of DAN.

    .. math:: \mathcal L = \sum_{l} w_l\, \mathrm{MMD}^2_{k}\big(\{h^l(x^s_i)\}, \{h^l(x^t_j)\}\big)

    each term an :func:`~domainadapt.ops.mmd` of the layer's (flattened) features.

    Parameters
    ----------
    source, target : Tensor or sequence of Tensor
        One layer, or the layers ``l`` of shape (n, ...) and (m, ...).
    layer_weights : sequence of float, optional
        :math:`w_l` (default 1 for every layer); layers of weight 0 are skipped.
    x_weights, y_weights : Tensor of shape (n,) / (m,), optional
        Row weights, as in :func:`~domainadapt.ops.mmd`.
    **options
        :class:`~domainadapt.ops._options.MMDOptions` of :func:`~domainadapt.ops.mmd`;
        ``multipliers`` may also be one sequence per layer.

    Returns
    -------
    Tensor
        0-dim loss; a float32 zero when every layer weight is 0.
    """
    resolve_mmd_options("multilayer_mmd", options)
    S, T = _paired_layers(source, target)
    w = _check_weights(layer_weights, len(S))
    mults = _per_layer_multipliers(options.pop("multipliers", (1.0,)), len(S))
    total = None
    for wl, s, t, m in zip(w, S, T, mults):
        if wl == 0:
            continue
        v = wl * mmd(s, t, multipliers=m, x_weights=x_weights, y_weights=y_weights, **options)
        total = v if total is None else total + v
    if total is None:
        return S[0].new_zeros((), dtype=torch.float32).sum()
    return total


def _with_group(options: dict[str, Any], group: Any) -> dict[str, Any]:
    """``options`` with ``group`` overridden when one is given at call time."""
    return options if group is None else {**options, "group": group}


class MMDLoss(nn.Module):
    """``nn.Module`` form of :func:`multilayer_mmd` (on one layer, of :func:`~domainadapt.ops.mmd`).

    Parameters
    ----------
    layer_weights : sequence of float, optional
        Weights of the layers when the loss is given several.
    **kwargs
        :class:`~domainadapt.ops._options.MMDOptions` (kernel, bandwidth, multipliers,
        estimator, block_size, group, ...), fixed at construction.

    Examples
    --------
    >>> import torch
    >>> loss = MMDLoss(multipliers=(0.25, 0.5, 1.0, 2.0, 4.0))
    >>> loss(torch.randn(32, 8), torch.randn(32, 8)).shape
    torch.Size([])
    """

    def __init__(self, *, layer_weights: Sequence[float] | None = None, **kwargs: Any) -> None:
        super().__init__()
        resolve_mmd_options(type(self).__name__, kwargs)
        self.layer_weights = layer_weights
        self.kwargs = kwargs

    def forward(
        self,
        X: Tensor | Sequence[Tensor],
        Y: Tensor | Sequence[Tensor],
        x_weights: Tensor | None = None,
        y_weights: Tensor | None = None,
        group: Any = None,
    ) -> Tensor:
        """MMD² of ``X`` and ``Y`` (summed over layers when given sequences)."""
        return multilayer_mmd(
            X,
            Y,
            layer_weights=self.layer_weights,
            x_weights=x_weights,
            y_weights=y_weights,
            **_with_group(self.kwargs, group),
        )

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())


class MMDAlignment(MMDLoss):
    r"""Multi-layer multi-kernel MMD, the adaptation loss of DAN: :class:`MMDLoss` with DAN's defaults.

    .. math:: \mathcal L = \sum_{l} w_l\, \mathrm{MMD}^2_{k}\big(\{h^l(x^s_i)\}, \{h^l(x^t_j)\}\big),
              \qquad k = \frac1K \sum_{u=1}^K e^{-\|a - b\|^2 / (2 \sigma_u^2)}

    with :math:`\sigma_u` the median heuristic times ``multipliers`` (per layer, on the
    pooled batch, differentiated through unless ``detach_bandwidth``). Built on
    :func:`domainadapt.ops.mmd`, so source and target batches may have different sizes,
    rows may carry weights, and large batches never materialise the full kernel matrix.

    Parameters
    ----------
    kernel : str, default="gaussian"
        Any kernel of :func:`domainadapt.ops.mmd`.
    multipliers : sequence of float, or one sequence per layer, default=(0.25, 0.5, 1, 2, 4)
    bandwidth : float, "median", "mean" or None, default=None
        Base bandwidth (``None``: median heuristic).
    estimator : {"biased", "unbiased", "linear"}, default="biased"
        ``"unbiased"`` is the U-statistic, ``"linear"`` the linear-time estimate
        DAN trains with; the biased V-statistic has the lowest variance on small batches.
    layer_weights : sequence of float, optional
        :math:`w_l` (default 1 for every layer).
    detach_bandwidth : bool, default=False
        Hold the heuristic bandwidth constant in the backward pass, as DAN's code does.
        By default the gradient flows through it, which makes each layer's term
        invariant to a common rescaling of that layer, so the loss cannot shrink the
        features towards zero (see :func:`domainadapt.ops.mmd`).
    group : ProcessGroup, optional
        Compute over the rows of every rank of the group (with gradient).

    References
    ----------
    M. Long, Y. Cao, J. Wang, M. I. Jordan. "Learning Transferable Features with
    Deep Adaptation Networks". ICML 2015.

    Examples
    --------
    The loss vanishes when both domains hold the same rows and grows with a shift:

    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> source = torch.randn(32, 4)
    >>> loss = MMDAlignment()
    >>> float(loss(source, source)) < 1e-6
    True
    >>> float(loss(source, source + 2.0)) > 0.1
    True

    Several layers (here features and logits) are given as lists, one term each:

    >>> logits = source[:, :2]
    >>> float(loss([source, logits], [source + 2.0, logits])) > 0.1
    True
    """

    def __init__(
        self,
        kernel: str = "gaussian",
        multipliers: Sequence[float] | Sequence[Sequence[float]] = DAN_MULTIPLIERS,
        bandwidth: float | str | None = None,
        estimator: str = "biased",
        layer_weights: Sequence[float] | None = None,
        detach_bandwidth: bool = False,
        group: Any = None,
    ):
        super().__init__(
            layer_weights=layer_weights,
            kernel=kernel,
            multipliers=multipliers,
            bandwidth=bandwidth,
            estimator=estimator,
            detach_bandwidth=detach_bandwidth,
            group=group,
        )

    def forward(
        self,
        source: Tensor | Sequence[Tensor],
        target: Tensor | Sequence[Tensor],
        source_weights: Tensor | None = None,
        target_weights: Tensor | None = None,
        group: Any = None,
    ) -> Tensor:
        """MMD² summed over layers; ``source[l]`` and ``target[l]`` are the layer-``l`` features."""
        return super().forward(source, target, source_weights, target_weights, group)


class JointMMDLoss(nn.Module):
    """``nn.Module`` form of :func:`~domainadapt.ops.joint_mmd` (JAN); layers are flattened.

    Parameters
    ----------
    **kwargs
        :class:`~domainadapt.ops._options.MMDOptions` of :func:`~domainadapt.ops.joint_mmd`,
        fixed at construction.

    Examples
    --------
    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> features = torch.randn(32, 4)
    >>> probs = features[:, :3].softmax(dim=1)
    >>> loss = JointMMDLoss(kernel="gaussian", multipliers=(0.5, 1.0, 2.0))
    >>> float(loss([features, probs], [features, probs])) < 1e-6
    True
    >>> float(loss([features, probs], [features + 2.0, probs])) > 0.1
    True
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__()
        resolve_mmd_options(type(self).__name__, kwargs)
        self.kwargs = kwargs

    def forward(
        self,
        Xs: Tensor | Sequence[Tensor],
        Ys: Tensor | Sequence[Tensor],
        x_weights: Tensor | None = None,
        y_weights: Tensor | None = None,
        group: Any = None,
    ) -> Tensor:
        """Joint MMD² of the layers ``Xs[l]`` / ``Ys[l]``."""
        S, T = _paired_layers(Xs, Ys)
        return joint_mmd(
            S, T, x_weights=x_weights, y_weights=y_weights, **_with_group(self.kwargs, group)
        )

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())


class JointMMDAlignment(JointMMDLoss):
    r"""Joint MMD over several layers with the product kernel, the adaptation loss of JAN:
    :class:`JointMMDLoss` with JAN's defaults.

    .. math:: \mathcal L = \mathrm{JMMD}^2 = \hat{\mathbb E}\prod_l k_l(z^{sl}, z'^{sl})
              + \hat{\mathbb E}\prod_l k_l(z^{tl}, z'^{tl}) - 2\,\hat{\mathbb E}\prod_l k_l(z^{sl}, z^{tl})

    where :math:`z^l` are the activations of layer :math:`l` (e.g. the features and
    the softmax outputs) and each :math:`k_l` is a sum of Gaussian kernels. Built on
    :func:`domainadapt.ops.joint_mmd`.

    Parameters
    ----------
    kernel : str or one per layer, default="gaussian"
    multipliers : sequence of float, or one sequence per layer, default=(0.5, 1, 2)
    bandwidth : float, "median" or None, or one per layer, default=None
    estimator : {"biased", "unbiased", "linear"}, default="biased"
    detach_bandwidth : bool, default=False
        As in :class:`MMDAlignment`.
    group : ProcessGroup, optional

    References
    ----------
    M. Long, H. Zhu, J. Wang, M. I. Jordan. "Deep Transfer Learning with Joint
    Adaptation Networks". ICML 2017.

    Examples
    --------
    The layers are paired (features with features, softmax outputs with softmax
    outputs); the loss is 0 on identical domains and positive on shifted ones:

    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> features = torch.randn(32, 4)
    >>> probs = features[:, :3].softmax(dim=1)
    >>> loss = JointMMDAlignment()
    >>> float(loss([features, probs], [features, probs])) < 1e-6
    True
    >>> float(loss([features, probs], [features + 2.0, probs])) > 0.1
    True
    """

    def __init__(
        self,
        kernel: str | Sequence[str] = "gaussian",
        multipliers: Sequence[float] | Sequence[Sequence[float]] = (0.5, 1.0, 2.0),
        bandwidth: Any = None,
        estimator: str = "biased",
        detach_bandwidth: bool = False,
        group: Any = None,
    ):
        super().__init__(
            kernel=kernel,
            multipliers=multipliers,
            bandwidth=bandwidth,
            estimator=estimator,
            detach_bandwidth=detach_bandwidth,
            group=group,
        )

    def forward(
        self,
        source: Sequence[Tensor],
        target: Sequence[Tensor],
        source_weights: Tensor | None = None,
        target_weights: Tensor | None = None,
        group: Any = None,
    ) -> Tensor:
        """Joint MMD² of the layers ``source[l]`` / ``target[l]``."""
        return super().forward(source, target, source_weights, target_weights, group)


def coral_loss(source: Tensor, target: Tensor, group: Any = None) -> Tensor:
    r"""Deep CORAL loss :math:`\frac{1}{4d^2}\|C_S - C_T\|_F^2` of two feature batches.

    :math:`C_S, C_T` are the unbiased covariance matrices (divided by ``n - 1``) of the
    source and target rows; computed in at least float32, batch sizes may differ.
    """
    S, T = _layers(source, "source")[0], _layers(target, "target")[0]
    if S.shape[1] != T.shape[1]:
        raise ValueError(
            f"source and target must have the same number of features; got {S.shape[1]} and {T.shape[1]}."
        )
    with torch.autocast(S.device.type, enabled=False):
        if group is not None:
            S, T = all_gather_rows(S, group), all_gather_rows(T, group)
        if S.shape[0] < 2 or T.shape[0] < 2:
            raise ValueError(
                "CORAL needs at least 2 rows per domain (the covariance of one row is "
                f"undefined); got {S.shape[0]} source and {T.shape[0]} target rows. Fit on "
                "at least 2 target rows, with a batch_size of 2 or more."
            )
        dt = torch.promote_types(S.dtype, torch.float32)
        S, T = S.to(dt), T.to(dt)
        d = S.shape[1]

        def cov(X: Tensor) -> Tensor:
            Xc = X - X.mean(0, keepdim=True)
            return Xc.T @ Xc / (X.shape[0] - 1)

        diff = cov(S) - cov(T)
        return (diff * diff).sum() / (4.0 * d * d)


class DeepCORAL(nn.Module):
    r"""Deep CORAL: align the second-order statistics of source and target features.

    .. math:: \mathcal L_{CORAL} = \frac{1}{4d^2}\,\|C_S - C_T\|_F^2

    Parameters
    ----------
    group : ProcessGroup, optional
        Covariances over the rows of every rank (with gradient).

    References
    ----------
    B. Sun, K. Saenko. "Deep CORAL: Correlation Alignment for Deep Domain
    Adaptation". ECCV 2016 Workshops (TASK-CV).

    Examples
    --------
    Only covariances count: a shifted mean costs nothing, a rescaled spread does.

    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> source = torch.randn(32, 4)
    >>> loss = DeepCORAL()
    >>> float(loss(source, source))
    0.0
    >>> float(loss(source, source + 2.0)) < 1e-6
    True
    >>> float(loss(source, 3.0 * source)) > 1.0
    True
    """

    def __init__(self, group: Any = None):
        super().__init__()
        self.group = group

    def forward(self, source: Tensor, target: Tensor, group: Any = None) -> Tensor:
        """Deep CORAL loss of the two batches."""
        return coral_loss(source, target, group if group is not None else self.group)
