"""The private solvers (``domainadapt._solvers``) on problems with known solutions.

The estimators that call them (OTMapping, KMM, LabelPropagation) are tested in
their own files; here each solver is checked against a closed form or an
independent solver (:mod:`scipy.optimize`), without any estimator around it.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from scipy.optimize import Bounds, LinearConstraint, minimize

from domainadapt._solvers import (
    emd,
    fista_box_sum_qp,
    project_box_sum,
    project_box_sum_metric,
    sinkhorn_log,
    solve_box_sum_qp,
    spread_labels,
    symmetric_normalize,
)


# ----------------------------------------------------------------------------- helpers
def random_marginal(rng: np.random.RandomState, n: int) -> np.ndarray:
    w = rng.uniform(0.5, 1.5, n)
    return w / w.sum()


def monotone_coupling(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """North-west-corner coupling of two sorted 1-D marginals: optimal for a convex cost."""
    a, b = a.copy(), b.copy()
    P = np.zeros((len(a), len(b)))
    i = j = 0
    while i < len(a) and j < len(b):
        mass = min(a[i], b[j])
        P[i, j] = mass
        a[i] -= mass
        b[j] -= mass
        if a[i] <= 1e-15:
            i += 1
        else:
            j += 1
    return P


def gaussian_gram(rng: np.random.RandomState, n: int, d: int = 3) -> np.ndarray:
    X = rng.randn(n, d)
    d2 = ((X[:, None] - X[None]) ** 2).sum(-1)
    return np.exp(-d2 / 2.0)


def scipy_box_sum_qp(K, c, B, lo, hi, x0=None):
    """Reference: the same QP by scipy's SLSQP (an active-set method)."""
    n = len(c)
    res = minimize(
        lambda x: 0.5 * x @ K @ x - c @ x,
        np.full(n, min(B, 0.5 * (lo + hi) / n)) if x0 is None else x0,
        jac=lambda x: K @ x - c,
        bounds=Bounds(np.zeros(n), np.full(n, B)),
        constraints=[LinearConstraint(np.ones((1, n)), lo, hi)],
        method="SLSQP",
        options={"ftol": 1e-14, "maxiter": 1000},
    )
    # status 8 ("positive directional derivative") is SLSQP stalling at round-off
    assert res.status in (0, 8), res.message
    return res.x, float(res.fun)


def assert_feasible(x, B, lo, hi, atol=1e-9):
    x = np.asarray(x)
    assert x.min() >= -atol
    assert x.max() <= B + atol
    assert lo - atol * len(x) <= x.sum() <= hi + atol * len(x)


# ----------------------------------------------------------------------------- Sinkhorn
def test_sinkhorn_marginals_match_to_tolerance():
    rng = np.random.RandomState(0)
    a, b = random_marginal(rng, 7), random_marginal(rng, 5)
    C = torch.tensor(rng.rand(7, 5))
    P, f, g, n_iter, err = sinkhorn_log(torch.tensor(a), torch.tensor(b), C, 0.05, tol=1e-10)
    assert err <= 1e-10 and n_iter > 0
    np.testing.assert_allclose(P.sum(1).numpy(), a, atol=1e-10)
    np.testing.assert_allclose(P.sum(0).numpy(), b, atol=1e-12)  # exact after each g-update
    # the coupling is exp((f + g - C) / reg): the dual potentials describe it
    np.testing.assert_allclose(P.numpy(), np.exp((f[:, None] + g[None] - C).numpy() / 0.05))


def test_sinkhorn_of_a_constant_cost_is_the_independent_coupling():
    # <gamma, C> is constant on Pi(a, b), so the entropy alone decides: gamma = a b^T
    rng = np.random.RandomState(1)
    a, b = random_marginal(rng, 4), random_marginal(rng, 6)
    P = sinkhorn_log(torch.tensor(a), torch.tensor(b), torch.full((4, 6), 0.3), 1.0, tol=1e-12)[0]
    np.testing.assert_allclose(P.numpy(), np.outer(a, b), atol=1e-12)


def test_sinkhorn_cost_tends_to_the_exact_cost_as_the_entropy_vanishes():
    rng = np.random.RandomState(2)
    x, y = np.sort(rng.rand(6)), np.sort(rng.rand(5))
    a, b = random_marginal(rng, 6), random_marginal(rng, 5)
    C = (x[:, None] - y[None]) ** 2
    exact = float((monotone_coupling(a, b) * C).sum())
    gaps = []
    for reg in (1e-1, 1e-2, 1e-3, 1e-4):
        P = sinkhorn_log(
            torch.tensor(a), torch.tensor(b), torch.tensor(C), reg, max_iter=20_000, tol=1e-9
        )[0]
        gap = float((P.numpy() * C).sum()) - exact
        # the entropic plan is feasible, so it costs at least the optimum; the excess is at
        # most reg * (entropy of a b^T), i.e. reg * log(n m)
        assert -1e-8 <= gap <= reg * np.log(C.size) + 1e-8
        gaps.append(gap)
    assert gaps == sorted(gaps, reverse=True)
    assert gaps[-1] <= 1e-3 * exact


def test_sinkhorn_warm_start_is_a_fixed_point():
    rng = np.random.RandomState(3)
    a, b = torch.tensor(random_marginal(rng, 5)), torch.tensor(random_marginal(rng, 5))
    C = torch.tensor(rng.rand(5, 5))
    P, f, g, _, _ = sinkhorn_log(a, b, C, 0.1, tol=1e-12)
    P2, _, _, n_iter, err = sinkhorn_log(a, b, C, 0.1, tol=1e-12, f=f, g=g)
    assert err <= 1e-12 and n_iter <= 1
    np.testing.assert_allclose(P2.numpy(), P.numpy(), atol=1e-12)


# ----------------------------------------------------------------------------- exact OT
def test_emd_assignment_matches_brute_force():
    rng = np.random.RandomState(4)
    C = rng.rand(5, 5)
    u = np.full(5, 0.2)
    P, n_iter, converged = emd(u, u, C)
    best = min(sum(C[i, p[i]] for i in range(5)) for p in itertools.permutations(range(5)))
    assert converged and n_iter == 0
    np.testing.assert_allclose((P * C).sum(), best / 5)
    np.testing.assert_allclose(P.sum(1), u)
    np.testing.assert_allclose(P.sum(0), u)


def test_emd_transportation_lp_is_the_monotone_coupling_in_one_dimension():
    rng = np.random.RandomState(5)
    x, y = np.sort(rng.rand(7)), np.sort(rng.rand(4))
    a, b = random_marginal(rng, 7), random_marginal(rng, 4)
    C = np.abs(x[:, None] - y[None]) ** 1.5  # strictly convex cost: unique optimum
    P, _, converged = emd(a, b, C)
    assert converged
    np.testing.assert_allclose(P, monotone_coupling(a, b), atol=1e-9)


# ----------------------------------------------------------------------------- projections
@pytest.mark.parametrize(("lo", "hi"), [(0.0, 100.0), (6.0, 6.5), (0.5, 1.0)])
def test_project_box_sum_is_the_euclidean_projection(lo, hi):
    rng = np.random.RandomState(6)
    v = rng.randn(8) * 2 + 0.5
    B = 1.5
    w = project_box_sum(torch.tensor(v), B, lo, hi).numpy()
    assert_feasible(w, B, lo, hi)
    ref, _ = scipy_box_sum_qp(np.eye(8), v, B, lo, hi)  # min 0.5||x||^2 - v'x = projection
    np.testing.assert_allclose(w, ref, atol=1e-6)


def test_project_box_sum_metric_is_the_projection_in_its_metric():
    rng = np.random.RandomState(7)
    n, rho, B, lo, hi = 8, 3.0, 1.5, 2.0, 5.0
    v = rng.randn(n) + 0.4
    M = np.eye(n) + rho * np.ones((n, n)) / n
    w = project_box_sum_metric(torch.tensor(v), rho, B, lo, hi).numpy()
    assert_feasible(w, B, lo, hi)
    ref, _ = scipy_box_sum_qp(M, M @ v, B, lo, hi)  # min 0.5||x - v||_M^2
    np.testing.assert_allclose(w, ref, atol=1e-6)
    # rho = 0 is the Euclidean projection
    np.testing.assert_array_equal(
        project_box_sum_metric(torch.tensor(v), 0.0, B, lo, hi).numpy(),
        project_box_sum(torch.tensor(v), B, lo, hi).numpy(),
    )


# ----------------------------------------------------------------------------- interior-point QP
@pytest.mark.parametrize(("B", "lo", "hi"), [(2.0, 9.0, 11.0), (1.2, 11.0, 12.0), (5.0, 2.0, 3.0)])
def test_qp_meets_its_constraints_and_matches_scipy(B, lo, hi):
    rng = np.random.RandomState(8)
    K = gaussian_gram(rng, 10)
    c = K @ rng.uniform(0.0, 2.5, 10)  # optimum near a point that violates the box
    x, obj, n_iter = solve_box_sum_qp(K, c, B, lo, hi)
    assert_feasible(x, B, lo, hi)
    assert 0 < n_iter <= 200
    np.testing.assert_allclose(obj, 0.5 * x @ K @ x - c @ x, rtol=1e-12)
    ref_x, ref_obj = scipy_box_sum_qp(K, c, B, lo, hi)
    assert obj <= ref_obj + 1e-7 * (1 + abs(ref_obj))
    np.testing.assert_allclose(obj, ref_obj, rtol=1e-6, atol=1e-8)


def test_qp_with_identity_hessian_is_a_projection():
    rng = np.random.RandomState(9)
    c = rng.randn(12) + 1.0
    x, _, _ = solve_box_sum_qp(np.eye(12), c, 1.0, 4.0, 5.0, tol=1e-12)
    np.testing.assert_allclose(x, project_box_sum(torch.tensor(c), 1.0, 4.0, 5.0), atol=1e-7)


def test_qp_interior_optimum_is_the_unconstrained_minimiser():
    rng = np.random.RandomState(10)
    A = rng.randn(6, 6)
    K = A @ A.T + 6 * np.eye(6)
    x_star = rng.uniform(0.2, 0.8, 6)
    x, obj, _ = solve_box_sum_qp(K, K @ x_star, 1.0, 0.0, 6.0, tol=1e-12)
    np.testing.assert_allclose(x, x_star, atol=1e-8)
    np.testing.assert_allclose(obj, -0.5 * x_star @ K @ x_star)


# ----------------------------------------------------------------------------- FISTA
@pytest.mark.parametrize("metric_weight", [0.0, 4.0])
def test_fista_reaches_the_qp_optimum(metric_weight):
    rng = np.random.RandomState(11)
    n, B = 40, 2.0
    K = gaussian_gram(rng, n)
    c = K @ rng.uniform(0.0, 3.0, n)
    lo, hi = 0.9 * n, 1.1 * n
    _, qp_obj, _ = solve_box_sum_qp(K, c, B, lo, hi)
    Kt = torch.tensor(K)
    n_calls = []

    def matvec(v: torch.Tensor) -> torch.Tensor:
        n_calls.append(1)
        return Kt @ v

    M = np.eye(n) + metric_weight * np.ones((n, n)) / n
    L = float(np.linalg.eigvalsh(np.linalg.solve(np.linalg.cholesky(M), K)).max())  # a guess
    x, obj, n_iter = fista_box_sum_qp(
        matvec,
        torch.tensor(c),
        B,
        lo,
        hi,
        lipschitz=L,
        metric_weight=metric_weight,
        max_iter=5000,
        tol=1e-12,
        f_min=qp_obj - 1.0,
    )
    assert_feasible(x.numpy(), B, lo, hi)
    np.testing.assert_allclose(obj, 0.5 * x @ Kt @ x - torch.tensor(c) @ x, rtol=1e-12)
    assert obj - qp_obj <= 1e-6 * (1 + abs(qp_obj))
    assert obj >= qp_obj - 1e-8 * (1 + abs(qp_obj))  # the QP solution is optimal
    assert n_iter < 5000
    assert len(n_calls) >= n_iter  # one product per iteration, more only when backtracking


def test_fista_reuses_the_product_of_a_feasible_start_only():
    K = 2.0 * torch.eye(3, dtype=torch.float64)
    c = torch.ones(3, dtype=torch.float64)  # optimum of x^2 - x per coordinate: 1/2
    calls = []

    def matvec(v: torch.Tensor) -> torch.Tensor:
        calls.append(1)
        return K @ v

    def solve(x0, Kx0):
        calls.clear()
        x, obj, _ = fista_box_sum_qp(
            matvec, c, 1.0, 0.0, 3.0, lipschitz=2.0, x0=x0, Kx0=Kx0, max_iter=50, tol=1e-12
        )
        np.testing.assert_allclose(x.numpy(), 0.5)
        np.testing.assert_allclose(obj, -0.75)
        return len(calls)

    x0 = torch.full((3,), 0.25, dtype=torch.float64)
    assert solve(x0, K @ x0) == solve(x0, None) - 1
    # an infeasible start is projected first, so its product cannot be reused
    outside = torch.full((3,), 2.0, dtype=torch.float64)
    assert solve(outside, torch.full((3,), np.nan, dtype=torch.float64)) == solve(outside, None)


# ----------------------------------------------------------------------------- label spreading
def test_symmetric_normalize_leaves_isolated_nodes_empty():
    W = np.array([[0, 2, 0, 0], [2, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 0]], dtype=float)
    S = symmetric_normalize(W)
    d = W.sum(1)
    expected = np.zeros_like(W)
    nz = d > 0
    expected[np.ix_(nz, nz)] = W[np.ix_(nz, nz)] / np.sqrt(np.outer(d[nz], d[nz]))
    assert sp.issparse(S)
    np.testing.assert_allclose(S.toarray(), expected)


@pytest.mark.parametrize("solver", ["direct", "cg"])
def test_spread_labels_solves_the_fixed_point(solver):
    rng = np.random.RandomState(12)
    W = sp.random(30, 30, density=0.2, random_state=rng)
    S = symmetric_normalize(W + W.T)
    Y0 = np.eye(3)[rng.randint(0, 3, 30)]
    F = spread_labels(S, Y0, 0.8, solver=solver, tol=1e-12)
    np.testing.assert_allclose(F, 0.8 * (S @ F) + Y0, atol=1e-9)
    np.testing.assert_allclose(F, spread_labels(S, Y0, 0.8, solver="dense"), atol=1e-9)


def test_spread_labels_refuses_an_unknown_solver():
    with pytest.raises(ValueError, match="solver must be"):
        spread_labels(sp.eye(2), np.eye(2), 0.5, solver="jacobi")
