"""KLIEP: Kullback-Leibler importance estimation (Sugiyama et al. 2008)."""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np
from sklearn.utils._param_validation import HasMethods

from .._domain import Domain
from .._kernels import gaussian_kernel
from .._tempering import FLATTEN_CONSTRAINT
from .._utils import Interval
from ..base import InstanceAdapter
from ._kernel_basis import basis_at, draw_basis

__all__ = ["KLIEP"]


def _kliep_solve(A: np.ndarray, b: np.ndarray, max_iter: int, tol: float) -> np.ndarray:
    """Projected gradient ascent of ``mean(log(A @ alpha))`` over ``{alpha >= 0, b'alpha = 1}``.

    ``A`` (n_target, n_centers) holds the kernel at target rows, ``b`` the mean kernel
    at source rows. Step sizes decrease over ``10^3 ... 10^-3`` (Sugiyama et al. 2008,
    Fig. 1); a step is kept only when it raises the objective.
    """
    bb = float(b @ b)

    def project(alpha: np.ndarray) -> np.ndarray:
        alpha = alpha + (1.0 - float(b @ alpha)) * b / bb
        alpha = np.maximum(alpha, 0.0)
        return alpha / max(float(b @ alpha), 1e-300)

    def score(alpha: np.ndarray) -> float:
        return float(np.mean(np.log(np.maximum(A @ alpha, 1e-300))))

    alpha = project(np.ones(A.shape[1]))
    best = score(alpha)
    for step in 10.0 ** np.arange(3, -4, -1):
        for _ in range(max_iter):
            grad = A.T @ (1.0 / np.maximum(A @ alpha, 1e-300)) / len(A)
            cand = project(alpha + step * grad)
            new = score(cand)
            if new <= best + tol * max(1.0, abs(best)):
                if new > best:
                    alpha, best = cand, new
                break
            alpha, best = cand, new
    return alpha


class KLIEP(InstanceAdapter):
    r"""Kullback-Leibler Importance Estimation Procedure.

    .. math:: \max_{\alpha \ge 0} \frac{1}{n_T}\sum_j \log \hat w(x'_j)
              \ \text{s.t.}\ \frac{1}{n_S}\sum_i \hat w(x_i) = 1,
              \qquad \hat w(x) = \sum_l \alpha_l\, k_\sigma(x, c_l)

    i.e. the density-ratio model :math:`\hat w \approx p_T/p_S` whose reweighted source
    density :math:`\hat w\, p_S` is closest to :math:`p_T` in KL divergence. The centres
    :math:`c_l` are a random subset of the target rows, the kernel is Gaussian
    :math:`k_\sigma(x, c) = \exp(-\|x - c\|^2/(2\sigma^2))`, and the problem is solved by
    projected gradient ascent with decreasing steps, as in the paper. The bandwidth
    is chosen on a grid by likelihood cross-validation: the mean held-out
    :math:`\log \hat w` over ``cv`` folds of the target rows.

    Parameters
    ----------
    bandwidths : sequence of float, optional
        Bandwidth grid; default the median heuristic times
        ``(0.25, 0.5, 1, 2, 4)``. A single value skips cross-validation.
    n_centers : int, default=100
        Number of kernel centres (random target rows).
    cv : int, default=5
        Folds of the likelihood cross-validation (at most ``n_target``; needs 2 rows).
    max_iter : int, default=200
        Iterations per step size of the gradient ascent.
    tol : float, default=1e-6
        Relative improvement below which a step size is abandoned.
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
        Seeds the choice of centres and the folds.

    Attributes
    ----------
    weights_ : ndarray of shape (n_source,)
    bandwidth_ : float
    bandwidths_ : ndarray, the grid searched
    cv_scores_ : ndarray, mean held-out log-likelihood per bandwidth (``nan`` when not
        cross-validated)
    centers_ : ndarray of shape (n_centers, n_features)
    alpha_ : ndarray of shape (n_centers,)
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
    domainadapt.instance.ULSIF : The least-squares ratio in closed form.
    domainadapt.instance.ClassifierDensityRatio : Weights from a domain classifier's odds.

    References
    ----------
    M. Sugiyama, S. Nakajima, H. Kashima, P. von Bünau, M. Kawanabe. "Direct Importance
    Estimation with Model Selection and Its Application to Covariate Shift
    Adaptation". NIPS 2008 (and Ann. Inst. Stat. Math. 60, 2008).

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from domainadapt.datasets import make_gaussian_shift
    >>> from domainadapt.instance import KLIEP
    >>> source, target, ratio = make_gaussian_shift(n_source=200, n_target=200, random_state=0)
    >>> model = KLIEP(estimator=LogisticRegression(), random_state=0)
    >>> model = model.fit(source, target.X)
    >>> model.weights_.shape
    (200,)
    >>> model.predict(target.X[:5]).shape
    (5,)
    """

    _parameter_constraints: dict = {
        **InstanceAdapter._parameter_constraints,
        "bandwidths": ["array-like", Interval(Real, 0, None, closed="neither"), None],
        "n_centers": [Interval(Integral, 1, None, closed="left")],
        "cv": [Interval(Integral, 2, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "flatten": FLATTEN_CONSTRAINT,
        "estimator": [HasMethods(["fit"]), None],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        bandwidths: Any = None,
        n_centers: int = 100,
        cv: int = 5,
        max_iter: int = 200,
        tol: float = 1e-6,
        flatten: Any = "auto",
        estimator: Any = None,
        random_state: int | None = None,
    ):
        self.bandwidths = bandwidths
        self.n_centers = n_centers
        self.cv = cv
        self.max_iter = max_iter
        self.tol = tol
        self.flatten = flatten
        self.estimator = estimator
        self.random_state = random_state

    def _fit_weights(self, source: Domain, target: Domain) -> np.ndarray:
        cv, max_iter, tol = self.cv, self.max_iter, float(self.tol)
        Xs, Xt, rng, grid, centers = draw_basis(self, source, target)
        n_t = len(Xt)
        scores = np.full(len(grid), np.nan)
        if len(grid) > 1 and n_t >= 2:
            folds = np.array_split(rng.permutation(n_t), min(cv, n_t))
            for g, sigma in enumerate(grid):
                Phi_t = gaussian_kernel(Xt, centers, sigma)
                b = gaussian_kernel(Xs, centers, sigma).mean(0)
                fold_scores = []
                for held in folds:
                    train = np.setdiff1d(np.arange(n_t), held)
                    alpha = _kliep_solve(Phi_t[train], b, max_iter, tol)
                    fold_scores.append(np.mean(np.log(np.maximum(Phi_t[held] @ alpha, 1e-300))))
                scores[g] = float(np.mean(fold_scores))
            best = int(np.nanargmax(scores))
        else:
            best = len(grid) // 2
        sigma = float(grid[best])
        Phi_s = gaussian_kernel(Xs, centers, sigma)
        alpha = _kliep_solve(gaussian_kernel(Xt, centers, sigma), Phi_s.mean(0), max_iter, tol)
        self.bandwidths_ = grid
        self.cv_scores_ = scores
        self.bandwidth_ = sigma
        self.centers_ = centers
        self.alpha_ = alpha
        return Phi_s @ alpha

    def compute_weights(self, X: Any) -> np.ndarray:
        """The fitted ratio :math:`\\hat w(x)` at new rows (not normalised, not tempered:
        ``weights_`` follow it to the power ``flatten_``)."""
        return basis_at(self, X) @ self.alpha_
