r"""The box- and sum-constrained QP of Kernel Mean Matching, and projections onto its set.

.. math:: \min_x \tfrac12 x^\top K x - c^\top x
          \quad\text{s.t.}\quad 0 \le x \le B,\ lo \le \textstyle\sum_i x_i \le hi

(Huang et al. 2007, with :math:`K` positive semi-definite). :func:`solve_box_sum_qp`
solves it exactly by an interior-point method; :func:`project_box_sum` and
:func:`project_box_sum_metric` are the projections the first-order solver
(:func:`domainadapt._solvers.fista_box_sum_qp`) needs.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg
import torch

__all__ = ["project_box_sum", "project_box_sum_metric", "solve_box_sum_qp"]


def solve_box_sum_qp(
    K: np.ndarray,
    c: np.ndarray,
    B: float,
    lo: float,
    hi: float,
    *,
    max_iter: int = 200,
    tol: float = 1e-10,
) -> tuple[np.ndarray, float, int]:
    r"""Solve ``min 0.5 x'Kx - c'x  s.t. 0 <= x <= B, lo <= sum(x) <= hi`` (K PSD).

    The quadratic programme of Kernel Mean Matching (Huang et al. 2007, Eq. 7).
    Primal-dual interior point, Mehrotra predictor-corrector, on the inequality form
    ``Gx + s = h, s >= 0`` with duals ``z >= 0``; ``G = [-I; I; -1'; 1']``. The
    Newton system is :math:`K + D + \gamma \mathbf 1\mathbf 1^\top` (``D`` diagonal
    from the box, the rank-one term from the sum constraint), solved by a Cholesky
    factorisation and the Sherman-Morrison formula: :math:`O(n^3)` per iteration.
    The last iterate is clipped to the box and projected onto the sum constraint
    (:func:`project_box_sum`), so the result is always feasible.

    Parameters
    ----------
    K : ndarray of shape (n, n)
        Symmetric positive semi-definite matrix.
    c : ndarray of shape (n,)
        Linear term.
    B : float
        Upper bound of every coordinate (``> 0``).
    lo, hi : float
        Bounds of ``sum(x)``, ``0 <= lo <= hi`` and ``lo <= n * B``.
    max_iter : int, default=200
        Iteration cap.
    tol : float, default=1e-10
        Stop when the relative KKT residuals and duality gap are below ``tol`` (or
        when round-off stalls progress for three iterations).

    Returns
    -------
    x : ndarray of shape (n,)
        The solution.
    objective : float
        ``0.5 x'Kx - c'x`` at ``x``.
    n_iter : int
        Interior-point iterations run.

    References
    ----------
    J. Huang, A. Smola, A. Gretton, K. Borgwardt, B. Schölkopf. "Correcting Sample
    Selection Bias by Unlabeled Data". NIPS 2007.
    S. Mehrotra. "On the Implementation of a Primal-Dual Interior Point Method".
    SIAM J. Optimization 2(4), 1992.
    """
    n = len(c)
    m = 2 * n + 2
    ones = np.ones(n)
    x = np.full(n, min(max(0.5 * (lo + hi) / n, 1e-3 * B), 0.5 * B))

    h = [np.zeros(n), np.full(n, B), np.array([-lo]), np.array([hi])]
    s = [hi_ - g for hi_, g in zip(h, _gx(x))]
    s = [np.where(p > 1e-6, p, 1.0) for p in s]
    z = [np.ones_like(p) for p in s]
    scale_d = 1.0 + np.abs(c).max()
    scale_p = 1.0 + max(B, hi)
    jitter = 1e-12 * max(1.0, float(np.abs(np.diag(K)).max()))
    n_iter = 0
    best, best_x, stall = math.inf, x, 0
    for n_iter in range(1, max_iter + 1):  # noqa: B007
        Kx = K @ x
        rd = Kx - c - z[0] + z[1] + (z[3][0] - z[2][0]) * ones
        rp = [g + si - hi_ for g, si, hi_ in zip(_gx(x), s, h)]
        gap = sum(float(si @ zi) for si, zi in zip(s, z))
        mu = gap / m
        obj = 0.5 * float(x @ Kx) - float(c @ x)
        merit = max(
            float(np.abs(rd).max()) / scale_d,
            max(float(np.abs(p).max()) for p in rp) / scale_p,
            gap / (1.0 + abs(obj)),
        )
        if merit < best:
            best, best_x, stall = merit, x, 0
        else:
            stall += 1
        # converged; or round-off (huge z/s ratios near the solution) stopped the progress
        if merit <= tol or stall >= 3:
            break
        W = [zi / si for zi, si in zip(z, s)]
        A = K + np.diag(W[0] + W[1] + jitter)
        try:
            fac = scipy.linalg.cho_factor(A, check_finite=False)
        except np.linalg.LinAlgError:
            fac = scipy.linalg.cho_factor(A + 1e-8 * np.eye(n), check_finite=False)
        gamma = float(W[2][0] + W[3][0])
        Ainv1 = scipy.linalg.cho_solve(fac, ones, check_finite=False)
        denom = 1.0 + gamma * Ainv1.sum()

        rc_aff = [si * zi for si, zi in zip(s, z)]
        dx, ds, dz = _newton(fac, Ainv1, gamma / denom, W, rp, rd, rc_aff, s, z)
        a_aff = min(_max_step(s, ds), _max_step(z, dz))
        mu_aff = (
            sum(
                float((si + a_aff * dsi) @ (zi + a_aff * dzi))
                for si, dsi, zi, dzi in zip(s, ds, z, dz)
            )
            / m
        )
        sigma_c = (mu_aff / mu) ** 3 if mu > 0 else 0.0
        rc = [si * zi + dsi * dzi - sigma_c * mu for si, zi, dsi, dzi in zip(s, z, ds, dz)]
        dx, ds, dz = _newton(fac, Ainv1, gamma / denom, W, rp, rd, rc, s, z)
        step = min(1.0, 0.99 * min(_max_step(s, ds), _max_step(z, dz)))
        x = x + step * dx
        s = [si + step * dsi for si, dsi in zip(s, ds)]
        z = [zi + step * dzi for zi, dzi in zip(z, dz)]
    x = _project_numpy(np.clip(best_x, 0.0, B), B, lo, hi)
    obj = 0.5 * float(x @ (K @ x)) - float(c @ x)
    return x, obj, n_iter


def _gx(v: np.ndarray) -> list:
    """``G v`` for ``G = [-I; I; -1'; 1']``, split by constraint block."""
    sv = v.sum()
    return [-v, v, np.array([-sv]), np.array([sv])]


def _newton(fac, Ainv1, coef, W, rp, rd, rc, s, z) -> tuple:
    """One Newton direction of the interior-point method (reduced normal equations)."""
    t = [wi * rpi - rci / si for wi, rpi, rci, si in zip(W, rp, rc, s)]
    rhs = -rd - (-t[0] + t[1] + (t[3][0] - t[2][0]))
    y = scipy.linalg.cho_solve(fac, rhs, check_finite=False)
    dx = y - Ainv1 * (coef * y.sum())
    dz = [wi * (g + rpi) - rci / si for wi, g, rpi, rci, si in zip(W, _gx(dx), rp, rc, s)]
    ds = [-(rci + si * dzi) / zi for rci, si, dzi, zi in zip(rc, s, dz, z)]
    return dx, ds, dz


def _max_step(v: list, dv: list) -> float:
    step = 1.0
    for vi, dvi in zip(v, dv):
        neg = dvi < 0
        if neg.any():
            step = min(step, float((-vi[neg] / dvi[neg]).min()))
    return step


def _project_numpy(v: np.ndarray, B: float, lo: float, hi: float) -> np.ndarray:
    out = project_box_sum(torch.from_numpy(np.asarray(v, dtype=np.float64)), B, lo, hi)
    return out.numpy()


def project_box_sum(
    v: torch.Tensor, B: float, lo: float, hi: float, n_bisect: int = 100
) -> torch.Tensor:
    """Euclidean projection onto ``{0 <= w <= B, lo <= sum(w) <= hi}``: ``clip(v - tau)``.

    Parameters
    ----------
    v : Tensor of shape (n,)
        Point to project.
    B : float
        Upper bound of every coordinate.
    lo, hi : float
        Bounds of the sum (``lo <= n * B``).
    n_bisect : int, default=100
        Bisection steps for the shift ``tau`` (a monotone 1-D root).

    Returns
    -------
    Tensor of shape (n,)
    """
    w = v.clamp(0.0, B)
    total = float(w.sum())
    if lo <= total <= hi:
        return w
    target = lo if total < lo else hi
    # sum(clip(v - tau, 0, B)) is non-increasing in tau; bracket then bisect.
    t_lo = float(v.min()) - B  # sum = n * B >= target
    t_hi = float(v.max())  # sum = 0 <= target
    for _ in range(n_bisect):
        mid = 0.5 * (t_lo + t_hi)
        if float((v - mid).clamp(0.0, B).sum()) > target:
            t_lo = mid
        else:
            t_hi = mid
        if t_hi - t_lo <= 1e-15 * max(1.0, abs(mid)):
            break
    # end on the bracket side whose sum lies inside [lo, hi]
    w = (v - (t_lo if total < lo else t_hi)).clamp(0.0, B)
    return w


def project_box_sum_metric(
    v: torch.Tensor, c: float, B: float, lo: float, hi: float, n_bisect: int = 200
) -> torch.Tensor:
    """Projection onto ``{0 <= w <= B, lo <= sum(w) <= hi}`` in the metric
    ``||z||_M^2 = ||z||^2 + (c/n) (sum z)^2``.

    KKT: ``w = clip(v - tau, 0, B)`` with ``tau = (c/n)(sum(w) - sum(v))`` when the sum
    constraint is inactive (a monotone equation in ``tau``), else ``sum(w) = lo`` or ``hi``.

    Parameters
    ----------
    v : Tensor of shape (n,)
        Point to project.
    c : float
        Weight ``c >= 0`` of the rank-one part of the metric (0: Euclidean).
    B, lo, hi : float
        The set, as in :func:`project_box_sum`.
    n_bisect : int, default=200
        Bisection steps for ``tau``.

    Returns
    -------
    Tensor of shape (n,)
    """
    if c == 0.0:
        return project_box_sum(v, B, lo, hi)
    n, sv = len(v), float(v.sum())

    def g(tau: float) -> float:
        return tau - (c / n) * (float((v - tau).clamp(0.0, B).sum()) - sv)

    span = float(v.max() - v.min()) + B + 1.0
    t_lo, t_hi = float(v.min()) - B - 1.0, float(v.max()) + 1.0
    while g(t_lo) > 0:
        t_lo -= span
        span *= 2.0
    span = float(v.max() - v.min()) + B + 1.0
    while g(t_hi) < 0:
        t_hi += span
        span *= 2.0
    for _ in range(n_bisect):
        mid = 0.5 * (t_lo + t_hi)
        if g(mid) < 0:
            t_lo = mid
        else:
            t_hi = mid
        if t_hi - t_lo <= 1e-15 * max(1.0, abs(mid)):
            break
    w = (v - 0.5 * (t_lo + t_hi)).clamp(0.0, B)
    total = float(w.sum())
    if lo <= total <= hi:
        return w
    return project_box_sum(v, B, lo, hi)  # the sum constraint is active: Euclidean shift to it
