"""Relational knowledge distillation across domains (RKD, Park et al. 2019)."""

from __future__ import annotations

import copy
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import clone
from sklearn.utils._param_validation import StrOptions
from torch import Tensor, nn

from .._utils import Interval
from ..ops.relation_losses import rkd_angle_loss, rkd_distance_loss
from ..training import Batch, DeepAdapter, FitContext, TrainState
from ..training.joint import forward_joint

__all__ = ["RelationalDistillation"]

_LAYERS = ("features", "logits")
_DOMAINS = ("target", "both")
#: DeepAdapter parameters the default teacher shares with the student.
_SHARED = (
    "n_epochs",
    "batch_size",
    "lr",
    "optimizer",
    "momentum",
    "weight_decay",
    "lr_schedule",
    "max_grad_norm",
    "device",
    "n_threads",
)


@dataclass
class _DistillationContext(FitContext):
    """One fit of RKD: the frozen teacher's modules, on the training device."""

    teacher_parts: nn.ModuleDict | None = None


class RelationalDistillation(DeepAdapter):
    r"""Relational knowledge distillation from a source-trained teacher on target data.

    .. math:: \min_{F, C}\; \mathcal L_{cls}(X^s, y^s)
              + \lambda_D\, \mathcal L_D\big(T(X^t), h(X^t)\big)
              + \lambda_A\, \mathcal L_A\big(T(X^t), h(X^t)\big)
              + \lambda_{KD}\, \tau^2\, \mathrm{KL}\big(\sigma(g_T(X^t)/\tau)\,\|\,
              \sigma(C(F(X^t))/\tau)\big)

    The student (``network`` / ``hidden_sizes``, usually small) is trained on the
    source cross-entropy while its target embeddings :math:`h` keep the teacher's
    relations: :math:`\mathcal L_D` matches the mean-normalised pairwise distances
    and :math:`\mathcal L_A` the cosines of the triplet angles of a batch
    (:func:`~domainadapt.relation.rkd_distance_loss`,
    :func:`~domainadapt.relation.rkd_angle_loss`; Huber losses, as in the paper),
    optionally with Hinton's soft-label distillation on the target batch. The
    teacher is frozen. By default it is a wider source-only network (a plain
    :class:`~domainadapt.training.DeepAdapter`, the loss of
    :class:`~domainadapt.model.SourceOnly`, with ``teacher_hidden_sizes``) trained
    first inside ``fit`` with the student's optimiser settings; give
    ``teacher=`` an adapted model (e.g. a fitted :class:`~domainadapt.model.DANN`)
    to distil its target geometry into a smaller network.

    Where it helps: distilling from a teacher that is better on the target than
    the student can be alone, above all an adapted one (a small student keeping
    the target relations of a :class:`~domainadapt.relation.ClassRelationAlignment`
    teacher beats the same student trained alone on the shifted blobs of the tests
    and on rotated digits). RKD cannot correct a shift that the teacher itself
    suffers from: from the default source-only teacher the student inherits the
    teacher's target geometry, errors included, and gains little or nothing.

    Parameters
    ----------
    teacher : DeepAdapter or nn.Module, optional
        A fitted :class:`~domainadapt.training.DeepAdapter` is used as is; an unfitted
        one is cloned and fitted on the same data first (``fit`` arguments; note that
        :func:`sklearn.base.clone` of this adapter also un-fits its teacher);
        an ``nn.Module`` maps inputs to the teacher's embeddings (and, when its output
        width is the number of classes, to logits for ``kd_weight``). ``None``: a
        source-only :class:`~domainadapt.training.DeepAdapter` MLP with
        ``teacher_hidden_sizes``.
    teacher_hidden_sizes : sequence of int, default=(128, 128)
        Hidden layers of the default teacher.
    distance_weight : float, default=1.0
        :math:`\lambda_D` (the paper's metric-learning setting: 1).
    angle_weight : float, default=2.0
        :math:`\lambda_A` (the paper: 2).
    kd_weight : float, default=0.0
        :math:`\lambda_{KD}`, soft-label distillation on the target batch.
    temperature : float, default=4.0
        :math:`\tau` of the soft labels.
    layer : {"features", "logits"}, default="features"
        Which outputs of student and teacher carry the relations (for an
        ``nn.Module`` teacher: its output).
    relation_domains : {"target", "both"}, default="target"
        Relations on the target batch only, or on the pooled source and target batch
        (the source-target relations then carry an adapted teacher's alignment too;
        about 8 times the cost of the angle loss, which is cubic in the rows).
    **kwargs
        Parameters shared by every deep strategy, documented in
        :class:`~domainadapt.training.DeepAdapter`: ``network``, ``hidden_sizes``,
        ``dropout``, ``n_epochs``, ``batch_size``, ``lr``, ``optimizer``,
        ``weight_decay``, ``lr_schedule``, ``device``, ``callbacks``, ``estimator``,
        ``random_state``, ... (the student's)

    Attributes
    ----------
    teacher_ : DeepAdapter or nn.Module
        The teacher used (fitted; a copy of a module).
    parts_ : nn.ModuleDict
        The student.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of the features seen during ``fit``; set only when the rows have
        string column names (e.g. a pandas DataFrame).

    See Also
    --------
    domainadapt.relation.ClassRelationAlignment : Class-aware alignment by the CDD (CAN).
    domainadapt.relation.LabelPropagation : Label spreading on a source-target k-NN graph.
    domainadapt.model.SourceOnly : The same network without an adaptation term.

    References
    ----------
    W. Park, D. Kim, Y. Lu, M. Cho. "Relational Knowledge Distillation". CVPR 2019.
    G. Hinton, O. Vinyals, J. Dean. "Distilling the Knowledge in a Neural Network".
    NeurIPS 2014 Deep Learning Workshop.

    Examples
    --------
    >>> from domainadapt.datasets import make_rotated_moons
    >>> from domainadapt.relation import RelationalDistillation
    >>> source, target = make_rotated_moons(random_state=0)
    >>> model = RelationalDistillation(teacher_hidden_sizes=(32,), hidden_sizes=(8,),
    ...                                n_epochs=3, random_state=0)
    >>> model = model.fit(source, target.X)
    >>> model.predict(target.X[:5]).shape
    (5,)
    >>> model.classes_
    array([0, 1])
    """

    _parameter_constraints: dict = {
        **DeepAdapter._parameter_constraints,
        "teacher": [DeepAdapter, nn.Module, None],
        "teacher_hidden_sizes": ["array-like"],
        "distance_weight": [Interval(numbers.Real, 0, None, closed="left")],
        "angle_weight": [Interval(numbers.Real, 0, None, closed="left")],
        "kd_weight": [Interval(numbers.Real, 0, None, closed="left")],
        "temperature": [Interval(numbers.Real, 0, None, closed="neither")],
        "layer": [StrOptions(set(_LAYERS))],
        "relation_domains": [StrOptions(set(_DOMAINS))],
    }

    def __init__(
        self,
        teacher: DeepAdapter | nn.Module | None = None,
        teacher_hidden_sizes: Sequence[int] = (128, 128),
        distance_weight: float = 1.0,
        angle_weight: float = 2.0,
        kd_weight: float = 0.0,
        temperature: float = 4.0,
        layer: str = "features",
        relation_domains: str = "target",
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.teacher = teacher
        self.teacher_hidden_sizes = teacher_hidden_sizes
        self.distance_weight = distance_weight
        self.angle_weight = angle_weight
        self.kd_weight = kd_weight
        self.temperature = temperature
        self.layer = layer
        self.relation_domains = relation_domains

    def _default_teacher(self) -> DeepAdapter:
        """A source-only network: the training base, whose loss has no alignment term."""
        shared = {k: getattr(self, k) for k in _SHARED}
        rs = self.random_state
        if not (isinstance(rs, numbers.Integral) and not isinstance(rs, bool)):
            rs = self._seed()
        return DeepAdapter(
            network=None,
            hidden_sizes=self.teacher_hidden_sizes,
            dropout=self.dropout,
            progress=False,
            random_state=rs,
            **shared,
        )

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        source: Any,
        target: Any = None,
        sample_domain: Any = None,
        sample_weight: Any = None,
    ) -> RelationalDistillation:
        """Fit (or take) the teacher, then train the student; arguments as
        :meth:`DeepAdapter.fit <domainadapt.training.DeepAdapter.fit>`."""
        self._validate_params()  # before the teacher is trained
        t = self.teacher
        if t is None:
            teacher = self._default_teacher().fit(source, target, sample_domain, sample_weight)
        elif isinstance(t, DeepAdapter):
            if hasattr(t, "parts_"):
                teacher = t  # fitted: used as is (never modified)
            else:
                teacher = clone(t).fit(source, target, sample_domain, sample_weight)
        else:
            teacher = copy.deepcopy(t)
        self.teacher_ = teacher
        return super().fit(source, target, sample_domain, sample_weight)

    def _make_context(self, **fields: Any) -> _DistillationContext:
        """The per-fit context with the frozen teacher's modules on the device."""
        context = _DistillationContext(**fields)
        teacher, input_shape = self.teacher_, context.input_shape
        if isinstance(teacher, DeepAdapter):
            if tuple(teacher.input_shape_) != tuple(input_shape):
                raise ValueError(
                    f"the teacher was fitted on rows of shape {tuple(teacher.input_shape_)}, "
                    f"the data have {tuple(input_shape)}."
                )
            if self.kd_weight > 0 and (
                teacher.n_classes_ != context.n_classes
                or not np.array_equal(np.asarray(teacher.classes_), np.asarray(self.classes_))
            ):
                raise ValueError(
                    "kd_weight > 0 needs a teacher fitted on the same classes: it has "
                    f"{list(teacher.classes_)}, the data {list(self.classes_)}."
                )
            parts = copy.deepcopy(teacher.parts_)
        else:
            parts = nn.ModuleDict({"module": copy.deepcopy(teacher)})
            try:
                with torch.no_grad():
                    parts["module"].eval()(torch.zeros((2, *input_shape)))
            except Exception as exc:  # noqa: BLE001
                raise ValueError(
                    f"the teacher module cannot process rows of shape {tuple(input_shape)}: "
                    f"{type(exc).__name__}: {exc}"
                ) from None
        context.teacher_parts = parts.to(context.device).eval().requires_grad_(False)
        return context

    @torch.no_grad()
    def _teacher_outputs(
        self, parts: nn.ModuleDict, x: Tensor, n_classes: int
    ) -> tuple[Tensor, Tensor | None]:
        """The teacher's relation embedding and logits (None when it has none) of ``x``."""
        if "module" in parts:
            out = parts["module"](x).flatten(1).float()
            return out, (out if out.shape[1] == n_classes else None)
        teacher = self.teacher_
        logits = teacher._predict_logits(parts, x).float()
        emb = logits if self.layer == "logits" else teacher._features(parts, x).float()
        return emb, logits

    def _training_loss(
        self, parts: nn.ModuleDict, batch: Batch, state: TrainState
    ) -> tuple[Tensor, dict[str, Any]]:
        ns = batch.n_source
        f, logits, cls = forward_joint(self, parts, batch)
        rows = slice(ns, None) if self.relation_domains == "target" else slice(None)
        x = torch.cat([batch.source_x, batch.target_x])[rows]
        teacher_parts = state.context.teacher_parts
        t_emb, t_logits = self._teacher_outputs(teacher_parts, x, state.n_classes)
        s_emb = (logits if self.layer == "logits" else f)[rows].float()
        zero = cls.detach() * 0.0
        n = s_emb.shape[0]  # a zero weight skips its loss (the angle loss costs O(n^3))
        dist = rkd_distance_loss(s_emb, t_emb) if self.distance_weight > 0 and n >= 2 else zero
        angle = rkd_angle_loss(s_emb, t_emb) if self.angle_weight > 0 and n >= 3 else zero
        loss = cls + self.distance_weight * dist + self.angle_weight * angle
        logs = {"classification": cls.detach(), "distance": dist.detach(), "angle": angle.detach()}
        if self.kd_weight > 0:
            if t_logits is None:
                raise ValueError(
                    "kd_weight > 0 needs teacher logits: the teacher module's output width "
                    f"must be the number of classes ({state.n_classes})."
                )
            tau = float(self.temperature)
            t_lg = t_logits[-batch.target_x.shape[0] :] if rows == slice(None) else t_logits
            kd = F.kl_div(
                F.log_softmax(logits[ns:].float() / tau, 1),
                F.softmax(t_lg / tau, 1),
                reduction="batchmean",
            ) * (tau * tau)
            loss = loss + self.kd_weight * kd
            logs["kd"] = kd.detach()
        return loss, logs
