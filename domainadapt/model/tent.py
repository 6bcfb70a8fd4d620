"""TENT: test-time adaptation of the normalisation layers by entropy minimisation."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from numbers import Integral
from typing import Any

import numpy as np
import torch
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_is_fitted
from torch import Tensor, nn

from .._domain import Domain
from .._utils import Interval
from ..ops import prediction_entropy
from ..training import DeepAdapter
from ..training.data import ArrayData, Batch
from ..training.hooks import FitContext
from ..training.optim import make_optimizer
from ._source_stage import (
    copy_module,
    fit_estimator_on_predictions,
    fit_source_stage,
    norm_modules,
    target_class_indices,
)

__all__ = ["TENT"]


def _has_batch_norm(parts: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in parts.modules())


def _tracked_batch_norms(parts: nn.Module) -> list[nn.Module]:
    """The batch-norm layers that keep running statistics."""
    return [
        m
        for m in parts.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats
    ]


@dataclass
class _AdaptationContext(FitContext):
    """One adaptation fit of TENT: its batch-norm layers, found once (not every step)."""

    batch_norms: list[nn.Module] | None = field(default=None)


class TENT(DeepAdapter):
    r"""Test-time entropy minimisation: adapt only the normalisation layers to the target.

    .. math:: \min_{\gamma, \beta}\; \mathbb E_{x \in B}\, H\big(p(x)\big),\qquad
              \mathrm{norm}(h) = \gamma\,\frac{h - \mu_B}{\sigma_B} + \beta

    After a source stage (the :class:`SourceOnly` network with normalisation
    layers), the statistics :math:`\mu, \sigma` of every batch-norm layer are
    re-estimated on the target batches and only the normalisation layers' affine
    parameters :math:`\gamma, \beta` are trained, to minimise the entropy of the
    predictions of target batches (:func:`~domainadapt.ops.prediction_entropy`).
    Every other weight keeps its source value.

    * ``fit(source, target)`` trains the source model, then adapts it on the target
      rows (``adapt_epochs`` passes);
    * ``partial_fit(X_batch)`` adapts online, one step on each arriving batch (the
      paper's setting); ``predict`` then uses the adapted model;
    * ``reset()`` returns to the source model's weights and statistics.

    Parameters
    ----------
    norm : {"batch", "layer"}, default="batch"
        Normalisation layers of the default MLP (after each hidden ``Linear``):
        ``nn.BatchNorm1d`` (the paper's; its statistics follow the target) or
        ``nn.LayerNorm`` (per-row statistics). A ``network`` brings its own: TENT
        adapts whatever normalisation layers with affine parameters it has.
    adapt_epochs : int, default=1
        Passes over the target rows in ``fit``'s adaptation stage (one, as an online
        pass; ``n_epochs`` is the budget of the source stage).
    **kwargs
        Parameters of :class:`~domainadapt.training.DeepAdapter` (network,
        n_epochs, batch_size, lr, ..., random_state). ``batch_size`` must be at least
        2 (batch statistics); ``lr`` and ``optimizer`` also drive the adaptation.

    Attributes
    ----------
    source_model_ : DeepAdapter
        The source model (trained by ``fit``), never modified.
    source_state_ : dict of str to Tensor
        The source weights and statistics of ``parts_`` (what :meth:`reset` restores).
    parts_ : nn.ModuleDict
        The adapted modules: ``"features"``, ``"classifier"``.
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    history_ : list of dict
        One record per adaptation epoch of ``fit``; these and the other fitted
        attributes (``n_iter_``, ``n_epochs_``, ...) as in
        :class:`~domainadapt.training.DeepAdapter`, for the adaptation stage.
    n_online_steps_ : int
        Adaptation steps taken by :meth:`partial_fit` since ``fit`` or :meth:`reset`.
    estimator_ : estimator
        Only with ``estimator``: fitted on the adapted features of the target rows,
        labelled by the adapted network (true labels where given); refitted by
        :meth:`partial_fit` on each batch.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of the features seen during ``fit``; set only when the rows have
        string column names (e.g. a pandas DataFrame).

    See Also
    --------
    domainadapt.model.SHOT : Source-free adaptation of the whole feature extractor.
    domainadapt.model.SourceOnly : The source model without adaptation.
    domainadapt.model.FineTuning : Fine-tuning on labelled target rows.

    Notes
    -----
    Predictions (``predict``, ``predict_proba``, ``transform``) use the batch-norm
    statistics of the target seen during adaptation, not those of the rows being
    predicted, so a row's prediction does not depend on the rows predicted with it:
    ``fit`` re-estimates them over the whole target after its steps (the average of
    the batch statistics), and each :meth:`partial_fit` batch is averaged into them.
    In the paper the test batch's own statistics are used; with batches of the
    same target both agree up to sampling noise. A batch-norm network needs target
    batches of at least 2 rows.

    References
    ----------
    D. Wang, E. Shelhamer, S. Liu, B. Olshausen, T. Darrell. "Tent: Fully Test-time
    Adaptation by Entropy Minimization". ICLR 2021.

    Examples
    --------
    >>> from domainadapt.datasets import make_rotated_moons
    >>> from domainadapt.model import TENT
    >>> source, target = make_rotated_moons(random_state=0)
    >>> model = TENT(hidden_sizes=(16,), n_epochs=5, random_state=0)
    >>> model = model.fit(source, target.X)
    >>> model.predict(target.X[:5]).shape
    (5,)
    >>> model.classes_
    array([0, 1])
    >>> model.n_features_in_
    2
    >>> model = model.partial_fit(target.X[:32])  # one online step on a new batch
    >>> model = model.reset()  # back to the source weights
    """

    _parameter_constraints: dict = {
        **DeepAdapter._parameter_constraints,
        "batch_size": [Interval(Integral, 2, None, closed="left")],
        "norm": [StrOptions({"batch", "layer"})],
        "adapt_epochs": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, norm: str = "batch", adapt_epochs: int = 1, **kwargs: Any):
        super().__init__(**kwargs)
        self.norm = norm
        self.adapt_epochs = adapt_epochs

    def _mlp_norm(self) -> str | None:
        return self.norm

    # ------------------------------------------------------------------ fit
    def _fit_torch_data(self, source: Any, target: Any) -> None:
        raise TypeError(
            "source and target: TENT takes arrays or Domain objects, not Dataset/DataLoader."
        )

    def _fit(self, source: Domain, target: Domain) -> None:
        self._online_optimizer = None  # it would step the parts of an earlier fit
        stage = fit_source_stage(self, source, target, norm=self.norm)
        self.source_model_ = stage
        self.classes_ = stage.classes_
        if not norm_modules(stage.parts_):
            raise ValueError(
                "network has no normalisation layer with affine parameters (BatchNorm, "
                "LayerNorm, GroupNorm): TENT adapts only those. Add some to the network, or "
                "use network=None (the default MLP with norm=)."
            )
        if len(target.X) < 2 and _has_batch_norm(stage.parts_):
            raise ValueError(
                "target has a single row: TENT's batch statistics need target batches of at "
                "least 2 rows."
            )
        known = target_class_indices(target, stage.classes_)
        data = ArrayData(target.X, np.maximum(known, 0))
        data.known = torch.from_numpy(known)
        self._train(data, data, len(stage.classes_), target.X.shape[1:],
                    n_epochs=self.adapt_epochs)
        self._reestimate_statistics(data.x)
        self.source_state_ = {
            k: v.detach().cpu().clone() for k, v in stage.parts_.state_dict().items()
        }
        self.n_online_steps_ = 0
        if self.estimator is not None:
            fit_estimator_on_predictions(self, data.x, data.known)

    # ------------------------------------------------------------------ parts
    def _resolve_architecture(self, source: Any, target: Any, input_shape: tuple[int, ...]) -> None:
        stage = getattr(self, "source_model_", None)
        if stage is None:  # load(): the parts are rebuilt from the parameters
            super()._resolve_architecture(source, target, input_shape)
            return
        self.dropout_ = stage.dropout_
        self.standardize_, self.input_mean_, self.input_scale_ = False, None, None

    def _build_parts(self, input_shape: tuple[int, ...], n_classes: int) -> dict[str, nn.Module]:
        stage = getattr(self, "source_model_", None)
        if stage is None:
            return super()._build_parts(input_shape, n_classes)
        return {k: copy_module(stage.parts_[k]) for k in ("features", "classifier")}

    def _make_parts(
        self, input_shape: tuple[int, ...], n_classes: int, *, start_weights: bool = True
    ) -> nn.ModuleDict:
        parts = super()._make_parts(input_shape, n_classes, start_weights=start_weights)
        self._prepare(parts)
        return parts

    @staticmethod
    def _prepare(parts: nn.ModuleDict) -> None:
        """Only the norm layers' affine parameters train; batch-norm statistics become
        the cumulative average of the adaptation batches' statistics."""
        parts.requires_grad_(False)
        for m in norm_modules(parts):
            for p in (m.weight, m.bias):
                if p is not None:
                    p.requires_grad_(True)
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats:
                m.momentum = None
                m.num_batches_tracked.zero_()

    def _make_context(self, **fields: Any) -> FitContext:
        return _AdaptationContext(**fields)

    @staticmethod
    def _cumulative_momentum(norms: list[nn.Module], batches_before: int | None) -> None:
        """The batch-norm statistics' cumulative average over the adaptation batches.

        ``momentum=None`` makes torch's batch norm read its device counter
        ``num_batches_tracked`` back to the host at every training forward pass (a host
        synchronisation per layer and step on a GPU). Inside the engine the counter is
        the step count, which the host knows: ``momentum = 1 / (batches_before + 1)``
        gives the same running statistics. ``None`` restores torch's own average (the
        online and re-estimation passes, outside the engine).
        """
        momentum = None if batches_before is None else 1.0 / (batches_before + 1)
        for m in norms:
            m.momentum = momentum

    @staticmethod
    def _adaptation_mode(parts: nn.ModuleDict) -> None:
        """Evaluation mode (no dropout) except the norm layers (batch statistics)."""
        parts.eval()
        for m in norm_modules(parts):
            m.train()

    def _param_groups(self, parts: nn.ModuleDict) -> dict[str, list[dict[str, Any]]]:
        return {"main": [{"params": self._affine_parameters(parts)}]}

    @staticmethod
    def _affine_parameters(parts: nn.ModuleDict) -> list[Tensor]:
        return [p for m in norm_modules(parts) for p in (m.weight, m.bias) if p is not None]

    # ------------------------------------------------------------------ adaptation
    def _training_loss(
        self, parts: nn.ModuleDict, batch: Batch, state: Any
    ) -> tuple[Tensor, dict[str, Any]]:
        # the engine's labelled stream is the target (its labels are not used)
        self._adaptation_mode(parts)
        context = state.context
        if context.batch_norms is None:  # once per fit (a resume finds them again)
            context.batch_norms = _tracked_batch_norms(parts)
        self._cumulative_momentum(context.batch_norms, state.step)  # _prepare zeroed counters
        loss = prediction_entropy(parts["classifier"](parts["features"](batch.source_x)))
        return loss, {"entropy": loss.detach()}

    def _fit_estimator(self, source: Any, target: Any) -> None:
        """Fitted at the end of ``_fit``, once the statistics are re-estimated."""

    @torch.no_grad()
    def _reestimate_statistics(self, x: Tensor) -> None:
        """Batch-norm statistics of the adapted network over all rows ``x`` (the
        average of their batches' statistics; every batch has at least 2 rows)."""
        parts = self.parts_
        self._cumulative_momentum(_tracked_batch_norms(parts), None)  # for partial_fit too
        if not _has_batch_norm(parts):
            return
        for m in parts.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats:
                m.num_batches_tracked.zero_()
        self._adaptation_mode(parts)
        device = next(iter(parts.parameters())).device
        n_chunks = max(1, len(x) // int(self.batch_size))
        for idx in np.array_split(np.arange(len(x)), n_chunks):
            parts["features"](x[torch.from_numpy(idx)].to(device))
        parts.eval()

    def partial_fit(self, X: Any, y: Any = None, sample_domain: Any = None) -> TENT:
        """One adaptation step on a batch of target rows (online test-time adaptation).

        The batch's entropy is minimised over the normalisation layers' affine
        parameters (one optimiser step, its state kept across calls) and its
        batch-norm statistics are averaged into those used by ``predict``.

        Parameters
        ----------
        X : array-like of shape (n_rows, n_features)
            A batch of target rows (at least 2 with batch normalisation).
        y, sample_domain : ignored
            Present for the scikit-learn signature; TENT uses no label.

        Returns
        -------
        self
        """
        check_is_fitted(self, "source_state_")
        arr = self._check_X(X)
        parts = self.parts_
        if len(arr) < 2 and _has_batch_norm(parts):
            raise ValueError(
                "X holds a single row: TENT's batch statistics need batches of at least 2 rows."
            )
        device = next(iter(parts.parameters())).device
        x = torch.as_tensor(np.asarray(arr), dtype=torch.float32).reshape(
            (len(arr), *self.input_shape_)
        ).to(device)
        opt = getattr(self, "_online_optimizer", None)
        if opt is None:
            opt = make_optimizer(
                self.optimizer, [{"params": self._affine_parameters(parts)}], self.lr,
                self.weight_decay, self.momentum,
            )
            self._online_optimizer = opt
        self._adaptation_mode(parts)
        with torch.enable_grad():
            loss = prediction_entropy(parts["classifier"](parts["features"](x)))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        parts.eval()
        self.n_online_steps_ += 1
        if getattr(self, "estimator_", None) is not None:
            fit_estimator_on_predictions(self, x, None, keep_previous=True)
        return self

    def reset(self) -> TENT:
        """Return to the source model: its weights and normalisation statistics (the
        online optimiser's state is dropped).

        Returns
        -------
        self
        """
        check_is_fitted(self, "source_state_")
        self.parts_.load_state_dict(copy.deepcopy(self.source_state_))
        self._prepare(self.parts_)
        self.parts_.eval()
        self._online_optimizer = None
        self.n_online_steps_ = 0
        return self
