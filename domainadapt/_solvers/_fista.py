r"""The box- and sum-constrained QP by accelerated projected gradient (FISTA), matrix-free.

.. math:: \min_x \tfrac12 x^\top K x - c^\top x
          \quad\text{s.t.}\quad 0 \le x \le B,\ lo \le \textstyle\sum_i x_i \le hi

:math:`K` is only touched through products :math:`Kv` (one per iteration), so it
never has to be formed: Kernel Mean Matching passes a tiled kernel-vector product.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ._qp import project_box_sum, project_box_sum_metric

__all__ = ["fista_box_sum_qp"]


def fista_box_sum_qp(
    matvec: Callable[[torch.Tensor], torch.Tensor],
    c: torch.Tensor,
    B: float,
    lo: float,
    hi: float,
    *,
    lipschitz: float,
    metric_weight: float = 0.0,
    f_min: float | None = None,
    max_iter: int = 1000,
    tol: float = 1e-3,
    x0: torch.Tensor | None = None,
    Kx0: torch.Tensor | None = None,
    window: int = 10,
) -> tuple[torch.Tensor, float, int]:
    r"""Minimise ``0.5 x'Kx - c'x`` over ``{0 <= x <= B, lo <= sum(x) <= hi}`` by FISTA.

    FISTA (Beck & Teboulle 2009) with adaptive restart (O'Donoghue & Candès 2015):
    the momentum is reset whenever the step goes against the previous one or the
    objective rises. The steps are taken in the metric
    :math:`M = I + \rho\,\mathbf 1\mathbf 1^\top / n` (``rho = metric_weight``),
    which balances a matrix with one dominant eigenvalue along
    :math:`\mathbf 1` (a Gaussian kernel matrix); the projection in that metric is
    exact (:func:`~domainadapt._solvers.project_box_sum_metric`). Backtracking
    doubles the Lipschitz estimate ``L`` until :math:`K \preceq L M` holds on the
    step taken. Since :math:`K` is linear, :math:`K y` follows from the last two
    products: one product per iteration.

    Parameters
    ----------
    matvec : callable
        ``v -> K v`` for a float64 tensor ``v`` of shape (n,), returning float64
        (``K`` symmetric positive semi-definite).
    c : Tensor of shape (n,)
        Linear term (float64).
    B : float
        Upper bound of every coordinate.
    lo, hi : float
        Bounds of ``sum(x)`` (``lo <= n * B``).
    lipschitz : float
        Initial estimate of the largest eigenvalue of :math:`M^{-1/2} K M^{-1/2}`
        (raised by backtracking when too low).
    metric_weight : float, default=0.0
        :math:`\rho \ge 0` of the metric (0: Euclidean steps).
    f_min : float, optional
        A lower bound of the objective. Without it the stopping rule is relative
        to :math:`|f|`.
    max_iter : int, default=1000
        Iteration cap.
    tol : float, default=1e-3
        Stop when the best objective improved by less than ``tol`` times
        ``f - f_min`` over the last ``window`` iterations.
    x0 : Tensor of shape (n,), optional
        Starting point, projected onto the set (default: all ones, projected).
    Kx0 : Tensor of shape (n,), optional
        ``K x0`` when already known; used if the projection leaves ``x0`` unchanged.
    window : int, default=10
        Iterations over which progress is measured.

    Returns
    -------
    x : Tensor of shape (n,)
        The last iterate (always feasible).
    objective : float
        ``0.5 x'Kx - c'x`` at ``x``.
    n_iter : int
        Iterations run.

    References
    ----------
    A. Beck, M. Teboulle. "A Fast Iterative Shrinkage-Thresholding Algorithm for
    Linear Inverse Problems". SIAM J. Imaging Sciences 2(1), 2009.
    B. O'Donoghue, E. Candès. "Adaptive Restart for Accelerated Gradient Schemes".
    Foundations of Computational Mathematics 15, 2015.
    """
    n = len(c)
    rho = float(metric_weight)
    L = float(lipschitz)
    start = torch.ones_like(c) if x0 is None else x0

    def f_of(w: torch.Tensor, Kw: torch.Tensor) -> float:
        return 0.5 * float(w @ Kw) - float(c @ w)

    def prox_step(y: torch.Tensor, grad: torch.Tensor, L: float) -> torch.Tensor:
        # minimise grad'(w - y) + L/2 ||w - y||_M^2:  w = Proj_M(y - M^{-1} grad / L)
        step = grad - (rho / (1.0 + rho)) * grad.mean()
        return project_box_sum_metric(y - step / L, rho, B, lo, hi)

    w = project_box_sum(start, B, lo, hi)
    Kw = Kx0 if Kx0 is not None and bool(torch.equal(w, start)) else matvec(w)
    f_w = f_of(w, Kw)
    y, Ky, t = w, Kw, 1.0
    history = [f_w]
    n_iter = 0
    for n_iter in range(1, max_iter + 1):  # noqa: B007
        f_y = f_of(y, Ky)
        grad = Ky - c
        for _ in range(30):  # backtracking on L (rarely triggered)
            w_new = prox_step(y, grad, L)
            d = w_new - y
            Kw_new = matvec(w_new)
            f_new = f_of(w_new, Kw_new)
            bound = f_y + float(grad @ d) + 0.5 * L * (float(d @ d) + rho / n * float(d.sum()) ** 2)
            if f_new <= bound + 1e-5 * abs(f_y):  # slack for float32 products
                break
            L *= 2.0
        step = w_new - w
        if float((y - w_new) @ step) > 0 or f_new > f_w:  # adaptive restart
            t_new, beta = 1.0, 0.0
        else:
            t_new = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * t * t))
            beta = (t - 1.0) / t_new
        y = w_new + beta * step
        Ky = Kw_new + beta * (Kw_new - Kw)  # K is linear: no extra product
        w, Kw, f_w, t = w_new, Kw_new, f_new, t_new
        history.append(min(f_w, history[-1]))
        # stop when the objective, measured from its lower bound, improved by less
        # than tol over the last iterations
        gap = history[-1] - f_min if f_min is not None else abs(history[-1])
        if n_iter >= window and history[-window - 1] - history[-1] <= tol * max(gap, 0.0):
            break
    return w, f_w, n_iter
