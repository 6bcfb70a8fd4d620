"""Sparse feature matrices (``scipy.sparse``): row helpers and the densify rule.

Strategies that can work on a sparse matrix without densifying it (instance
weighting, mSDA) keep it sparse; every other strategy densifies it with a
``UserWarning`` when the dense copy has at most :data:`DENSIFY_LIMIT` values, and
refuses it with a ``ValueError`` that says what to do above that.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = ["DENSIFY_LIMIT", "check_sparse", "densify", "is_sparse", "n_rows", "vstack_rows"]

#: Largest dense copy (number of values) a strategy that needs dense input makes
#: of a sparse matrix; about 0.8 GB in float64.
DENSIFY_LIMIT = 10**8


def is_sparse(X: Any) -> bool:
    """Whether ``X`` is a SciPy sparse matrix or array (``spmatrix`` or ``sparray``)."""
    return sp.issparse(X)


def n_rows(X: Any) -> int:
    """Number of rows of an array, tensor or sparse matrix (``len`` fails on sparse)."""
    shape = getattr(X, "shape", None)
    if shape is not None and len(shape) > 0:
        return int(shape[0])
    return len(X)


def vstack_rows(parts: Sequence[Any]) -> Any:
    """Stack row blocks: a CSR matrix when any block is sparse, else a NumPy array."""
    if any(sp.issparse(p) for p in parts):
        return sp.vstack([p if sp.issparse(p) else sp.csr_matrix(p) for p in parts]).tocsr()
    return np.concatenate(parts)


def densify(X: Any, name: str, owner: str | None, *, limit: int | None = None) -> np.ndarray:
    """Dense copy of the sparse matrix ``X`` for a strategy that needs dense input.

    Parameters
    ----------
    X : scipy sparse matrix or array
    name : str
        How the argument is named in messages (``"source X"``).
    owner : str, optional
        The strategy that needs dense input (its class name).
    limit : int, optional
        Largest dense copy allowed, in values; default :data:`DENSIFY_LIMIT`.

    Returns
    -------
    ndarray of shape X.shape

    Raises
    ------
    ValueError
        The dense copy would hold more than ``limit`` values.

    Warns
    -----
    UserWarning
        Every time a copy is made, with its size and how to avoid it.
    """
    limit = DENSIFY_LIMIT if limit is None else limit
    who = owner or "This step"
    n, d = X.shape
    size = int(n) * int(d)
    dtype = X.dtype if X.dtype == np.float32 else np.float64
    mb = size * np.dtype(dtype).itemsize / 1e6
    density = X.nnz / size if size else 0.0
    desc = (
        f"{name} is a sparse {X.format.upper()} matrix of shape ({n}, {d}) "
        f"({density:.1%} non-zero)"
    )
    sparse_ok = "an instance-weighting strategy or mSDA, which keep it sparse"
    if size > limit:
        raise ValueError(
            f"{who} needs dense input, but {desc} and its dense copy would hold {size:,} "
            f"values ({mb:,.1f} MB), above the limit of {limit:,}. Reduce the dimension "
            "first, e.g. make_da_pipeline(TruncatedSVD(n_components=100), "
            f"{who}(...), LogisticRegression()), or use {sparse_ok}."
        )
    warnings.warn(
        f"{who} needs dense input: {desc}, densified to {size:,} values ({mb:,.1f} MB). "
        "To avoid the copy, reduce the dimension first (e.g. TruncatedSVD(n_components=100)) "
        f"or use {sparse_ok}; pass X.toarray() yourself to silence this warning.",
        UserWarning,
        stacklevel=4,
    )
    return X.toarray().astype(dtype, copy=False)


def check_sparse(X: Any, name: str, *, n_features: int | None = None) -> Any:
    """Validate a SciPy sparse ``X``; return it as CSR, float32 or float64."""
    if X.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D (n_samples, n_features); got a sparse array of shape {X.shape}."
        )
    if X.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} is a sparse matrix of dtype {X.dtype}; it must be numeric (bool, int or "
            "float). Convert it with X.astype(np.float64)."
        )
    n, d = X.shape
    if n == 0:
        raise ValueError(f"{name} is empty: it has 0 rows.")
    if d == 0:
        raise ValueError(f"{name} has 0 features (shape {X.shape}).")
    X = X.tocsr()
    if X.dtype != np.float32:
        X = X.astype(np.float64)
    if not np.all(np.isfinite(X.data)):
        coo = X.tocoo()
        bad_rows = len(np.unique(coo.row[~np.isfinite(coo.data)]))
        raise ValueError(
            f"{name} contains NaN or infinity in {bad_rows} of {n} rows; "
            "impute or drop them first."
        )
    if n_features is not None and d != n_features:
        raise ValueError(
            f"{name} has {d} features, but the strategy was fitted with {n_features}."
        )
    return X
