"""The label-spreading linear system on a graph (Zhou et al. 2003)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import cg, splu

__all__ = ["factorize_spreading", "spread_labels", "symmetric_normalize"]


def symmetric_normalize(W: Any) -> sp.csr_matrix:
    r"""Symmetrically normalised affinity :math:`S = D^{-1/2} W D^{-1/2}`, :math:`D = \mathrm{diag}(W 1)`.

    Isolated nodes (zero degree) get an empty row and column instead of a division by zero.

    Parameters
    ----------
    W : sparse or dense array of shape (n, n)
        Non-negative symmetric affinity matrix.

    Returns
    -------
    scipy.sparse.csr_matrix of shape (n, n)
    """
    W = sp.csr_matrix(W, dtype=np.float64)
    degree = np.asarray(W.sum(axis=1)).ravel()
    inv_sqrt = np.zeros_like(degree)
    positive = degree > 0
    inv_sqrt[positive] = 1.0 / np.sqrt(degree[positive])
    D = sp.diags(inv_sqrt)
    return (D @ W @ D).tocsr()


def spread_labels(
    S: Any,
    Y0: np.ndarray,
    alpha: float,
    *,
    solver: str = "direct",
    tol: float = 1e-8,
    max_iter: int = 1000,
) -> np.ndarray:
    r"""Solve the label-spreading fixed point :math:`F = \alpha S F + Y_0`.

    .. math:: F = (I - \alpha S)^{-1} Y_0

    (Zhou et al., NIPS 2003, with the constant :math:`1 - \alpha` dropped: it
    cancels when rows are normalised.)

    Parameters
    ----------
    S : sparse or dense array of shape (n, n)
        Symmetric normalised affinity (spectral radius at most 1).
    Y0 : ndarray of shape (n, n_classes)
        Initial label scores.
    alpha : float in [0, 1)
        Weight of the neighbours against the initial scores.
    solver : {"direct", "cg", "dense"}
        ``"direct"``: sparse LU factorisation (one factorisation, one solve per
        class); ``"cg"``: conjugate gradients per class, memory linear in the
        number of edges (``I - alpha S`` is symmetric positive definite);
        ``"dense"``: :func:`numpy.linalg.solve` (reference for small ``n``).
    tol : float
        Relative residual of ``"cg"``.
    max_iter : int
        Iteration cap of ``"cg"``.

    Returns
    -------
    ndarray of shape (n, n_classes)

    References
    ----------
    D. Zhou, O. Bousquet, T. N. Lal, J. Weston, B. Schoelkopf. "Learning with
    local and global consistency". NIPS 2003.
    """
    solve = factorize_spreading(S, alpha, solver=solver, tol=tol, max_iter=max_iter)
    return solve(Y0)


def factorize_spreading(
    S: Any,
    alpha: float,
    *,
    solver: str = "direct",
    tol: float = 1e-8,
    max_iter: int = 1000,
) -> Callable[[np.ndarray], np.ndarray]:
    r"""Prepare :math:`Y_0 \mapsto (I - \alpha S)^{-1} Y_0` once for several right-hand sides.

    :func:`spread_labels` for a graph solved repeatedly (self-training rounds):
    ``"direct"`` factorises :math:`I - \alpha S` once (the sparse LU is the
    expensive part, and its fill-in can be large), ``"cg"`` and ``"dense"`` keep
    the matrix. Each call gives exactly what :func:`spread_labels` gives.

    Parameters
    ----------
    S, alpha, solver, tol, max_iter
        As in :func:`spread_labels`.

    Returns
    -------
    callable
        ``solve(Y0)`` with ``Y0`` of shape (n, n_classes), returning the same shape.
    """
    if solver not in ("direct", "cg", "dense"):
        raise ValueError(f"solver must be 'direct', 'cg' or 'dense'; got {solver!r}.")
    n = S.shape[0] if hasattr(S, "shape") else len(S)
    if solver == "dense":
        S_dense = S.toarray() if sp.issparse(S) else np.asarray(S, dtype=np.float64)
        M = np.eye(n) - alpha * S_dense
        return lambda Y0: np.linalg.solve(M, np.asarray(Y0, dtype=np.float64))
    A = (sp.eye(n, format="csr") - alpha * sp.csr_matrix(S)).tocsc()
    if solver == "direct":
        lu = splu(A)
        return lambda Y0: lu.solve(np.asarray(Y0, dtype=np.float64))

    def solve_cg(Y0: np.ndarray) -> np.ndarray:
        Y0 = np.asarray(Y0, dtype=np.float64)
        F = np.empty_like(Y0)
        for c in range(Y0.shape[1]):
            # warm start at Y0: the solution is Y0 + alpha S Y0 + ...
            F[:, c], info = cg(A, Y0[:, c], x0=Y0[:, c], rtol=tol, atol=0.0, maxiter=max_iter)
            if info > 0:
                raise RuntimeError(
                    f"conjugate gradients did not converge in max_iter={max_iter} iterations "
                    f"(class column {c}); raise max_iter or use solver='direct'."
                )
        return F

    return solve_cg
