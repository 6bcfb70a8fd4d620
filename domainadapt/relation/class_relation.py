"""Class-aware alignment by the contrastive domain discrepancy (CAN, Kang et al. 2019)."""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._utils import Interval
from ..ops.kernels import bandwidth_heuristic
from ..ops.relation_losses import contrastive_domain_discrepancy
from ..training import Batch, DeepAdapter, FitContext, TrainState
from ..training.conversion import iter_rows
from ..training.joint import forward_joint

__all__ = ["ClassRelationAlignment", "spherical_kmeans"]


def spherical_kmeans(X: Tensor, init: Tensor, n_iter: int = 100) -> tuple[Tensor, Tensor, Tensor]:
    r"""Spherical k-means (cosine similarity) started at given centres.

    Rows and centres are L2-normalised; each iteration assigns every row to the
    centre of largest cosine and moves each centre to the normalised mean of its
    rows (a centre without rows stays where it is). Stops when no assignment
    changes.

    Parameters
    ----------
    X : Tensor of shape (n, d)
    init : Tensor of shape (k, d)
        Initial centres (CAN: the source class centres).
    n_iter : int, default=100

    Returns
    -------
    centres : Tensor of shape (k, d)
        Unit-norm centres.
    labels : Tensor of shape (n,)
        Index of each row's centre.
    distances : Tensor of shape (n,)
        Cosine distance :math:`\tfrac12(1 - \cos)` in [0, 1] to the assigned centre.
    """
    Z = F.normalize(X, dim=1)
    C = F.normalize(init.to(Z.dtype), dim=1)
    labels = None
    for _ in range(n_iter):
        new = (Z @ C.T).argmax(1)
        if labels is not None and torch.equal(new, labels):
            break
        labels = new
        sums = torch.zeros_like(C).index_add_(0, labels, Z)
        counts = torch.bincount(labels, minlength=C.shape[0])
        C = torch.where((counts > 0)[:, None], F.normalize(sums, dim=1), C)
    labels = (Z @ C.T).argmax(1)
    dist = 0.5 * (1.0 - (Z * C[labels]).sum(1))
    return C, labels, dist


class _Clusters(nn.Module):
    """Target clusters of the last clustering (buffers: saved with the model and
    in checkpoints, so a resumed run sees the same clusters)."""

    def __init__(self, n_classes: int, dim: int):
        super().__init__()
        self.register_buffer("centres", torch.zeros(n_classes, dim))
        self.register_buffer("active", torch.zeros(n_classes, dtype=torch.bool))
        self.register_buffer("epoch", torch.tensor(-1, dtype=torch.long))

    def forward(self, x: Tensor) -> Tensor:  # pragma: no cover - holds state only
        return x


#: Layers whose output differs between training and evaluation mode.
_TRAIN_MODE_LAYERS = (nn.modules.dropout._DropoutNd, nn.modules.batchnorm._NormBase)


@dataclass
class _ClusteringContext(FitContext):
    """One fit of CAN: the log of its clusterings (``cluster_history_`` afterwards)."""

    cluster_log: list[dict[str, int]] = field(default_factory=list)
    #: whether the features have a layer that acts differently in training mode (dropout,
    #: batch norm), found on the first aligned step; ``None`` until then
    mode_dependent: bool | None = None
    #: whether ``clusters`` holds a clustering, mirrored on the host before each epoch
    #: (the training step must not read the device buffer ``clusters.epoch``)
    clustered: bool = False


class ClassRelationAlignment(DeepAdapter):
    r"""Contrastive adaptation network (CAN): class-aware alignment by the CDD.

    .. math:: \min_{F, C}\; \mathcal L_{cls}(X^s, y^s) + \beta\Big[\frac1M\sum_{c} D^{cc}
              - \frac{1}{M(M-1)}\sum_{c \ne c'} D^{cc'}\Big],\quad
              D^{cc'} = \mathrm{MMD}^2\big(\{F(x^s): y^s = c\}, \{F(x^t): \hat y^t = c'\}\big)

    The recipe of Kang et al.: (a) a warm-up on the source cross-entropy only for
    the first ``warmup_fraction`` of training; (b) then, at the start of every
    ``cluster_every``-th epoch (the first being the epoch in which the warm-up
    ends), target pseudo-labels :math:`\hat y^t` by spherical k-means
    (:func:`spherical_kmeans`) of the L2-normalised target features started at the
    source class centres; target rows whose cosine distance
    :math:`\tfrac12(1-\cos)` to their centre exceeds ``distance_threshold`` are
    left out, and so are classes with fewer than ``min_rows_per_class`` kept target
    rows; (c) each batch computes the contrastive domain discrepancy
    (:func:`~domainadapt.relation.contrastive_domain_discrepancy`, a multi-kernel
    Gaussian MMD of :mod:`domainadapt.ops`) between the source rows and the target
    rows of the kept classes, on the features and (``align_logits``) the logits.
    Between two clusterings the centres are fixed and a batch's target rows take
    the label of their nearest centre in the current features, computed like the
    clustering's in evaluation mode (no dropout; the batch carries no row index);
    labelled target rows use their labels.

    CAN relies on target clusters that follow the classes in feature space: where
    they do not (two rotated moons: non-convex classes), the clusters follow the
    shift and the CDD locks their errors in, so it can do worse than source-only.

    Parameters
    ----------
    trade_off : float, default=0.3
        :math:`\beta` (CAN uses 0.3).
    warmup_fraction : float, default=0.3
        Fraction of the iterations trained on the classification loss only, in [0, 1).
    cluster_every : int, default=1
        Re-cluster the target every this many epochs after the warm-up.
    distance_threshold : float, default=0.05
        Largest cosine distance :math:`\tfrac12(1 - \cos)` of a kept target row to
        its centre (CAN: 0.05); 1 keeps every row.
    min_rows_per_class : int, default=3
        A class is aligned only with at least this many kept target rows.
    contrastive : bool, default=True
        Subtract the inter-class discrepancy (``False``: class-conditional MMD only).
    align_logits : bool, default=True
        Also apply the CDD to the classifier outputs (CAN adapts the last FC layers).
    multipliers : sequence of float, default=(0.25, 0.5, 1, 2, 4)
        Gaussian kernel bandwidths relative to the median heuristic.
    **kwargs
        Parameters shared by every deep strategy, documented in
        :class:`~domainadapt.training.DeepAdapter`: ``network``, ``hidden_sizes``,
        ``dropout``, ``n_epochs``, ``batch_size``, ``lr``, ``optimizer``,
        ``weight_decay``, ``lr_schedule``, ``device``, ``callbacks``, ``estimator``,
        ``random_state``, ...

    Attributes
    ----------
    parts_ : nn.ModuleDict
        ``"features"``, ``"classifier"`` and ``"clusters"`` (the last clustering:
        ``centres``, ``active`` classes, ``epoch``).
    cluster_history_ : list of dict
        One record per clustering: ``epoch``, ``n_kept`` target rows, ``n_active``
        classes.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of the features seen during ``fit``; set only when the rows have
        string column names (e.g. a pandas DataFrame).

    See Also
    --------
    domainadapt.relation.LabelPropagation : Label spreading on a source-target k-NN graph.
    domainadapt.relation.RelationalDistillation : Distil a teacher's target relations.
    domainadapt.model.DAN : Multi-kernel MMD on the last layers.

    References
    ----------
    G. Kang, L. Jiang, Y. Yang, A. G. Hauptmann. "Contrastive Adaptation Network for
    Unsupervised Domain Adaptation". CVPR 2019.

    Examples
    --------
    >>> from domainadapt.datasets import make_shifted_digits
    >>> from domainadapt.relation import ClassRelationAlignment
    >>> source, target = make_shifted_digits("rotation", random_state=0)
    >>> model = ClassRelationAlignment(hidden_sizes=(32,), n_epochs=3, random_state=0)
    >>> model = model.fit(source, target.X)
    >>> model.predict(target.X[:5]).shape
    (5,)
    >>> model.n_features_in_
    64
    """

    _parameter_constraints: dict = {
        **DeepAdapter._parameter_constraints,
        "trade_off": [Interval(numbers.Real, 0, None, closed="left")],
        "warmup_fraction": [Interval(numbers.Real, 0, 1, closed="left")],
        "cluster_every": [Interval(numbers.Integral, 1, None, closed="left")],
        "distance_threshold": [Interval(numbers.Real, 0, 1, closed="both")],
        "min_rows_per_class": [Interval(numbers.Integral, 1, None, closed="left")],
        "contrastive": [bool],
        "align_logits": [bool],
        "multipliers": ["array-like"],
    }

    def __init__(
        self,
        trade_off: float = 0.3,
        warmup_fraction: float = 0.3,
        cluster_every: int = 1,
        distance_threshold: float = 0.05,
        min_rows_per_class: int = 3,
        contrastive: bool = True,
        align_logits: bool = True,
        multipliers: Sequence[float] = (0.25, 0.5, 1.0, 2.0, 4.0),
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.trade_off = trade_off
        self.warmup_fraction = warmup_fraction
        self.cluster_every = cluster_every
        self.distance_threshold = distance_threshold
        self.min_rows_per_class = min_rows_per_class
        self.contrastive = contrastive
        self.align_logits = align_logits
        self.multipliers = multipliers

    # ------------------------------------------------------------------ parameters
    def _check_params(self) -> None:
        super()._check_params()
        # each parameter's range is declared in _parameter_constraints; the entries too:
        m = self.multipliers
        if (
            not isinstance(m, Sequence)
            or isinstance(m, str)
            or len(m) == 0
            or not all(isinstance(v, numbers.Real) and not isinstance(v, bool) and v > 0 for v in m)
        ):
            raise ValueError(
                f"multipliers must be a non-empty sequence of positive numbers; got {m!r}."
            )

    # ------------------------------------------------------------------ model
    def _build_parts(self, input_shape: tuple[int, ...], n_classes: int) -> dict[str, nn.Module]:
        features, dim = self._build_features(input_shape)
        return {
            "features": features,
            "classifier": nn.Linear(dim, n_classes),
            "clusters": _Clusters(n_classes, dim),
        }

    def _make_context(self, **fields: Any) -> _ClusteringContext:
        return _ClusteringContext(**fields)

    def _train(
        self, source: Any, target: Any, n_classes: int, input_shape: tuple[int, ...]
    ) -> _ClusteringContext:
        context = super()._train(source, target, n_classes, input_shape)
        self.cluster_history_ = context.cluster_log
        # the epoch means of the CDD (history_ survives a resume): 0 in every epoch means
        # no step had a row to align, the clusterings having run (the warm-up is < 1)
        if self.trade_off > 0 and not any(r.get("cdd", 0.0) != 0.0 for r in self.history_):
            last = (
                f" (last clustering: {context.cluster_log[-1]['n_kept']} rows kept, "
                f"{context.cluster_log[-1]['n_active']} classes active)"
                if context.cluster_log
                else ""
            )
            warnings.warn(
                f"{type(self).__name__}: the CDD was 0 in every training step after the "
                f"warm-up, so the fit is a source-only one: no batch had a target row within "
                f"distance_threshold={self.distance_threshold} of its cluster centre in a "
                f"class with at least min_rows_per_class={self.min_rows_per_class} kept "
                f"rows{last}. Raise distance_threshold or lower min_rows_per_class.",
                UserWarning,
                stacklevel=2,
            )
        return context

    @torch.no_grad()
    def _all_features(
        self, parts: nn.ModuleDict, data: Any, device: torch.device
    ) -> tuple[Tensor, Tensor | None]:
        feats, labels = [], []
        for x, y, _ in iter_rows(data):
            feats.append(parts["features"](x.to(device)).flatten(1).float())
            labels.append(None if y is None else y.to(device))
        y = None if any(v is None for v in labels) else torch.cat(labels)
        return torch.cat(feats), y

    def _on_epoch_start(self, parts: nn.ModuleDict, state: TrainState) -> None:
        """Re-cluster the whole target before an epoch whose batches use the CDD: the
        first epoch that ends past the warm-up, then every ``cluster_every`` epochs."""
        if self.trade_off == 0:
            return
        last_step = (state.epoch + 1) * state.steps_per_epoch - 1
        if last_step / max(1, state.max_steps) < self.warmup_fraction:
            return  # the whole epoch is warm-up
        last = int(parts["clusters"].epoch)
        if last < 0 or state.epoch - last >= self.cluster_every:
            self._cluster(parts, state)
        state.context.clustered = True

    @torch.no_grad()
    def _cluster(self, parts: nn.ModuleDict, state: TrainState) -> None:
        """Spherical k-means of the target features from the source class centres."""
        context = state.context
        source, target = context.source, context.target
        was = parts.training
        parts.eval()
        try:
            fs, ys = self._all_features(parts, source, state.device)
            ft, yt = self._all_features(parts, target, state.device)
        finally:
            parts.train(was)
        C = state.n_classes
        zs = F.normalize(fs, dim=1)
        sums = torch.zeros(C, zs.shape[1], device=zs.device).index_add_(0, ys, zs)
        has_source = torch.bincount(ys, minlength=C) > 0
        centres, labels, dist = spherical_kmeans(ft, sums)
        kept = dist <= self.distance_threshold
        if yt is not None:  # labelled target rows: their own label, always kept
            lab = yt >= 0
            labels = torch.where(lab, yt, labels)
            kept = kept | lab
        counts = torch.bincount(labels[kept], minlength=C)
        active = (counts >= self.min_rows_per_class) & has_source
        clusters = parts["clusters"]
        clusters.centres.copy_(centres.to(clusters.centres.dtype))
        clusters.active.copy_(active)
        clusters.epoch.fill_(state.epoch)
        context.cluster_log.append(
            {"epoch": int(state.epoch), "n_kept": int(kept.sum()), "n_active": int(active.sum())}
        )

    @torch.no_grad()
    def _labelling_features(
        self, parts: nn.ModuleDict, batch: Batch, f_target: Tensor, context: _ClusteringContext
    ) -> Tensor:
        """The batch's target features as the clustering sees them (evaluation mode).

        The centres come from evaluation-mode features; a training-mode forward pass
        through dropout lies far from them (with the default dropout 0.5 no target row was
        ever within ``distance_threshold``, so the CDD stayed 0 for the whole fit). Without
        a dropout or batch-norm layer the two passes agree and ``f_target`` is reused.
        """
        features = parts["features"]
        if context.mode_dependent is None:  # once per fit, not on every step
            context.mode_dependent = any(
                isinstance(m, _TRAIN_MODE_LAYERS) for m in features.modules()
            )
        if not context.mode_dependent:
            return f_target.detach()
        was = features.training
        features.eval()
        try:
            return features(batch.target_x).flatten(1)
        finally:
            features.train(was)

    def _training_loss(
        self, parts: nn.ModuleDict, batch: Batch, state: TrainState
    ) -> tuple[Tensor, dict[str, Any]]:
        ns = batch.n_source
        f, logits, cls = forward_joint(self, parts, batch)
        zero = cls.detach() * 0.0
        if state.progress < self.warmup_fraction or self.trade_off == 0:
            return cls, {"classification": cls.detach(), "cdd": zero}
        clusters = parts["clusters"]
        if not state.context.clustered:  # not clustered yet (_on_epoch_start does it)
            return cls, {"classification": cls.detach(), "cdd": zero}
        # labels of the batch's target rows: nearest centre (cosine), far rows dropped
        with torch.no_grad():
            ft = self._labelling_features(parts, batch, f[ns:], state.context)
            zt = F.normalize(ft.float(), dim=1)
            cos = zt @ clusters.centres.T
            yt = cos.argmax(1)
            keep_t = 0.5 * (1.0 - cos.max(1).values) <= self.distance_threshold
            if batch.target_labelled is not None:
                lab = batch.target_labelled
                yt = torch.where(lab, batch.target_y, yt)
                keep_t = keep_t | lab
            keep_t = keep_t & clusters.active[yt]
            keep_s = clusters.active[batch.source_y]
            keep = torch.cat([keep_s, keep_t])
            # dropped rows weigh 0 in their class (not a boolean gather, which makes the
            # host wait for the device): with no row kept in a domain the CDD is 0
            member_s = F.one_hot(batch.source_y, state.n_classes) * keep_s[:, None]
            member_t = F.one_hot(yt, state.n_classes) * keep_t[:, None]
        layers = [f] + ([logits] if self.align_logits else [])
        cdd = zero
        for h in layers:
            h = h.float()
            with torch.no_grad():  # the median heuristic on the kept rows only
                bandwidth = bandwidth_heuristic(h, mask=keep)
            cdd = cdd + contrastive_domain_discrepancy(
                h[:ns],
                h[ns:],
                member_s.to(h.dtype),
                member_t.to(h.dtype),
                state.n_classes,
                contrastive=self.contrastive,
                bandwidth=bandwidth,
                multipliers=tuple(float(m) for m in self.multipliers),
            )
        loss = cls + self.trade_off * cdd
        return loss, {"classification": cls.detach(), "cdd": cdd.detach()}
