"""Tempering of importance weights: power flattening with the exponent chosen from the data.

Every instance-based strategy estimates a density ratio :math:`w \\approx p_T/p_S` and
trains the downstream model with ``sample_weight = w``. Shimodaira (2000) showed that
the *flattened* weights :math:`w^\\lambda`, :math:`0 \\le \\lambda \\le 1`, trade the
bias of the unweighted fit (:math:`\\lambda = 0`) against the variance of the fully
weighted one (:math:`\\lambda = 1`), and Sugiyama, Krauledat & Müller (2007) chose
:math:`\\lambda` by importance-weighted cross-validation (IWCV): the target risk of a
model trained with :math:`w^\\lambda` is estimated without target labels by the
held-out source loss weighted by :math:`w`, which is unbiased for the target risk when
:math:`w` is the true ratio.

This module implements that selection, with the one-standard-error rule (Breiman et
al. 1984; Hastie, Tibshirani & Friedman 2009, sec. 7.10): among the grid values whose
IWCV risk is within one standard error of the smallest, the *smallest* exponent is
kept. The standard error of the IWCV estimate grows as the weights concentrate on a few
rows (it scales like :math:`1/\\sqrt{\\mathrm{ESS}}`), which is exactly what happens
when the domains are nearly separable and the estimated ratio is unreliable: then no
reweighting is demonstrably better than none, and the weights are flattened towards
uniform. When the shift is a genuine covariate shift within the source's support, the
weighted models have a clearly lower estimated target risk and :math:`\\lambda` stays
large.

No code was taken from other projects.

References
----------
H. Shimodaira. "Improving predictive inference under covariate shift by weighting the
log-likelihood function". J. Stat. Plan. Inference 90, 2000.
M. Sugiyama, M. Krauledat, K.-R. Müller. "Covariate Shift Adaptation by Importance
Weighted Cross Validation". JMLR 8, 2007.
L. Breiman, J. Friedman, R. Olshen, C. Stone. "Classification and Regression Trees".
Wadsworth, 1984 (the one-standard-error rule).
L. Kish. "Survey Sampling". Wiley, 1965 (the effective sample size).
"""

from __future__ import annotations

import numbers
import warnings
from numbers import Real
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import clone, is_regressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.multiclass import type_of_target

from ._fitting import _fit_with_weights
from ._sparse import n_rows, vstack_rows
from ._utils import Interval

__all__ = [
    "FLATTEN_GRID",
    "check_flatten",
    "effective_sample_size",
    "select_flattening",
    "temper_weights",
]

#: The declared constraint of every instance strategy's ``flatten`` parameter.
FLATTEN_CONSTRAINT: list = [StrOptions({"auto"}), Interval(Real, 0, 1, closed="both")]
#: Exponents searched by ``flatten="auto"``.
FLATTEN_GRID = (0.0, 0.25, 0.5, 0.75, 1.0)
#: Folds of the importance-weighted cross-validation.
FLATTEN_CV = 3


def effective_sample_size(weights: np.ndarray) -> float:
    """Kish's effective sample size :math:`(\\sum w)^2 / \\sum w^2` (``n`` for uniform weights)."""
    w = np.asarray(weights, dtype=np.float64)
    return float(w.sum() ** 2 / np.sum(w**2))


def temper_weights(weights: np.ndarray, lam: float) -> np.ndarray:
    """:math:`w^\\lambda`, normalised to mean 1 (``lam=0``: uniform; ``lam=1``: ``w / mean(w)``).

    Zero weights stay zero for ``lam > 0``.
    """
    w = np.asarray(weights, dtype=np.float64)
    if lam == 1.0:
        out = w.copy()
    elif lam == 0.0:
        out = np.ones_like(w)
    else:
        out = np.power(w, lam)
    return out * (len(out) / out.sum())


def check_flatten(flatten: Any) -> float | str:
    """``"auto"`` or a float in [0, 1]; ``ValueError`` naming ``flatten`` otherwise."""
    if isinstance(flatten, str):
        if flatten == "auto":
            return flatten
    elif (
        isinstance(flatten, numbers.Real)
        and not isinstance(flatten, bool)
        and np.isfinite(flatten)
        and 0.0 <= flatten <= 1.0
    ):
        return float(flatten)
    raise ValueError(f"flatten must be 'auto' or a number in [0, 1]; got {flatten!r}.")


def _probe_estimator(y: np.ndarray) -> Any:
    """The model IWCV trains when the strategy has no ``estimator``."""
    if type_of_target(y) == "continuous":
        return Ridge(alpha=1.0)
    return LogisticRegression(max_iter=1000)


def select_flattening(
    X: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray,
    *,
    estimator: Any = None,
    sample_weight: np.ndarray | None = None,
    extra_X: np.ndarray | None = None,
    extra_y: np.ndarray | None = None,
    grid: tuple[float, ...] = FLATTEN_GRID,
    cv: int = FLATTEN_CV,
    random_state: int | None = 0,
) -> tuple[float, np.ndarray, np.ndarray]:
    """Choose the flattening exponent :math:`\\lambda` by IWCV with the one-SE rule.

    For each :math:`\\lambda` in ``grid``, ``estimator`` is trained on ``cv - 1`` folds
    of the source rows with ``sample_weight = w^λ`` (times ``sample_weight``; the
    labelled target rows ``extra_X``/``extra_y`` join every training fold with weight
    1) and scored on the held-out fold by the importance-weighted loss
    :math:`\\frac1n\\sum_i w_i\\,\\ell(f(x_i), y_i)` (0-1 loss for classifiers, squared
    error for regressors), the IWCV estimate of the target risk (Sugiyama et al. 2007).
    The smallest :math:`\\lambda` whose risk is within one standard error of the
    minimum is returned.

    Parameters
    ----------
    X : ndarray of shape (n_source, n_features)
    y : ndarray of shape (n_source,)
    weights : ndarray of shape (n_source,)
        Untempered importance weights (mean 1).
    estimator : estimator, optional
        Model to cross-validate; default ``LogisticRegression`` (class labels) or
        ``Ridge`` (continuous labels).
    sample_weight, extra_X, extra_y : optional
        User weights of the source rows; labelled target rows.
    grid : tuple of float
        Candidate exponents in [0, 1].
    cv : int
        Number of folds.
    random_state : int, optional
        Seeds the fold split.

    Returns
    -------
    lam : float
    risks : ndarray of shape (len(grid),)
        IWCV estimates of the target risk.
    std_errors : ndarray of shape (len(grid),)
    """
    X = X.tocsr() if sp.issparse(X) else np.asarray(X).reshape(len(X), -1)
    y = np.asarray(y)
    w = np.asarray(weights, dtype=np.float64)
    n = len(w)
    base = _probe_estimator(y) if estimator is None else estimator
    regression = is_regressor(base) or type_of_target(y) == "continuous"
    sw = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    n_folds = min(int(cv), n)
    if not regression and np.unique(y, return_counts=True)[1].min() >= n_folds:
        splitter: Any = StratifiedKFold(n_folds, shuffle=True, random_state=random_state)
    else:
        splitter = KFold(n_folds, shuffle=True, random_state=random_state)
    folds = list(splitter.split(X, y))
    risks = np.full(len(grid), np.nan)
    ses = np.full(len(grid), np.nan)
    try:
        for k, lam in enumerate(grid):
            wl = temper_weights(w, lam) * sw
            losses = np.empty(n)
            for train, held in folds:
                Xtr, ytr, wtr = X[train], y[train], wl[train]
                if extra_X is not None and n_rows(extra_X):
                    n_extra = n_rows(extra_X)
                    if not sp.issparse(extra_X):
                        extra_X = extra_X.reshape(n_extra, -1)
                    Xtr = vstack_rows([Xtr, extra_X])
                    ytr = np.concatenate([ytr, extra_y])
                    wtr = np.concatenate([wtr, np.ones(n_extra)])
                model = _fit_with_weights(clone(base), Xtr, ytr, wtr)
                pred = model.predict(X[held])
                if regression:
                    losses[held] = (np.asarray(pred, dtype=np.float64) - y[held]) ** 2
                else:
                    losses[held] = pred != y[held]
            contrib = w * sw * losses
            risks[k] = contrib.mean()
            ses[k] = contrib.std(ddof=1) / np.sqrt(n) if n > 1 else np.inf
    except ValueError as exc:  # e.g. a training fold with a single class
        warnings.warn(
            f"flatten='auto': importance-weighted cross-validation failed ({exc}); the "
            "weights are used untempered (flatten=1).",
            UserWarning,
            stacklevel=4,
        )
        return 1.0, risks, ses
    best = int(np.nanargmin(risks))
    threshold = risks[best] + ses[best]
    order = np.argsort(grid)
    lam = next(float(grid[i]) for i in order if risks[i] <= threshold)
    return lam, risks, ses
