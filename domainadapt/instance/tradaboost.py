"""TrAdaBoost: boosting for transfer learning (Dai et al. 2007)."""

from __future__ import annotations

import math
from numbers import Integral
from typing import Any

import numpy as np
from sklearn.base import clone, is_regressor
from sklearn.linear_model import LogisticRegression
from sklearn.utils._param_validation import HasMethods

from .._domain import Domain
from .._sparse import is_sparse, vstack_rows
from .._utils import Interval
from ..base import InstanceAdapter, _fit_with_weights

__all__ = ["TrAdaBoost"]


class _WeightedVote:
    """Fitted ensemble: weighted vote of hard predictions (picklable, sklearn-like)."""

    def __init__(self, estimators: list, alphas: np.ndarray, classes: np.ndarray):
        self.estimators_ = estimators
        self.alphas_ = alphas
        self.classes_ = classes

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        n = X.shape[0]  # len() fails on sparse rows
        votes = np.zeros((n, len(self.classes_)))
        for est, a in zip(self.estimators_, self.alphas_):
            pred = np.searchsorted(self.classes_, est.predict(X))
            votes[np.arange(n), pred] += a
        total = votes.sum(1, keepdims=True)
        return np.where(
            total > 0, votes / np.where(total > 0, total, 1.0), 1.0 / len(self.classes_)
        )

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class TrAdaBoost(InstanceAdapter):
    r"""Transfer AdaBoost: boosting over the source and a few labelled target rows.

    With :math:`n` source and :math:`m` labelled target rows, round :math:`t` fits the
    base learner with weights :math:`p^t = w^t / \sum w^t`, measures its weighted error
    on the *target* rows :math:`\epsilon_t` (clipped below 1/2), and updates

    .. math:: w_i \leftarrow w_i\, \beta^{[h_t(x_i) \ne y_i]} \ (\text{source}), \qquad
              w_j \leftarrow w_j\, \beta_t^{-[h_t(x_j) \ne y_j]} \ (\text{target}),

    with :math:`\beta = 1/(1 + \sqrt{2 \ln n / N})` and
    :math:`\beta_t = \epsilon_t/(1-\epsilon_t)`: misfit source rows fade, misfit target
    rows gain weight. The prediction is the vote of the learners of the second half
    of the rounds, weighted by :math:`\ln(1/\beta_t)` (for two classes, the paper's
    rule; more classes: the argmax of the weighted votes, whose shares are
    ``predict_proba``). ``weights_`` are the final source weights (mean 1).

    Needs labelled target rows (``target`` given as ``(X, y)`` with unlabelled rows
    ``-1``, or a :class:`~domainadapt.Domain` with labels): without them it raises a
    ``ValueError``. Classification only.

    Parameters
    ----------
    estimator : classifier, optional
        Base learner; must accept ``sample_weight``. Default
        ``LogisticRegression(max_iter=1000)``.
    n_estimators : int, default=20
        Boosting rounds :math:`N`.
    random_state : int, optional
        Passed to the base learner's ``random_state`` when it has one.

    Attributes
    ----------
    weights_ : ndarray of shape (n_source,)
    ess_ : float
    estimator_ : the fitted ensemble (``predict``, ``predict_proba``, ``classes_``)
    estimators_ : list of the fitted base learners
    errors_, betas_ : ndarray of shape (n_estimators,)
    target_weights_ : ndarray, final weights of the labelled target rows
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of the features seen during ``fit``; set only when the rows have
        string column names (e.g. a pandas DataFrame).

    See Also
    --------
    domainadapt.instance.ClassifierDensityRatio : Weights from a domain classifier's odds.
    domainadapt.instance.KMM : Weights that match the kernel mean embeddings.
    domainadapt.model.FineTuning : Fine-tuning on labelled target rows (L2-SP).

    References
    ----------
    W. Dai, Q. Yang, G.-R. Xue, Y. Yu. "Boosting for Transfer Learning". ICML 2007.

    Examples
    --------
    >>> import numpy as np
    >>> from domainadapt.datasets import make_shifted_digits
    >>> from domainadapt.instance import TrAdaBoost
    >>> source, target = make_shifted_digits("rotation", random_state=0)
    >>> y_target = np.full(len(target.y), -1)  # -1: unlabelled
    >>> y_target[:50] = target.y[:50]  # a few labelled target rows
    >>> model = TrAdaBoost(n_estimators=5, random_state=0).fit(source, (target.X, y_target))
    >>> model.weights_.shape
    (898,)
    >>> model.predict(target.X[:5]).shape
    (5,)
    """

    _parameter_constraints: dict = {
        **InstanceAdapter._parameter_constraints,
        "estimator": [HasMethods(["fit"]), None],
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator: Any = None,
        n_estimators: int = 20,
        random_state: int | None = None,
    ):
        self.estimator = estimator
        self.n_estimators = n_estimators
        self.random_state = random_state

    def _base(self) -> Any:
        if self.estimator is None:
            return LogisticRegression(max_iter=1000)
        if is_regressor(self.estimator):
            raise ValueError(
                f"estimator must be a classifier (TrAdaBoost is for classification); got "
                f"{type(self.estimator).__name__}."
            )
        est = clone(self.estimator)
        if self.random_state is not None and "random_state" in est.get_params():
            est.set_params(random_state=self.random_state)
        return est

    def _fit(self, source: Domain, target: Domain) -> None:
        n_rounds = self.n_estimators
        if target.y is None or not target.labelled.any():
            raise ValueError(
                "TrAdaBoost needs labelled target rows: pass target as (X, y) with a few "
                "labels (unlabelled rows -1) or a Domain with labels; target has none."
            )
        base = self._base()
        Xs, Xt = source.X, target.X[target.labelled]
        if not is_sparse(Xs):  # the base estimator gets sparse rows as they are
            Xs = Xs.reshape(Xs.shape[0], -1)
            Xt = Xt.reshape(Xt.shape[0], -1)
        ys, yt = source.y, target.y[target.labelled]
        X, y = vstack_rows([Xs, Xt]), np.concatenate([ys, yt])
        classes = np.unique(y)
        n, m = Xs.shape[0], Xt.shape[0]
        w = np.ones(n + m)
        if source.sample_weight is not None:
            w[:n] = np.asarray(source.sample_weight, dtype=np.float64)
        beta = 1.0 / (1.0 + math.sqrt(2.0 * math.log(max(n, 2)) / n_rounds))
        estimators, errors, betas = [], [], []
        for _ in range(n_rounds):
            p = w / w.sum()
            est = _fit_with_weights(clone(base), X, y, p * len(p))
            miss = (est.predict(X) != y).astype(np.float64)
            err_t = float(p[n:] @ miss[n:] / p[n:].sum())
            err_t = min(max(err_t, 1e-10), 0.499)
            beta_t = err_t / (1.0 - err_t)
            w[:n] *= beta ** miss[:n]
            w[n:] *= beta_t ** (-miss[n:])
            w /= w.max()  # rescale only (the update is scale-free): avoids under/overflow
            estimators.append(est)
            errors.append(err_t)
            betas.append(beta_t)
        half = n_rounds // 2  # rounds ceil(N/2)..N of the paper (1-based)
        alphas = np.log(1.0 / np.asarray(betas[half:]))
        self.estimators_ = estimators
        self.errors_ = np.asarray(errors)
        self.betas_ = np.asarray(betas)
        self.estimator_ = _WeightedVote(estimators[half:], alphas, classes)  # classes_ from it
        ws = w[:n]
        if ws.sum() <= 0:  # every source row faded out
            ws = np.full(n, 1e-300)
        self.weights_ = ws * (n / ws.sum())
        self.ess_ = float(self.weights_.sum() ** 2 / np.sum(self.weights_**2))
        self.target_weights_ = w[n:] * (n / ws.sum())

    def _require_estimator(self) -> Any:
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "estimator_")
        return self.estimator_
