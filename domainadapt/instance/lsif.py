"""uLSIF and RuLSIF: least-squares (relative) density-ratio fitting."""

from __future__ import annotations

import warnings
from numbers import Integral, Real
from typing import Any

import numpy as np
from sklearn.utils._param_validation import HasMethods

from .._domain import Domain
from .._kernels import gaussian_kernel
from .._tempering import FLATTEN_CONSTRAINT
from .._utils import Interval, check_grid
from ..base import InstanceAdapter
from ._kernel_basis import basis_at, draw_basis

__all__ = ["RuLSIF", "ULSIF"]

DEFAULT_REGS = (1e-3, 1e-2, 1e-1, 1.0)


def _loo_scores(
    Phi_s: np.ndarray, Phi_t: np.ndarray, alpha: float, regs: np.ndarray, n_pairs: int
) -> np.ndarray:
    """Closed-form leave-one-out Pearson score for each regularisation.

    Pair ``i`` (source row ``i``, target row ``i``, ``i < n_pairs``) is left out of
    ``H = (1-a)/(n_s-1) sum_s phi phi' + a/(n_t-1) sum_t phi phi'`` and of
    ``h = mean_t phi``; the rank-two downdate of ``(H + reg I)^{-1}`` is applied to all
    pairs at once by the Woodbury identity (Kanamori et al. 2009, sec. 4.2). Returns
    the held-out ``J = (1-a)/2 r_s^2 + a/2 r_t^2 - r_t``, averaged over pairs.
    """
    n_s, n_t = len(Phi_s), len(Phi_t)
    a_s, a_t = (1.0 - alpha) / (n_s - 1), alpha / (n_t - 1)
    S = a_s * (Phi_s.T @ Phi_s) + a_t * (Phi_t.T @ Phi_t)
    m_t = Phi_t.sum(0)
    U, V = Phi_s[:n_pairs].T, Phi_t[:n_pairs].T  # (b, n)
    out = np.empty(len(regs))
    b = S.shape[0]
    for k, reg in enumerate(regs):
        Binv = np.linalg.inv(S + reg * np.eye(b))
        P, Q = Binv @ U, Binv @ V
        suu, suv, svv = (U * P).sum(0), (U * Q).sum(0), (V * Q).sum(0)
        Bm = Binv @ m_t
        g0 = (Bm[:, None] - Q) / (n_t - 1)  # Binv h_{-i}
        pu = (U.T @ Bm - suv) / (n_t - 1)  # u_i' Binv h_{-i}
        pv = (V.T @ Bm - svv) / (n_t - 1)  # v_i' Binv h_{-i}
        # (I - D G)^{-1} D [pu, pv] with D = diag(a_s, a_t), G = [[suu, suv], [suv, svv]]
        m11, m12 = 1.0 - a_s * suu, -a_s * suv
        m21, m22 = -a_t * suv, 1.0 - a_t * svv
        det = m11 * m22 - m12 * m21
        r1, r2 = a_s * pu, a_t * pv
        c1 = (m22 * r1 - m12 * r2) / det
        c2 = (-m21 * r1 + m11 * r2) / det
        theta = np.maximum(g0 + P * c1 + Q * c2, 0.0)
        r_s, r_t = (U * theta).sum(0), (V * theta).sum(0)
        out[k] = float(np.mean(0.5 * (1.0 - alpha) * r_s**2 + 0.5 * alpha * r_t**2 - r_t))
    return out


class RuLSIF(InstanceAdapter):
    r"""Relative unconstrained least-squares importance fitting.

    .. math:: \min_\theta \frac{1-\alpha}{2}\mathbb E_S[\hat r^2]
              + \frac{\alpha}{2}\mathbb E_T[\hat r^2] - \mathbb E_T[\hat r]
              + \frac{\lambda}{2}\|\theta\|^2,
              \qquad \hat r(x) = \sum_l \theta_l k_\sigma(x, c_l)

    fits the *relative* density ratio :math:`r_\alpha = p_T / (\alpha p_T + (1-\alpha)
    p_S)`, bounded by :math:`1/\alpha`, in closed form
    :math:`\theta = (H + \lambda I)^{-1} h` with
    :math:`H = (1-\alpha)\hat{\mathbb E}_S[\phi\phi^\top] + \alpha\hat{\mathbb E}_T[\phi\phi^\top]`,
    :math:`h = \hat{\mathbb E}_T[\phi]`. Negative coefficients and weights are
    clipped at 0. ``alpha=0`` is uLSIF (:class:`ULSIF`). The bandwidth :math:`\sigma` and
    :math:`\lambda` are chosen on a grid by closed-form leave-one-out cross-validation
    (on ``min(n_S, n_T)`` source/target pairs). Centres :math:`c_l`: random target rows.

    Parameters
    ----------
    alpha : float in [0, 1), default=0.1
        Relative parameter.
    bandwidths : sequence of float, optional
        Bandwidth grid; default the median heuristic times ``(0.25, 0.5, 1, 2, 4)``.
    regs : sequence of float, optional
        Regularisation grid; default ``(1e-3, 1e-2, 1e-1, 1)``.
    n_centers : int, default=100
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
        Seeds the centres and the leave-one-out pairing.

    Attributes
    ----------
    weights_ : ndarray of shape (n_source,)
    bandwidth_, reg_ : float
        Selected bandwidth and regularisation.
    loo_scores_ : ndarray of shape (n_bandwidths, n_regs)
        Leave-one-out score (lower is better; ``nan`` when not cross-validated).
    centers_, theta_ : the fitted model.
    flatten_, ess_untempered_, flatten_risks_, flatten_risk_se_
        The tempering of the weights: see :class:`~domainadapt.base.InstanceAdapter`.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of the features seen during ``fit``; set only when the rows have
        string column names (e.g. a pandas DataFrame).

    See Also
    --------
    domainadapt.instance.ULSIF : The least-squares ratio in closed form.
    domainadapt.instance.KLIEP : A kernel ratio model fitted by KL divergence.
    domainadapt.instance.KMM : Weights that match the kernel mean embeddings.

    References
    ----------
    T. Kanamori, S. Hido, M. Sugiyama. "A Least-squares Approach to Direct Importance
    Estimation". JMLR 10, 2009.
    M. Yamada, T. Suzuki, T. Kanamori, H. Hachiya, M. Sugiyama. "Relative Density-Ratio
    Estimation for Robust Distribution Comparison". NIPS 2011.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from domainadapt.datasets import make_gaussian_shift
    >>> from domainadapt.instance import RuLSIF
    >>> source, target, ratio = make_gaussian_shift(n_source=200, n_target=200, random_state=0)
    >>> model = RuLSIF(alpha=0.1, estimator=LogisticRegression(), random_state=0)
    >>> model = model.fit(source, target.X)
    >>> model.weights_.shape
    (200,)
    >>> model.predict(target.X[:5]).shape
    (5,)
    """

    _parameter_constraints: dict = {
        **InstanceAdapter._parameter_constraints,
        "alpha": [Interval(Real, 0, 1, closed="left")],
        "bandwidths": ["array-like", Interval(Real, 0, None, closed="neither"), None],
        "regs": ["array-like", Interval(Real, 0, None, closed="neither"), None],
        "n_centers": [Interval(Integral, 1, None, closed="left")],
        "flatten": FLATTEN_CONSTRAINT,
        "estimator": [HasMethods(["fit"]), None],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        alpha: float = 0.1,
        bandwidths: Any = None,
        regs: Any = None,
        n_centers: int = 100,
        flatten: Any = "auto",
        estimator: Any = None,
        random_state: int | None = None,
    ):
        self.alpha = alpha
        self.bandwidths = bandwidths
        self.regs = regs
        self.n_centers = n_centers
        self.flatten = flatten
        self.estimator = estimator
        self.random_state = random_state

    def _get_alpha(self) -> float:
        return float(self.alpha)

    def _fit_weights(self, source: Domain, target: Domain) -> np.ndarray:
        alpha = self._get_alpha()
        regs = check_grid("regs", DEFAULT_REGS if self.regs is None else self.regs)
        Xs, Xt, rng, grid, centers = draw_basis(self, source, target)
        n_s, n_t = len(Xs), len(Xt)
        n_pairs = min(n_s, n_t)
        scores = np.full((len(grid), len(regs)), np.nan)
        if len(grid) * len(regs) > 1:
            if n_pairs < 2:
                warnings.warn(
                    f"{type(self).__name__}: too few rows for leave-one-out selection "
                    f"({n_s} source, {n_t} target); using the middle bandwidth and the "
                    "largest regularisation of the grids.",
                    UserWarning,
                    stacklevel=4,
                )
                gi, ri = len(grid) // 2, len(regs) - 1
            else:
                perm_s, perm_t = rng.permutation(n_s), rng.permutation(n_t)
                for g, sigma in enumerate(grid):
                    scores[g] = _loo_scores(
                        gaussian_kernel(Xs[perm_s], centers, sigma),
                        gaussian_kernel(Xt[perm_t], centers, sigma),
                        alpha,
                        regs,
                        n_pairs,
                    )
                gi, ri = np.unravel_index(int(np.nanargmin(scores)), scores.shape)
        else:
            gi, ri = 0, 0
        sigma, reg = float(grid[gi]), float(regs[ri])
        Phi_s = gaussian_kernel(Xs, centers, sigma)
        Phi_t = gaussian_kernel(Xt, centers, sigma)
        H = (1.0 - alpha) * (Phi_s.T @ Phi_s) / n_s + alpha * (Phi_t.T @ Phi_t) / n_t
        h = Phi_t.mean(0)
        theta = np.maximum(np.linalg.solve(H + reg * np.eye(len(h)), h), 0.0)
        self.bandwidths_, self.regs_ = grid, regs
        self.loo_scores_ = scores
        self.bandwidth_, self.reg_ = sigma, reg
        self.centers_, self.theta_ = centers, theta
        weights = np.maximum(Phi_s @ theta, 0.0)
        if not weights.any():  # every coefficient clipped: no information, uniform weights
            weights = np.ones(n_s)
        return weights

    def compute_weights(self, X: Any) -> np.ndarray:
        """The fitted (relative) ratio at new rows, clipped at 0 (not normalised, not
        tempered: ``weights_`` follow it to the power ``flatten_``)."""
        return np.maximum(basis_at(self, X) @ self.theta_, 0.0)


class ULSIF(RuLSIF):
    r"""Unconstrained least-squares importance fitting: :class:`RuLSIF` with ``alpha=0``.

    .. math:: \min_\theta \tfrac12\mathbb E_S[\hat r^2] - \mathbb E_T[\hat r]
              + \tfrac{\lambda}{2}\|\theta\|^2

    estimates :math:`p_T/p_S` in closed form; bandwidth and :math:`\lambda` by
    closed-form leave-one-out cross-validation. Parameters and attributes as in
    :class:`RuLSIF` (without ``alpha``).

    Parameters
    ----------
    bandwidths, regs, n_centers, flatten, estimator, random_state
        As in :class:`RuLSIF`.

    Attributes
    ----------
    weights_ : ndarray of shape (n_source,)
    bandwidth_, reg_, loo_scores_, centers_, theta_
        As in :class:`RuLSIF`.
    flatten_, ess_untempered_, flatten_risks_, flatten_risk_se_
        The tempering of the weights: see :class:`~domainadapt.base.InstanceAdapter`.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of the features seen during ``fit``; set only when the rows have
        string column names (e.g. a pandas DataFrame).

    See Also
    --------
    domainadapt.instance.RuLSIF : The bounded relative density ratio.
    domainadapt.instance.KLIEP : A kernel ratio model fitted by KL divergence.
    domainadapt.instance.KMM : Weights that match the kernel mean embeddings.

    References
    ----------
    T. Kanamori, S. Hido, M. Sugiyama. "A Least-squares Approach to Direct Importance
    Estimation". JMLR 10, 2009.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from domainadapt.datasets import make_gaussian_shift
    >>> from domainadapt.instance import ULSIF
    >>> source, target, ratio = make_gaussian_shift(n_source=200, n_target=200, random_state=0)
    >>> model = ULSIF(estimator=LogisticRegression(), random_state=0)
    >>> model = model.fit(source, target.X)
    >>> model.weights_.shape
    (200,)
    >>> model.predict(target.X[:5]).shape
    (5,)
    """

    _parameter_constraints: dict = {
        k: v for k, v in RuLSIF._parameter_constraints.items() if k != "alpha"
    }

    def __init__(
        self,
        bandwidths: Any = None,
        regs: Any = None,
        n_centers: int = 100,
        flatten: Any = "auto",
        estimator: Any = None,
        random_state: int | None = None,
    ):
        self.bandwidths = bandwidths
        self.regs = regs
        self.n_centers = n_centers
        self.flatten = flatten
        self.estimator = estimator
        self.random_state = random_state

    def _get_alpha(self) -> float:
        return 0.0
