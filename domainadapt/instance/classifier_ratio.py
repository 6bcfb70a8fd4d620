"""Density ratio from a probabilistic domain classifier."""

from __future__ import annotations

import warnings
from numbers import Integral, Real
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import HasMethods

from .._domain import Domain
from .._sparse import is_sparse, vstack_rows
from .._tempering import FLATTEN_CONSTRAINT
from .._utils import Interval
from ..base import InstanceAdapter


def _cap_with_mean_one(weights: np.ndarray, cap: float) -> np.ndarray:
    """``min(s * w, cap)`` with the scale ``s`` chosen so the mean is exactly 1 (needs cap > 1)."""
    lo, hi = 0.0, cap / max(float(weights[weights > 0].min()), 1e-300)
    for _ in range(200):  # bisection on a monotone function of s
        mid = 0.5 * (lo + hi)
        if np.minimum(mid * weights, cap).mean() < 1.0:
            lo = mid
        else:
            hi = mid
    return np.minimum(hi * weights, cap)


class ClassifierDensityRatio(InstanceAdapter):
    r"""Importance weights from a domain classifier's probabilities.

    .. math:: w(x) = \frac{p_T(x)}{p_S(x)} = \frac{P(t \mid x)}{P(s \mid x)} \cdot \frac{n_S}{n_T}

    A probabilistic classifier is trained to tell target rows (label 1) from
    source rows (label 0); its odds, corrected by the sample-size prior, are
    the density ratio. Probabilities are clipped to ``[eps, 1 - eps]`` and the
    weights normalised to mean 1 (and optionally capped at ``max_weight``).

    Parameters
    ----------
    domain_classifier : classifier with ``predict_proba``, optional
        Default: ``StandardScaler`` + ``LogisticRegression`` (``StandardScaler(with_mean=False)``
        on sparse rows, which stay sparse).
    cv : int or None, default=5
        Source weights come from out-of-fold probabilities (a classifier never
        scores rows it was trained on, which would overfit the ratio). ``None``
        fits once on all rows.
    eps : float, default=1e-3
        Probability clipping.
    max_weight : float, optional
        Cap on the normalised weights (then renormalised to mean 1).
    flatten : "auto" or float in [0, 1], default="auto"
        Tempering exponent :math:`\lambda` of the weights, :math:`w^\lambda`
        (Shimodaira 2000). ``"auto"`` chooses it from the data by importance-weighted
        cross-validation with the one-standard-error rule (see
        :class:`~domainadapt.base.InstanceAdapter`): near 1 under a genuine covariate
        shift, 0 (uniform weights) when the domains barely overlap. ``1`` gives the
        untempered weights.
    estimator : estimator, optional
        Downstream model fitted with ``sample_weight=weights_``.
    random_state : int, optional
        Seeds the cross-validation split.

    Attributes
    ----------
    weights_ : ndarray of shape (n_source,)
    ess_ : float
        Effective sample size of the weights.
    domain_classifier_ : fitted classifier on all rows (used by :meth:`compute_weights`).
    domain_auc_ : float
        ROC AUC of the domain classifier (out-of-fold when ``cv`` is set); above
        0.99 a warning says the domains barely overlap.
    flatten_, ess_untempered_, flatten_risks_, flatten_risk_se_
        The tempering of the weights: see :class:`~domainadapt.base.InstanceAdapter`.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of the features seen during ``fit``; set only when the rows have
        string column names (e.g. a pandas DataFrame).

    See Also
    --------
    domainadapt.instance.KMM : Weights that match the kernel mean embeddings.
    domainadapt.instance.KLIEP : A kernel ratio model fitted by KL divergence.
    domainadapt.instance.RuLSIF : The bounded relative density ratio.
    domainadapt.instance.NearestNeighborWeighting : Counts of target nearest neighbours.

    References
    ----------
    S. Bickel, M. Brückner, T. Scheffer. "Discriminative Learning Under
    Covariate Shift". JMLR 10, 2009.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from domainadapt.datasets import make_gaussian_shift
    >>> from domainadapt.instance import ClassifierDensityRatio
    >>> source, target, ratio = make_gaussian_shift(n_source=200, n_target=200, random_state=0)
    >>> model = ClassifierDensityRatio(estimator=LogisticRegression(), random_state=0)
    >>> model = model.fit(source, target.X)
    >>> model.weights_.shape
    (200,)
    >>> model.predict(target.X[:5]).shape
    (5,)
    """

    _parameter_constraints: dict = {
        **InstanceAdapter._parameter_constraints,
        "domain_classifier": [HasMethods(["fit", "predict_proba"]), None],
        "cv": [Interval(Integral, 2, None, closed="left"), None],
        "eps": [Interval(Real, 0, 0.5, closed="neither")],
        "max_weight": [Interval(Real, 1, None, closed="neither"), None],
        "flatten": FLATTEN_CONSTRAINT,
        "estimator": [HasMethods(["fit"]), None],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        domain_classifier: Any = None,
        cv: int | None = 5,
        eps: float = 1e-3,
        max_weight: float | None = None,
        flatten: Any = "auto",
        estimator: Any = None,
        random_state: int | None = None,
    ):
        self.domain_classifier = domain_classifier
        self.cv = cv
        self.eps = eps
        self.max_weight = max_weight
        self.flatten = flatten
        self.estimator = estimator
        self.random_state = random_state

    _sparse_weights = True  # the domain classifier takes CSR rows

    def _make_classifier(self, sparse: bool = False) -> Any:
        if self.domain_classifier is None:  # centring would densify sparse rows
            scaler = StandardScaler(with_mean=not sparse)
            return make_pipeline(scaler, LogisticRegression(max_iter=1000))
        return clone(self.domain_classifier)

    def _ratio(self, proba_target: np.ndarray) -> np.ndarray:
        p = np.clip(proba_target, self.eps, 1.0 - self.eps)
        return p / (1.0 - p) * self._prior

    def _fit_weights(self, source: Domain, target: Domain) -> np.ndarray:
        n_s, n_t = source.X.shape[0], target.X.shape[0]
        X = vstack_rows([source.X, target.X])
        sparse = is_sparse(X)
        if not sparse:
            X = X.reshape(n_s + n_t, -1)
        d = np.r_[np.zeros(n_s, dtype=int), np.ones(n_t, dtype=int)]
        self._prior = n_s / n_t
        self.domain_classifier_ = self._make_classifier(sparse).fit(X, d)
        n_splits = None if self.cv is None else min(int(self.cv), n_s, n_t)
        if n_splits is None or n_splits < 2:
            proba_all = self.domain_classifier_.predict_proba(X)[:, 1]
        else:
            folds = StratifiedKFold(n_splits, shuffle=True, random_state=self.random_state)
            proba_all = cross_val_predict(
                self._make_classifier(sparse), X, d, cv=folds, method="predict_proba"
            )[:, 1]
        proba = proba_all[:n_s]
        self.domain_auc_ = float(roc_auc_score(d, proba_all))
        if self.domain_auc_ > 0.99:
            warnings.warn(
                f"ClassifierDensityRatio: the domain classifier separates source from target "
                f"almost perfectly (AUC {self.domain_auc_:.3f}); the domains barely overlap, "
                "so the density ratio is unreliable and reweighting cannot fix this shift.",
                UserWarning,
                stacklevel=4,
            )
        weights = self._ratio(proba)
        if self.max_weight is not None:
            weights = _cap_with_mean_one(weights, float(self.max_weight))
        return weights

    def compute_weights(self, X: Any) -> np.ndarray:
        """Density ratio ``p_T(x)/p_S(x)`` at new rows, from ``domain_classifier_``.

        Untempered: ``weights_`` follow the ratio to the power ``flatten_``.
        """
        X = self._check_X(X)
        if not is_sparse(X):
            X = X.reshape(len(X), -1)
        return self._ratio(self.domain_classifier_.predict_proba(X)[:, 1])
