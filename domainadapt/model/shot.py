"""SHOT: source hypothesis transfer, adaptation without the source rows."""

from __future__ import annotations

import copy
import warnings
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator
from torch import Tensor, nn

from .._domain import Domain
from .._feature_names import _raw_X, get_feature_names
from .._utils import Interval
from ..ops import information_maximization
from ..training import DeepAdapter
from ..training.data import ArrayData, Batch, is_torch_data
from ..validation import check_domain
from ._source_stage import (
    check_source_input,
    copy_module,
    fit_estimator_on_predictions,
    fit_source_stage,
    source_parts,
    target_class_indices,
)

__all__ = ["SHOT", "centroid_pseudo_labels"]


class _PseudoLabelled(ArrayData):
    """The target rows as the engine's labelled stream: ``y`` holds the pseudo-labels
    (rewritten at every epoch start), ``known`` the true class index of the labelled
    target rows (``-1`` elsewhere)."""

    def __init__(self, x: np.ndarray, known: np.ndarray):
        super().__init__(x, np.maximum(known, 0))
        self.known = torch.from_numpy(np.asarray(known, dtype=np.int64))


def centroid_pseudo_labels(features: Tensor, probs: Tensor, n_rounds: int = 2) -> Tensor:
    r"""SHOT's self-supervised pseudo-labels: nearest class centroid in feature space.

    The first centroids are the prediction-weighted means
    :math:`c_k = \sum_i p_{ik}\,\hat g_i / \sum_i p_{ik}` of the features
    :math:`\hat g_i` (with a constant 1 appended, L2-normalised: cosine distance, as
    in the paper); each row takes the class of its nearest centroid; the centroids
    are then recomputed from those hard labels, ``n_rounds`` times in all.

    Parameters
    ----------
    features : Tensor of shape (n, d)
    probs : Tensor of shape (n, n_classes)
        Softmax predictions of the rows.
    n_rounds : int, default=2

    Returns
    -------
    Tensor of int64, shape (n,)
    """
    f = features.flatten(1).float()
    f = F.normalize(torch.cat([f, torch.ones_like(f[:, :1])], 1), dim=1)
    w = probs.float()
    labels = w.argmax(1)
    for _ in range(n_rounds):
        centroids = (w.T @ f) / (w.sum(0)[:, None] + 1e-8)
        labels = (f @ F.normalize(centroids, dim=1).T).argmax(1)
        w = F.one_hot(labels, probs.shape[1]).float()
    return labels


class SHOT(DeepAdapter):
    r"""Source hypothesis transfer: adapt the source features to the target without the source rows.

    .. math:: \min_{F}\; \underbrace{\mathbb E_t\, H\big(p(x)\big)
              - \lambda\, H\big(\mathbb E_t\, p(x)\big)}_{\text{information maximisation}}
              \;+\; \beta\, \mathbb E_t\, \ell\big(C(F(x)), \hat y(x)\big)

    with :math:`p = \mathrm{softmax}(C(F(x)))`. The classifier :math:`C` of the source
    model (its *hypothesis*) is frozen; only the feature extractor :math:`F` is
    trained, on target rows alone, so that its features fit the source hypothesis:
    confident predictions (low entropy) that still use every class (high entropy of
    the mean prediction), plus a cross-entropy on self-supervised pseudo-labels
    :math:`\hat y`, the nearest class centroid in feature space
    (:func:`centroid_pseudo_labels`), recomputed over the whole target at the start of
    every epoch.

    Two ways in:

    * ``fit(source, target)`` first trains the source model on the labelled rows
      (the :class:`SourceOnly` network with label smoothing, as in the paper), then
      adapts it; the source rows are not read again after that stage;
    * ``SHOT(source_model=model).fit(target=X_t)`` (or ``fit(None, X_t)``) adapts a
      trained model and never needs a source row: a fitted deep strategy
      (:class:`SourceOnly`, :class:`DANN`, ...) or an ``nn.Module`` with ``features``
      and ``classifier`` submodules (classes are then ``0 .. n_classes - 1``).

    Parameters
    ----------
    source_model : DeepAdapter, FrozenEstimator or nn.Module, optional
        The trained source model to adapt (copied; never modified). ``None``: trained
        by ``fit`` on the source rows.
    beta : float, default=0.3
        :math:`\beta`, weight of the pseudo-label cross-entropy (the paper's value;
        0 gives SHOT-IM).
    diversity_weight : float, default=1.0
        :math:`\lambda`, weight of the diversity term.
    label_smoothing : float, default=0.1
        Label smoothing of the source stage's cross-entropy (the paper's 0.1).
    adapt_epochs : int, default=10
        Passes over the target rows in the adaptation stage (``n_epochs`` is the
        budget of the source stage).
    **kwargs
        Parameters of :class:`~domainadapt.training.DeepAdapter` (network,
        n_epochs, batch_size, lr, ..., random_state); both stages use them.

    Attributes
    ----------
    source_model_ : DeepAdapter or nn.Module
        The source model the adaptation started from (trained by ``fit``, or a copy
        of ``source_model``).
    parts_ : nn.ModuleDict
        The adapted modules: ``"features"`` (trained) and ``"classifier"`` (the
        source hypothesis, unchanged).
    classes_ : ndarray of shape (n_classes,)
        Class labels (those of the source model).
    history_ : list of dict
        One record per adaptation epoch (``loss``, ``information_maximization``,
        ``pseudo_label``, ...); these and the other fitted attributes (``n_iter_``,
        ``n_epochs_``, ...) as in :class:`~domainadapt.training.DeepAdapter`, for the
        adaptation stage.
    estimator_ : estimator
        Only with ``estimator``: fitted on the adapted features of the target rows,
        labelled by the adapted network (true labels where given), never on source
        rows.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of the features seen during ``fit``; set only when the rows have
        string column names (e.g. a pandas DataFrame).

    See Also
    --------
    domainadapt.model.TENT : Test-time adaptation of the normalisation layers by entropy minimisation.
    domainadapt.model.SourceOnly : The source model without adaptation.
    domainadapt.model.DANN : Adaptation that needs the source rows throughout.

    Notes
    -----
    Labelled target rows (``-1`` elsewhere) join the source stage and, in the
    adaptation, replace their pseudo-labels by their labels. The classifier head
    stays the source hypothesis, so the classes are the source model's. A clone
    (``GridSearchCV``, ``cross_val_score``) of a strategy whose ``source_model`` is a
    fitted estimator gets an unfitted copy of it: wrap the model in
    ``sklearn.frozen.FrozenEstimator`` to keep it fitted.

    The pseudo-labels assume that each class forms one compact cluster of the
    features. On shifted 8x8 digits (``make_shifted_digits(shift="rotation")``,
    default MLP, ``n_epochs=20``, seeds 0-2) SHOT raises the target accuracy of its
    source model from 0.831 +- 0.018 to 0.890 +- 0.013; on the two interleaved,
    non-convex classes of ``make_rotated_moons`` (300 rows, 30 degrees,
    ``n_epochs=30``) it lowers it, from 0.868 +- 0.034 to 0.768 +- 0.083.

    References
    ----------
    J. Liang, D. Hu, J. Feng. "Do We Really Need to Access the Source Data? Source
    Hypothesis Transfer for Unsupervised Domain Adaptation". ICML 2020.

    Examples
    --------
    >>> from domainadapt.datasets import make_rotated_moons
    >>> from domainadapt.model import SHOT, SourceOnly
    >>> source, target = make_rotated_moons(random_state=0)
    >>> model = SHOT(hidden_sizes=(16,), n_epochs=5, adapt_epochs=2, random_state=0)
    >>> model = model.fit(source, target.X)
    >>> model.predict(target.X[:5]).shape
    (5,)
    >>> model.classes_
    array([0, 1])
    >>> model.n_features_in_
    2

    Without any source row, from a trained source model:

    >>> trained = SourceOnly(hidden_sizes=(16,), n_epochs=5, random_state=0)
    >>> trained = trained.fit(source, target.X)
    >>> shot = SHOT(source_model=trained, adapt_epochs=2, random_state=0)
    >>> shot = shot.fit(target=target.X)
    >>> shot.predict(target.X[:5]).shape
    (5,)
    """

    _parameter_constraints: dict = {
        **DeepAdapter._parameter_constraints,
        "source_model": [BaseEstimator, nn.Module, None],
        "beta": [Interval(Real, 0, None, closed="left")],
        "diversity_weight": [Interval(Real, 0, None, closed="left")],
        "label_smoothing": [Interval(Real, 0, 1, closed="left")],
        "adapt_epochs": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        source_model: Any = None,
        beta: float = 0.3,
        diversity_weight: float = 1.0,
        label_smoothing: float = 0.1,
        adapt_epochs: int = 10,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.source_model = source_model
        self.beta = beta
        self.diversity_weight = diversity_weight
        self.label_smoothing = label_smoothing
        self.adapt_epochs = adapt_epochs

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        source: Any = None,
        target: Any = None,
        sample_domain: Any = None,
        sample_weight: Any = None,
    ) -> SHOT:
        """Train the source model on ``source`` (unless ``source_model`` is given), then
        adapt it on the target rows alone.

        Parameters
        ----------
        source : Domain, tuple (X, y[, w]) or None
            The labelled source; ``None`` with ``source_model`` (source-free). In the
            stacked form, all rows ``X``.
        target : Domain, array-like or (X, y)
            The target rows (``-1`` labels mark unlabelled rows); in the stacked form, ``y``.
        sample_domain : array-like of str, optional
            Stacked form only.
        sample_weight : array-like, optional
            Importance weights of the source rows (source stage only).

        Returns
        -------
        self
        """
        if source is not None or sample_domain is not None:
            return super().fit(source, target, sample_domain, sample_weight)
        self._validate_params()
        if target is None:
            raise ValueError("target is missing: SHOT adapts on target rows; pass target=.")
        if self.source_model is None:
            raise ValueError(
                "source is missing: SHOT trains its source model on labelled source rows; "
                "pass them, or a trained source_model= to adapt without any source row."
            )
        if is_torch_data(target):
            raise TypeError("target: SHOT takes arrays or a Domain, not a Dataset/DataLoader.")
        names = get_feature_names(_raw_X(target), "target X")
        tgt = check_domain(target, "target", allow_nd=True, owner=type(self).__name__)
        if names is not None:
            self.feature_names_in_ = names
        elif "feature_names_in_" in self.__dict__:
            del self.feature_names_in_
        self.n_features_in_ = int(np.prod(tgt.X.shape[1:]))
        self.source_model_ = self._copied_source_model()
        self._adapt(tgt)
        return self

    def _fit_torch_data(self, source: Any, target: Any) -> None:
        raise TypeError(
            "source and target: SHOT takes arrays or Domain objects, not Dataset/DataLoader "
            "(its pseudo-labels are per target row)."
        )

    def _copied_source_model(self) -> Any:
        features, classifier, _, adapter = source_parts(self.source_model)
        if adapter is not None:
            return copy.deepcopy(adapter)
        module = nn.Module()
        module.features, module.classifier = copy_module(features), copy_module(classifier)
        return module

    def _fit(self, source: Domain, target: Domain) -> None:
        if self.source_model is None:
            self.source_model_ = fit_source_stage(
                self, source, target, label_smoothing=self.label_smoothing
            )
        else:
            warnings.warn(
                "SHOT: source_model is given, so the source rows are not used.",
                UserWarning,
                stacklevel=3,
            )
            self.source_model_ = self._copied_source_model()
        del source  # the adaptation stage never reads a source row
        self._adapt(target)

    def _adapt(self, target: Domain) -> None:
        _, _, classes, adapter = source_parts(self.source_model_)
        check_source_input(adapter, self.n_features_in_)
        self.classes_ = classes
        data = _PseudoLabelled(target.X, target_class_indices(target, classes))
        self._train(data, data, len(classes), target.X.shape[1:], n_epochs=self.adapt_epochs)

    # ------------------------------------------------------------------ parts
    def _resolve_architecture(self, source: Any, target: Any, input_shape: tuple[int, ...]) -> None:
        model = getattr(self, "source_model_", None)
        if model is None:  # load(): the parts are rebuilt from the parameters
            super()._resolve_architecture(source, target, input_shape)
            return
        self.dropout_ = getattr(model, "dropout_", None)
        # the copied features carry their input scaling (read back after training)
        self.standardize_, self.input_mean_, self.input_scale_ = False, None, None

    def _build_parts(self, input_shape: tuple[int, ...], n_classes: int) -> dict[str, nn.Module]:
        model = getattr(self, "source_model_", None)
        if model is None:
            return super()._build_parts(input_shape, n_classes)
        features, classifier, _, _ = source_parts(model)
        return {"features": copy_module(features), "classifier": copy_module(classifier)}

    def _make_parts(
        self, input_shape: tuple[int, ...], n_classes: int, *, start_weights: bool = True
    ) -> nn.ModuleDict:
        parts = super()._make_parts(input_shape, n_classes, start_weights=start_weights)
        parts["classifier"].requires_grad_(False)  # the source hypothesis is kept
        return parts

    def _param_groups(self, parts: nn.ModuleDict) -> dict[str, list[dict[str, Any]]]:
        return {"main": [{"params": [p for p in parts["features"].parameters()
                                     if p.requires_grad]}]}

    # ------------------------------------------------------------------ training
    def _on_epoch_start(self, parts: nn.ModuleDict, state: Any) -> None:
        """Pseudo-labels of every target row from the current features."""
        data = state.context.source
        feats, probs = [], []
        parts.eval()
        with torch.no_grad():
            for i in range(0, len(data), 1024):
                x = data.x[i : i + 1024].to(state.device)
                f = parts["features"](x)
                feats.append(f.flatten(1).float().cpu())
                probs.append(F.softmax(parts["classifier"](f).float(), 1).cpu())
        labels = centroid_pseudo_labels(torch.cat(feats), torch.cat(probs))
        data.y.copy_(torch.where(data.known >= 0, data.known, labels))

    def _training_loss(
        self, parts: nn.ModuleDict, batch: Batch, state: Any
    ) -> tuple[Tensor, dict[str, Any]]:
        # the engine's labelled stream is the target with its pseudo-labels
        logits = parts["classifier"](parts["features"](batch.source_x))
        im = information_maximization(logits, self.diversity_weight)
        ce = F.cross_entropy(logits.float(), batch.source_y)
        loss = im + float(self.beta) * ce
        return loss, {"information_maximization": im.detach(), "pseudo_label": ce.detach()}

    def _fit_estimator(self, source: Any, target: Any) -> None:
        fit_estimator_on_predictions(self, source.x, source.known)
