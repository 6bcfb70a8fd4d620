"""CORrelation ALignment (CORAL)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.covariance import ledoit_wolf

from .._domain import Domain
from ..base import FeatureAdapter


def _sym_power(cov: np.ndarray, power: float) -> np.ndarray:
    """``cov ** power`` of a symmetric positive-definite matrix by eigendecomposition."""
    eigvals, eigvecs = np.linalg.eigh(cov)
    floor = max(float(eigvals.max()), 1.0) * np.finfo(cov.dtype).eps * len(cov)
    eigvals = np.clip(eigvals, floor, None)
    return (eigvecs * eigvals**power) @ eigvecs.T


def regularised_covariance(X: np.ndarray, reg: float | str) -> np.ndarray:
    """Covariance of ``X`` plus ``reg * I``, or the Ledoit–Wolf estimate for ``reg="auto"``."""
    X = np.asarray(X, dtype=np.float64)
    if isinstance(reg, str):
        if len(X) < 2:
            return np.eye(X.shape[1])
        return ledoit_wolf(X)[0]
    cov = np.cov(X, rowvar=False) if len(X) > 1 else np.zeros((X.shape[1], X.shape[1]))
    return np.atleast_2d(cov) + reg * np.eye(X.shape[1])


class CORAL(FeatureAdapter):
    r"""CORrelation ALignment: re-colour whitened source features with the target covariance.

    .. math:: \min_A \| A^\top C_S A - C_T \|_F^2,\quad
              A = (C_S + \lambda I)^{-1/2} (C_T + \lambda I)^{1/2}

    Source rows are mapped to ``X_s A``; target rows are left as they are.

    Parameters
    ----------
    reg : float or "auto", default=1.0
        :math:`\lambda` added to the diagonal of both covariances (the paper's
        choice is 1 on z-scored features). ``"auto"`` uses Ledoit–Wolf
        shrinkage instead, which adapts to the scale of the features.
    estimator : estimator, optional
        Downstream model trained on the adapted source (``predict`` then works
        on target rows).

    Attributes
    ----------
    coral_matrix_ : ndarray of shape (n_features, n_features)
        The map :math:`A`.
    source_covariance_, target_covariance_ : ndarray
        The regularised covariances.

    References
    ----------
    B. Sun, J. Feng, K. Saenko. "Return of Frustratingly Easy Domain
    Adaptation". AAAI 2016.
    """

    def __init__(self, reg: float | str = 1.0, estimator: Any = None):
        self.reg = reg
        self.estimator = estimator

    def _fit_transform_params(self, source: Domain, target: Domain) -> None:
        reg = self.reg
        if isinstance(reg, str):
            if reg != "auto":
                raise ValueError(f"reg must be a non-negative float or 'auto'; got {reg!r}.")
        elif not np.isscalar(reg) or not np.isfinite(reg) or reg < 0:
            raise ValueError(f"reg must be a non-negative float or 'auto'; got {reg!r}.")
        self.source_covariance_ = regularised_covariance(source.X, reg)
        self.target_covariance_ = regularised_covariance(target.X, reg)
        self.coral_matrix_ = _sym_power(self.source_covariance_, -0.5) @ _sym_power(
            self.target_covariance_, 0.5
        )

    def _transform(self, X: np.ndarray, domain: str) -> np.ndarray:
        if domain == "source":
            return (X @ self.coral_matrix_).astype(X.dtype, copy=False)
        return X
