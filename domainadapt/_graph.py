"""k-nearest-neighbour graphs and their normalised Laplacian, shared by the families.

:class:`~domainadapt.feature.MEDA` regularises its classifier with the Laplacian of a
cosine k-NN graph over the pooled rows (the manifold term of Belkin, Niyogi and
Sindhwani's manifold regularisation); the normalisation is the one label spreading
uses (:func:`~domainadapt._solvers.symmetric_normalize`).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.neighbors import NearestNeighbors

from ._solvers import symmetric_normalize

__all__ = ["cosine_knn_graph", "normalized_laplacian"]


def _unit_rows(X: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.where(norms > 0, norms, 1.0)


def cosine_knn_graph(X: np.ndarray, n_neighbors: int) -> sp.csr_matrix:
    r"""Symmetric k-NN graph of the rows of ``X`` weighted by cosine similarity.

    Row ``i`` is linked to its ``n_neighbors`` most cosine-similar rows and to itself
    (weight 1); the edge weight is :math:`\cos(x_i, x_j)`, negative weights are
    dropped, and the graph is symmetrised by the larger of the two directions,
    :math:`W = \max(W, W^\top)` (an edge exists when either row lists the other).

    Parameters
    ----------
    X : ndarray of shape (n, d)
    n_neighbors : int
        Neighbours per row besides the row itself; clipped to ``n - 1``.

    Returns
    -------
    scipy.sparse.csr_matrix of shape (n, n)
        Non-negative and symmetric, unit diagonal for non-zero rows.
    """
    X = np.asarray(X, dtype=np.float64)
    n = len(X)
    k = int(min(max(n_neighbors, 0), n - 1)) + 1  # the row itself first
    U = _unit_rows(X)
    # on unit rows, Euclidean order is cosine order: |u - v|^2 = 2 - 2 cos
    dist, ind = NearestNeighbors(n_neighbors=k).fit(U).kneighbors(U)
    weights = np.clip(1.0 - 0.5 * dist**2, 0.0, 1.0)
    W = sp.csr_matrix((weights.ravel(), ind.ravel(), np.arange(0, n * k + 1, k)), shape=(n, n))
    W = W.maximum(W.T).tocsr()
    W.eliminate_zeros()
    return W


def normalized_laplacian(W: sp.spmatrix | np.ndarray) -> sp.csr_matrix:
    r"""Normalised graph Laplacian :math:`L = I - D^{-1/2} W D^{-1/2}`.

    Parameters
    ----------
    W : sparse or dense array of shape (n, n)
        Non-negative symmetric affinities, e.g. :func:`cosine_knn_graph`.

    Returns
    -------
    scipy.sparse.csr_matrix of shape (n, n)
        Symmetric positive semi-definite; ``L @ D^{1/2} 1 = 0``. Isolated nodes
        (zero degree) keep a 1 on the diagonal.
    """
    n = W.shape[0]
    return (sp.identity(n, format="csr") - symmetric_normalize(W)).tocsr()
