"""What the source-free / test-time strategies (SHOT, TENT) share.

* :class:`SourceStage`: the source model they start from when ``fit`` is given
  source rows (the SourceOnly network, with label smoothing and normalisation
  layers as options);
* :func:`fit_source_stage`: trains one with the owner's settings;
* :func:`source_parts`: the ``features`` / ``classifier`` modules and the classes of
  a fitted source model (a :class:`~domainadapt.training.DeepAdapter`, a
  ``FrozenEstimator`` around one, or a user ``nn.Module`` with ``features`` and
  ``classifier``);
* :func:`target_class_indices`: the labelled target rows as class indices of the
  source model (-1 elsewhere);
* :func:`fit_estimator_on_predictions`: ``estimator_`` fitted without source rows.
"""

from __future__ import annotations

import copy
import warnings
from numbers import Real
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import clone
from sklearn.utils._param_validation import StrOptions
from torch import Tensor, nn

from .._domain import Domain
from .._fitting import _fit_with_weights
from .._utils import Interval
from ..training import DeepAdapter
from ..training.data import Batch

__all__ = [
    "SourceStage",
    "check_source_input",
    "copy_module",
    "fit_estimator_on_predictions",
    "fit_source_stage",
    "norm_modules",
    "source_parts",
    "target_class_indices",
]


class SourceStage(DeepAdapter):
    """The source model of SHOT and TENT: SourceOnly with label smoothing and the
    default MLP's ``norm`` layers as options (private; not registered)."""

    _parameter_constraints: dict = {
        **DeepAdapter._parameter_constraints,
        "label_smoothing": [Interval(Real, 0, 1, closed="left")],
        "norm": [StrOptions({"batch", "layer"}), None],
    }

    def __init__(self, label_smoothing: float = 0.0, norm: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.label_smoothing = label_smoothing
        self.norm = norm

    def _mlp_norm(self) -> str | None:
        return self.norm

    def _training_loss(
        self, parts: nn.ModuleDict, batch: Batch, state: Any
    ) -> tuple[Tensor, dict[str, Any]]:
        # source rows and labelled target rows in one forward pass (one batch for the
        # batch-norm statistics, never a lone labelled row)
        x, y = batch.source_x, batch.source_y
        if batch.target_labelled is not None:
            index = batch.target_labelled_index  # host-built: no wait for the device
            x = torch.cat([x, batch.target_x.index_select(0, index)])
            y = torch.cat([y, batch.target_y.index_select(0, index)])
        logits = parts["classifier"](parts["features"](x))
        ce = F.cross_entropy(
            logits.float(), y, reduction="none", label_smoothing=float(self.label_smoothing)
        )
        if batch.source_weight is not None:
            w = torch.ones_like(ce)
            w[: batch.n_source] = batch.source_weight
            ce = ce * w
        return ce.mean(), {}


def fit_source_stage(
    owner: DeepAdapter, source: Domain, target: Domain, **params: Any
) -> SourceStage:
    """A :class:`SourceStage` with ``owner``'s training settings (plus ``params``),
    fitted on validated domains (the labelled target rows are used as labelled rows)."""
    base = {
        k: v
        for k, v in owner.get_params(deep=False).items()
        if k in DeepAdapter._get_param_names()
    }
    base.update(checkpoint_dir=None, resume=False, callbacks=None, estimator=None)
    base.update(params)
    stage = SourceStage(**base)
    stage._validate_params()
    stage.n_features_in_ = owner.n_features_in_
    stage._fit(source, target)
    return stage


def _unwrap(model: Any) -> Any:
    inner = getattr(model, "estimator", None)
    if type(model).__name__ == "FrozenEstimator" and inner is not None:
        return inner
    return model


def source_parts(model: Any) -> tuple[nn.Module, nn.Module, np.ndarray, Any]:
    """``(features, classifier, classes, adapter)`` of a source model (not copied).

    ``adapter`` is the fitted :class:`DeepAdapter` (``None`` for a bare module,
    whose classes are ``0 .. n_classes - 1``, read from the classifier's output).
    """
    model = _unwrap(model)
    if isinstance(model, DeepAdapter):
        parts = getattr(model, "parts_", None)
        if parts is None:
            raise ValueError(
                f"source_model ({type(model).__name__}) is not fitted: fit it on the source "
                "first (a clone, e.g. inside GridSearchCV, is unfitted: wrap the fitted model "
                "in sklearn.frozen.FrozenEstimator)."
            )
        if getattr(model, "estimator_", None) is not None:
            warnings.warn(
                "source_model predicts through its estimator_; the adaptation uses its "
                "network head instead.",
                UserWarning,
                stacklevel=3,
            )
        return parts["features"], parts["classifier"], np.asarray(model.classes_), model
    if isinstance(model, nn.Module):
        features = getattr(model, "features", None)
        classifier = getattr(model, "classifier", None)
        if not isinstance(features, nn.Module) or not isinstance(classifier, nn.Module):
            raise TypeError(
                "source_model as an nn.Module must have the submodules 'features' and "
                "'classifier' (classifier(features(x)) gives the class scores), e.g. "
                "nn.ModuleDict({'features': ..., 'classifier': ...})."
            )
        out = getattr(classifier, "out_features", None)
        if not isinstance(out, int) or out < 2:
            raise ValueError(
                "source_model.classifier must have out_features >= 2 (one score per class), "
                "e.g. an nn.Linear head."
            )
        return features, classifier, np.arange(out), None
    raise TypeError(
        "source_model must be a fitted domainadapt deep strategy (SourceOnly, DANN, ...), "
        "a FrozenEstimator around one, or an nn.Module with 'features' and 'classifier'; "
        f"got {type(model).__name__}."
    )


def check_source_input(adapter: Any, n_features: int) -> None:
    """``ValueError`` naming the target when its width differs from the source model's."""
    fitted = getattr(adapter, "n_features_in_", None)
    if fitted is not None and int(fitted) != int(n_features):
        raise ValueError(
            f"target X has {n_features} features, but source_model was fitted with {fitted}."
        )


def target_class_indices(target: Domain, classes: np.ndarray) -> np.ndarray:
    """The labelled target rows as indices into ``classes`` (``-1`` on the others)."""
    known = np.full(len(target.X), -1, dtype=np.int64)
    if target.y is None or target.labelled is None or not target.labelled.any():
        return known
    y = np.asarray(target.y)[target.labelled]
    try:
        ok = np.isin(y, classes)
    except TypeError:
        ok = np.zeros(len(y), bool)
    if not ok.all():
        raise ValueError(
            f"target y holds labels the source model does not know ({y[~ok][:3].tolist()}); "
            f"its classes are {classes.tolist()}."
        )
    known[target.labelled] = np.searchsorted(classes, y)
    return known


def fit_estimator_on_predictions(
    adapter: DeepAdapter, x: Tensor, known: Tensor | None, *, keep_previous: bool = False
) -> None:
    """Fit ``estimator_`` on the adapted features of rows ``x`` labelled by the
    adapted network (true labels where ``known >= 0``), without any source row.

    When the labels hold a single class no classifier can be fitted: the previous
    ``estimator_`` is kept (``keep_previous``) or removed, with a warning, and
    prediction goes through the network.
    """
    parts = adapter.parts_
    parts.eval()
    device = next(iter(parts.parameters())).device
    with torch.no_grad():
        x = x.to(device)
        labels = adapter._predict_logits(parts, x).argmax(1).cpu()
    if known is not None:
        labels = torch.where(known >= 0, known, labels)
    labels = labels.numpy()
    if len(np.unique(labels)) < 2:
        if not keep_previous and hasattr(adapter, "estimator_"):
            del adapter.estimator_
        warnings.warn(
            f"{type(adapter).__name__}: the adapted network labels every target row with one "
            "class; estimator is not (re)fitted and the network predicts.",
            UserWarning,
            stacklevel=3,
        )
        return
    feats = adapter._transform_tensor(x)
    adapter.estimator_ = _fit_with_weights(
        clone(adapter.estimator), feats, adapter.classes_[labels], None
    )


def norm_modules(module: nn.Module) -> list[nn.Module]:
    """The normalisation layers of ``module`` that have affine parameters."""
    kinds = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)
    out = []
    for m in module.modules():
        if isinstance(m, kinds) and any(p is not None for p in (m.weight, m.bias)):
            out.append(m)
    return out


def copy_module(module: nn.Module) -> nn.Module:
    """A deep copy on the CPU, in training mode (a starting point for a stage)."""
    return copy.deepcopy(module).cpu().train()
