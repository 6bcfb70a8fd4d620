"""Base classes of the four families of strategies.

Every strategy derives from :class:`BaseAdapter` and is fitted with one entry
point, ``fit(source, target)``:

* ``source``: a :class:`~domainadapt.Domain` or a tuple ``(X, y)``; labelled.
* ``target``: a :class:`~domainadapt.Domain`, an array ``X`` (unlabelled) or
  ``(X, y)`` where unlabelled rows of ``y`` are ``-1`` (``NaN`` for float labels).

The same objects work inside scikit-learn on *stacked* rows,
``fit(X, y, sample_domain=sample_domain)``, where ``sample_domain[i]`` is
``"source"``, ``"target"`` (unlabelled: ``y[i]`` is ignored when fitting) or
``"target_labelled"``. No global scikit-learn setting is changed: the
``sample_domain`` argument reaches ``fit`` as an ordinary fit parameter, and is
requested by default when the user enables metadata routing.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, clone, is_regressor
from sklearn.metrics import accuracy_score, r2_score
from sklearn.utils.validation import check_is_fitted

from ._domain import SOURCE, Domain
from ._fitting import _fit_with_weights, labelled_training_rows
from ._sparse import densify, is_sparse, n_rows
from ._tempering import (
    FLATTEN_GRID,
    check_flatten,
    effective_sample_size,
    select_flattening,
    temper_weights,
)
from .validation import (
    check_class_labels,
    check_feature_names,
    check_features,
    check_sample_domain,
    check_source_target,
    feature_names_checked,
    fit_feature_names,
    split_sample_domain,
    target_rows_to_score,
)

__all__ = ["BaseAdapter", "InstanceAdapter", "FeatureAdapter", "ModelAdapter", "is_adapter"]


def is_adapter(obj: Any) -> bool:
    """Whether ``obj`` is a domainadapt strategy (accepts ``sample_domain``)."""
    return isinstance(obj, BaseAdapter)


def score_target_rows(model: Any, X: np.ndarray, y: Any, sample_weight: Any,
                      sample_domain: Any) -> float:
    """``model``'s accuracy (R² for a regressor) on the target rows of validated ``X``.

    The body of every domain-aware ``score``: with ``sample_domain`` only the rows
    marked ``"target"``/``"target_labelled"`` count, with their ``sample_weight``.
    """
    X, y, sample_domain, sample_weight = target_rows_to_score(X, y, sample_domain,
                                                              sample_weight)
    with feature_names_checked():  # X is now a validated array without names
        pred = model.predict(X, sample_domain=sample_domain)
    if is_regressor(model):
        return float(r2_score(y, pred, sample_weight=sample_weight))
    return float(accuracy_score(y, pred, sample_weight=sample_weight))


def accepts_sample_domain(obj: Any) -> bool:
    """Whether ``obj``'s ``predict``/``score`` take ``sample_domain=``.

    True for domainadapt strategies and for estimators that declare it with a
    ``_accepts_sample_domain = True`` class attribute (``DAPipeline``), so the
    layers below ``pipeline`` can recognise a pipeline without importing it.
    """
    return is_adapter(obj) or bool(getattr(type(obj), "_accepts_sample_domain", False))


class BaseAdapter(BaseEstimator):
    """Base class of every domain-adaptation strategy.

    Subclasses implement ``_fit(source, target)`` on validated
    :class:`~domainadapt.Domain` objects (NumPy arrays, ``labelled`` masks set).
    """

    #: Family name: "instance", "feature", "model" or "relation".
    family: str = "base"
    #: Whether X may keep image dimensions (deep strategies).
    _allow_nd: bool = False
    #: Whether the strategy works on a SciPy sparse X as it is (kept as CSR); the
    #: others densify it with a warning, or refuse it above ``_sparse.DENSIFY_LIMIT``.
    _accept_sparse: bool = False
    #: Allowed values of each constructor parameter (scikit-learn's declarative
    #: validation), checked once at the start of ``fit`` by ``_validate_params``.
    #: Subclasses extend their parent's: ``{**Parent._parameter_constraints, ...}``.
    _parameter_constraints: dict = {}  # noqa: RUF012

    # Request sample_domain by default when metadata routing is enabled.
    __metadata_request__fit = {"sample_domain": True}  # noqa: RUF012
    __metadata_request__predict = {"sample_domain": True}  # noqa: RUF012
    __metadata_request__predict_proba = {"sample_domain": True}  # noqa: RUF012
    __metadata_request__score = {"sample_domain": True}  # noqa: RUF012
    __metadata_request__transform = {"sample_domain": True}  # noqa: RUF012

    def fit(self, source: Any, target: Any = None, sample_domain: Any = None) -> BaseAdapter:
        """Fit the strategy.

        Parameters
        ----------
        source : Domain, tuple (X, y) or array-like
            The labelled source domain; in the stacked form, all rows ``X``.
        target : Domain, array-like or tuple (X, y)
            The target domain; in the stacked form, the labels ``y`` of all rows.
        sample_domain : array-like of str, optional
            Stacked form only: ``"source"``, ``"target"`` or ``"target_labelled"``
            for each row.

        Returns
        -------
        self
        """
        self._validate_params()
        src, tgt = self._validate_fit_input(source, target, sample_domain)
        self.n_features_in_ = int(np.prod(src.X.shape[1:]))
        self._fit(src, tgt)
        return self

    def _validate_fit_input(
        self, source: Any, target: Any, sample_domain: Any
    ) -> tuple[Domain, Domain]:
        """Validated domains; sets (or removes) ``feature_names_in_`` as scikit-learn."""
        names = fit_feature_names(source, target, sample_domain)
        kw = {
            "allow_nd": self._allow_nd,
            "accept_sparse": self._accept_sparse,
            "owner": type(self).__name__,
        }
        if sample_domain is not None:
            source, target = split_sample_domain(source, target, sample_domain, **kw)
        domains = check_source_target(source, target, **kw)
        check_class_labels(*domains, getattr(self, "estimator", None), type(self).__name__)
        if names is not None:
            self.feature_names_in_ = names
        elif "feature_names_in_" in self.__dict__:
            del self.feature_names_in_
        return domains

    def _fit(self, source: Domain, target: Domain) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _check_X(self, X: Any, name: str = "X", *, accept_sparse: bool | None = None) -> Any:
        """Validate rows passed after ``fit``: feature names, then values and width.

        ``accept_sparse`` overrides the class's ``_accept_sparse`` (a method of a
        sparse-capable strategy that needs dense rows passes False).
        """
        check_is_fitted(self, "n_features_in_")
        check_feature_names(
            X, getattr(self, "feature_names_in_", None), owner=type(self).__name__, name=name
        )
        arr = check_features(
            X,
            name,
            allow_nd=self._allow_nd,
            accept_sparse=self._accept_sparse if accept_sparse is None else accept_sparse,
            owner=type(self).__name__,
        )
        n_feat = int(np.prod(arr.shape[1:]))
        if n_feat != self.n_features_in_:
            raise ValueError(
                f"{name} has {n_feat} features, but {type(self).__name__} was fitted "
                f"with {self.n_features_in_}."
            )
        return arr

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        est = getattr(self, "estimator", None)
        if est is not None:
            est_tags = est.__sklearn_tags__()
            tags.estimator_type = est_tags.estimator_type
            tags.classifier_tags = est_tags.classifier_tags
            tags.regressor_tags = est_tags.regressor_tags
        return tags


def _estimator_classes(self: Any) -> np.ndarray:
    """Class labels of the fitted downstream estimator (classifiers only)."""
    est = self._require_estimator()
    if not hasattr(est, "classes_"):
        raise AttributeError(f"{type(est).__name__} has no classes_ (not a classifier).")
    return est.classes_


class _PredictorMixin:
    """``predict``/``predict_proba``/``score`` through a fitted ``estimator_``.

    Subclasses provide ``_predict_features(X, sample_domain)`` that returns the
    representation the downstream estimator expects.
    """

    def _require_estimator(self) -> Any:
        if getattr(self, "estimator", None) is None:
            raise AttributeError(
                f"{type(self).__name__} has no downstream estimator: pass estimator=... "
                "(e.g. LogisticRegression()) to predict with it."
            )
        check_is_fitted(self, "estimator_")
        return self.estimator_

    def _predict_features(self, X: np.ndarray, sample_domain: Any) -> np.ndarray:
        return X

    def predict(self, X: Any, sample_domain: Any = None) -> np.ndarray:
        """Predict target labels (``X`` taken as target rows unless ``sample_domain`` says)."""
        est = self._require_estimator()
        X = self._check_X(X)
        return est.predict(self._predict_features(X, sample_domain))

    def predict_proba(self, X: Any, sample_domain: Any = None) -> np.ndarray:
        """Class probabilities for target rows."""
        est = self._require_estimator()
        if not hasattr(est, "predict_proba"):
            raise AttributeError(f"{type(est).__name__} has no predict_proba.")
        X = self._check_X(X)
        return est.predict_proba(self._predict_features(X, sample_domain))

    def score(
        self, X: Any, y: Any, sample_weight: Any = None, sample_domain: Any = None
    ) -> float:
        """Accuracy (classifiers) or R² (regressors) on target rows.

        Parameters
        ----------
        X : array-like of shape (n_rows, n_features)
            Rows to score.
        y : array-like of shape (n_rows,)
            Their true labels (values for a regressor).
        sample_weight : array-like of shape (n_rows,), optional
            Weight of each row in the accuracy (or R²), as in scikit-learn's ``score``.
        sample_domain : array-like of shape (n_rows,), optional
            With it, only the rows marked ``"target"`` or ``"target_labelled"`` are
            scored (with their weights); without it, every row is a target row.

        Returns
        -------
        score : float
            ``accuracy_score`` (or ``r2_score``) of the predictions on those rows.
        """
        return score_target_rows(self, self._check_X(X), y, sample_weight, sample_domain)


class InstanceAdapter(_PredictorMixin, BaseAdapter):
    r"""Instance-based strategies: learn importance weights ``weights_`` for source rows.

    Subclasses implement ``_fit_weights(source, target) -> ndarray`` (the estimated
    density ratio :math:`w \approx p_T/p_S` at the source rows). The weights are then
    *tempered*, :math:`w^\lambda` (Shimodaira 2000), with :math:`\lambda` given by the
    strategy's ``flatten`` parameter:

    * ``flatten="auto"`` (the default of every strategy): :math:`\lambda` is chosen
      from the data on the grid ``(0, 0.25, 0.5, 0.75, 1)`` by importance-weighted
      cross-validation (IWCV, Sugiyama et al. 2007) of the downstream ``estimator``
      (a ``LogisticRegression``/``Ridge`` probe when there is none) on 3 folds of the
      source rows, keeping the smallest :math:`\lambda` whose estimated target risk is
      within one standard error of the best (see
      :mod:`domainadapt._tempering`). When the domains are nearly separable
      the weights concentrate on a few rows, the IWCV estimate becomes noisy, no
      reweighting is demonstrably better than none, and :math:`\lambda` drops to 0
      (uniform weights); under a genuine covariate shift it stays near 1. It costs
      ``3 x 5`` extra fits of the estimator.
    * a number in ``[0, 1]``: that exponent; ``flatten=1`` gives the untempered
      weights exactly, ``flatten=0`` uniform weights.

    With an ``estimator``, ``fit`` then trains a clone of it on the source rows with
    ``sample_weight = weights_`` (times any user ``sample_weight``), plus the
    labelled target rows with weight 1.

    Fitted attributes: ``weights_`` (n_source,), the tempered weights normalised to
    mean 1; ``ess_``, their effective sample size ``(sum w)^2 / sum w^2``;
    ``ess_untempered_``, that of the untempered weights; ``flatten_``, the exponent
    used; ``flatten_risks_`` and ``flatten_risk_se_``, the IWCV risks of the grid
    ``(0, 0.25, 0.5, 0.75, 1)`` and their standard errors (``nan`` when ``flatten``
    is a number); and ``estimator_`` when an estimator is given.

    References
    ----------
    H. Shimodaira. "Improving predictive inference under covariate shift by weighting
    the log-likelihood function". J. Stat. Plan. Inference 90, 2000.
    M. Sugiyama, M. Krauledat, K.-R. Müller. "Covariate Shift Adaptation by Importance
    Weighted Cross Validation". JMLR 8, 2007.
    """

    family = "instance"

    classes_ = property(_estimator_classes)
    #: Warn when the effective sample size falls below this fraction of n.
    _ess_warning_fraction = 0.1
    #: A sparse X stays sparse: the downstream estimator gets it with ``sample_weight``.
    _accept_sparse = True
    #: Whether ``_fit_weights`` works on sparse rows; if not, it gets a dense copy
    #: (with the densify warning, or a ValueError above the size limit).
    _sparse_weights = False

    def _fit_weights(self, source: Domain, target: Domain) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def _weight_domains(self, source: Domain, target: Domain) -> tuple[Domain, Domain]:
        """The domains ``_fit_weights`` sees: dense copies of sparse rows unless the
        strategy computes its weights on sparse rows (``_sparse_weights``)."""
        if self._sparse_weights or not (is_sparse(source.X) or is_sparse(target.X)):
            return source, target
        owner = type(self).__name__

        def dense(dom: Domain, name: str) -> Domain:
            if not is_sparse(dom.X):
                return dom
            return Domain(densify(dom.X, f"{name} X", owner), dom.y, dom.sample_weight,
                          dom.name, labelled=dom.labelled)

        return dense(source, "source"), dense(target, "target")

    def _fit(self, source: Domain, target: Domain) -> None:
        flatten = check_flatten(getattr(self, "flatten", 1.0))  # before the costly ratio fit
        weights = np.asarray(
            self._fit_weights(*self._weight_domains(source, target)), dtype=np.float64
        ).reshape(-1)
        if weights.shape != (n_rows(source.X),) or not np.all(np.isfinite(weights)):
            raise RuntimeError(
                f"{type(self).__name__} produced invalid weights (shape {weights.shape}, "
                f"finite={bool(np.all(np.isfinite(weights)))}); please report this."
            )
        weights = np.clip(weights, 0.0, None)
        total = weights.sum()
        if total <= 0:
            raise RuntimeError(f"{type(self).__name__} gave every source row zero weight.")
        weights = weights * (len(weights) / total)
        self._temper(weights, flatten, source, target)
        weights = self.weights_
        if self.ess_untempered_ < self._ess_warning_fraction * len(weights):
            if self.flatten_ < 1.0:
                after = (
                    f"; tempered with flatten_={self.flatten_:g}, the weights keep an "
                    f"effective sample size of {self.ess_:.1f}"
                )
            else:
                after = ", and the weighted model will have high variance"
            warnings.warn(
                f"{type(self).__name__}: the weights collapsed onto a few rows (effective "
                f"sample size {self.ess_untempered_:.1f} of {len(weights)} source rows); "
                f"the domains may barely overlap{after}.",
                UserWarning,
                stacklevel=3,
            )
        if getattr(self, "estimator", None) is not None:
            X, y, w = labelled_training_rows(source, target, weights)
            self.estimator_ = _fit_with_weights(clone(self.estimator), X, y, w)

    def _temper(self, weights: np.ndarray, flatten: float | str, source: Domain,
                target: Domain) -> None:
        """Set ``weights_`` to the tempered ``weights`` and the ``flatten_*`` attributes."""
        self.ess_untempered_ = effective_sample_size(weights)
        risks = np.full(len(FLATTEN_GRID), np.nan)
        ses = np.full(len(FLATTEN_GRID), np.nan)
        if flatten == "auto":
            extra_X = extra_y = None
            if target.y is not None and target.labelled.any():
                extra_X, extra_y = target.X[target.labelled], target.y[target.labelled]
            seed = getattr(self, "random_state", None)
            lam, risks, ses = select_flattening(
                source.X,
                source.y,
                weights,
                estimator=getattr(self, "estimator", None),
                sample_weight=source.sample_weight,
                extra_X=extra_X,
                extra_y=extra_y,
                random_state=0 if seed is None else seed,
            )
        else:
            lam = flatten
        self.flatten_ = float(lam)
        self.flatten_risks_ = risks
        self.flatten_risk_se_ = ses
        self.weights_ = temper_weights(weights, self.flatten_)
        self.ess_ = effective_sample_size(self.weights_)

    def transform(self, X: Any, sample_domain: Any = None) -> np.ndarray:
        """Identity: reweighting leaves features unchanged (so it can sit inside a pipeline,
        where :class:`~domainadapt.DAPipeline` hands ``weights_`` to the final estimator)."""
        return self._check_X(X)


class FeatureAdapter(_PredictorMixin, BaseAdapter):
    """Feature-based strategies: map source and target into an aligned representation.

    Subclasses implement ``_fit_transform_params(source, target)`` and
    ``_transform(X, domain)`` with ``domain`` in ``{"source", "target"}``.
    With an ``estimator``, ``fit`` trains a clone of it on the adapted source
    (plus labelled target rows, adapted as target) and ``predict`` adapts ``X``
    as target rows first.
    """

    family = "feature"

    classes_ = property(_estimator_classes)

    def _fit_transform_params(self, source: Domain, target: Domain) -> None:  # pragma: no cover
        raise NotImplementedError

    def _transform(self, X: np.ndarray, domain: str) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def _fit(self, source: Domain, target: Domain) -> None:
        self._fit_transform_params(source, target)
        if getattr(self, "estimator", None) is not None:
            X, y, w = labelled_training_rows(
                source,
                target,
                adapt_source=lambda X: self._transform(X, "source"),
                adapt_target=lambda X: self._transform(X, "target"),
            )
            self.estimator_ = _fit_with_weights(clone(self.estimator), X, y, w)

    def transform(self, X: Any, domain: str = "target", sample_domain: Any = None) -> np.ndarray:
        """Map rows into the adapted representation.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        domain : {"target", "source"}
            Which domain every row of ``X`` comes from (ignored with ``sample_domain``).
        sample_domain : array-like of str, optional
            Per-row domain of the stacked form.
        """
        X = self._check_X(X)
        if sample_domain is not None:
            sd = check_sample_domain(sample_domain, n_rows(X))
            is_source = sd == SOURCE
            parts = {}
            if is_source.any():
                parts["source"] = self._transform(X[is_source], "source")
            if (~is_source).any():
                parts["target"] = self._transform(X[~is_source], "target")
            first = next(iter(parts.values()))
            out = np.empty((n_rows(X),) + first.shape[1:], dtype=first.dtype)
            if "source" in parts:
                out[is_source] = parts["source"]
            if "target" in parts:
                out[~is_source] = parts["target"]
            return out
        if domain not in ("source", "target"):
            raise ValueError(f"domain must be 'source' or 'target'; got {domain!r}.")
        return self._transform(X, domain)

    def fit_transform(self, source: Any, target: Any = None, sample_domain: Any = None) -> np.ndarray:
        """Fit, then transform.

        In the stacked form, returns every row of ``X`` adapted as its own
        domain; in the ``fit(source, target)`` form, returns the adapted source.
        """
        self.fit(source, target, sample_domain=sample_domain)
        if sample_domain is not None:
            return self.transform(source, sample_domain=sample_domain)
        src = source.X if isinstance(source, Domain) else source[0]
        return self.transform(src, domain="source")

    def _predict_features(self, X: np.ndarray, sample_domain: Any) -> np.ndarray:
        if sample_domain is not None:
            with feature_names_checked():  # X: rows validated by the caller
                return self.transform(X, sample_domain=sample_domain)
        return self._transform(X, "target")


class ModelAdapter(_PredictorMixin, BaseAdapter):
    """Model-based strategies: a model fitted with both domains that predicts on the target.

    Subclasses implement ``_fit(source, target)`` and set ``estimator_`` (a
    fitted object with ``predict``/``predict_proba``), or override
    ``predict``/``predict_proba`` directly.
    """

    family = "model"

    def _require_estimator(self) -> Any:
        check_is_fitted(self, "estimator_")
        return self.estimator_
