"""Exact (unregularised) optimal transport: assignment, transportation LP or POT."""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.optimize import linear_sum_assignment, linprog

__all__ = ["emd"]


def emd(
    a: np.ndarray, b: np.ndarray, C: np.ndarray, solver: str = "highs"
) -> tuple[np.ndarray, int, bool]:
    r"""Exact optimal transport :math:`\min_{\gamma \in \Pi(a, b)} \langle \gamma, C \rangle`.

    Uniform marginals of equal size are an assignment problem, solved exactly by
    :func:`scipy.optimize.linear_sum_assignment`; otherwise the transportation
    linear programme is solved by HiGHS (:func:`scipy.optimize.linprog`), or by
    POT's network simplex with ``solver="pot"`` (``pip install domainadapt[ot]``).

    Parameters
    ----------
    a, b : ndarray of shape (n,), (m,)
        Marginals (non-negative, same total mass).
    C : ndarray of shape (n, m)
        Cost matrix.
    solver : {"highs", "pot"}, default="highs"
        Solver of the transportation LP (not used for the assignment case).

    Returns
    -------
    coupling : ndarray of shape (n, m)
    n_iter : int
        Solver iterations (0 for the assignment solver and for POT).
    converged : bool
        Whether the solver reached optimality.

    References
    ----------
    H. W. Kuhn. "The Hungarian Method for the Assignment Problem". Naval Research
    Logistics Quarterly 2, 1955.
    N. Bonneel, M. van de Panne, S. Paris, W. Heidrich. "Displacement Interpolation
    Using Lagrangian Mass Transport". ACM TOG 30(6), 2011 (POT's network simplex).
    """
    n, m = C.shape
    if n == m and np.allclose(a, 1.0 / n, rtol=1e-12, atol=0) and np.allclose(b, 1.0 / m):
        rows, cols = linear_sum_assignment(C)
        coupling = np.zeros((n, m))
        coupling[rows, cols] = 1.0 / n
        return coupling, 0, True
    if solver == "pot":
        try:
            import ot  # noqa: PLC0415 - optional extra
        except ImportError:
            raise ImportError(
                "emd_solver='pot' needs the POT package: pip install 'domainadapt[ot]'."
            ) from None
        coupling, log = ot.emd(a, b, np.ascontiguousarray(C), numItermax=10_000_000, log=True)
        return np.asarray(coupling), 0, log.get("warning") is None
    # transportation LP: rows sum to a, columns sum to b, gamma >= 0
    row_sums = sparse.kron(sparse.eye(n), np.ones((1, m)), format="csr")
    col_sums = sparse.kron(np.ones((1, n)), sparse.eye(m), format="csr")
    A_eq = sparse.vstack([row_sums, col_sums], format="csr")
    res = linprog(
        C.ravel(),
        A_eq=A_eq,
        b_eq=np.concatenate([a, b]),
        bounds=(0, None),
        method="highs",
    )
    if res.x is None:
        raise RuntimeError(f"the exact OT linear programme failed: {res.message}")
    coupling = np.clip(res.x.reshape(n, m), 0.0, None)
    return coupling, int(getattr(res, "nit", 0)), bool(res.status == 0)
