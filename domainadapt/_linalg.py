"""Covariance helpers and the CORAL whitening-colouring map, shared by the families.

:class:`~domainadapt.feature.CORAL` fits its map with :func:`coral_map`, and
:class:`~domainadapt.relation.LabelPropagation` (``align="coral"``) uses the same
map, so the relation family need not import the feature family.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from sklearn.covariance import ledoit_wolf

__all__ = [
    "RIDGES",
    "CoralMap",
    "coral_map",
    "pooled_std",
    "regularised_covariance",
    "standardised_covariance",
    "sym_power",
]

#: The ridge forms of :func:`coral_map`.
RIDGES = ("feature", "average")


def sym_power(cov: np.ndarray, power: float) -> np.ndarray:
    """Power of a symmetric positive-definite matrix by eigendecomposition.

    Parameters
    ----------
    cov : ndarray of shape (d, d)
        Symmetric matrix; eigenvalues below a relative floor are raised to it.
    power : float
        Exponent, e.g. ``-0.5`` (whitening) or ``0.5`` (colouring).

    Returns
    -------
    ndarray of shape (d, d)
        ``cov ** power``.
    """
    eigvals, eigvecs = np.linalg.eigh(cov)
    floor = max(float(eigvals.max()), 1.0) * np.finfo(cov.dtype).eps * len(cov)
    eigvals = np.clip(eigvals, floor, None)
    return (eigvecs * eigvals**power) @ eigvecs.T


def regularised_covariance(X: np.ndarray, reg: float | str) -> np.ndarray:
    """Covariance of ``X`` plus a ridge relative to the average feature variance.

    Parameters
    ----------
    X : ndarray of shape (n_samples, d)
    reg : float or "auto"
        Adds ``reg * mean(diag(cov)) * I``; ``"auto"`` is Ledoit–Wolf shrinkage.

    Returns
    -------
    ndarray of shape (d, d)
    """
    X = np.asarray(X, dtype=np.float64)
    d = X.shape[1]
    if isinstance(reg, str):
        return ledoit_wolf(X)[0] if len(X) > 1 else np.eye(d)
    cov = np.atleast_2d(np.cov(X, rowvar=False)) if len(X) > 1 else np.zeros((d, d))
    scale = float(np.trace(cov)) / d
    if scale <= 0:  # a constant domain: fall back to an absolute ridge
        scale = 1.0
    return cov + reg * scale * np.eye(d)


def pooled_std(X_source: np.ndarray, X_target: np.ndarray) -> np.ndarray:
    r"""Within-domain pooled standard deviation of every feature.

    .. math:: \sigma_j^2 = \frac{\sum_{i \in S} (x_{ij} - \mu^S_j)^2
              + \sum_{i \in T} (x_{ij} - \mu^T_j)^2}{n_S + n_T - 2}

    Parameters
    ----------
    X_source, X_target : ndarray of shape (n_source, d) and (n_target, d)

    Returns
    -------
    ndarray of shape (d,)
        Equal to 1 for a feature z-scored (``ddof=1``) in each domain; features
        constant in both domains get 1.
    """
    Xs = np.asarray(X_source, dtype=np.float64)
    Xt = np.asarray(X_target, dtype=np.float64)
    ss = ((Xs - Xs.mean(axis=0)) ** 2).sum(axis=0) + ((Xt - Xt.mean(axis=0)) ** 2).sum(axis=0)
    std = np.sqrt(ss / max(len(Xs) + len(Xt) - 2, 1))
    magnitude = np.maximum(1.0, np.maximum(np.abs(Xs).max(axis=0), np.abs(Xt).max(axis=0)))
    std[std <= np.finfo(np.float64).eps * magnitude] = 1.0
    return std


def standardised_covariance(X: np.ndarray, std: np.ndarray, reg: float | str) -> np.ndarray:
    """Covariance of ``X / std`` plus ``reg * I``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, d)
    std : ndarray of shape (d,)
        Per-feature scale, e.g. :func:`pooled_std`.
    reg : float or "auto"
        Ridge; ``"auto"`` is Ledoit–Wolf shrinkage.

    Returns
    -------
    ndarray of shape (d, d)
    """
    Z = np.asarray(X, dtype=np.float64) / std
    d = Z.shape[1]
    if isinstance(reg, str):
        return ledoit_wolf(Z)[0] if len(Z) > 1 else np.eye(d)
    cov = np.atleast_2d(np.cov(Z, rowvar=False)) if len(Z) > 1 else np.zeros((d, d))
    cov.flat[:: d + 1] += reg
    return cov


@dataclasses.dataclass(frozen=True)
class CoralMap:
    """The fitted CORAL map :math:`A` and the covariances it aligns.

    Attributes
    ----------
    matrix : ndarray of shape (d, d)
        :math:`A`, applied to (centred) source rows as ``x @ A``.
    scale : ndarray of shape (d,)
        The per-feature scale :math:`\\mathrm{diag}(D)` (ones with ``ridge="average"``).
    source_covariance, target_covariance : ndarray of shape (d, d)
        The regularised covariances; :math:`A^\\top C_S A = C_T` holds for them.
    """

    matrix: np.ndarray
    scale: np.ndarray
    source_covariance: np.ndarray
    target_covariance: np.ndarray


def coral_map(
    X_source: np.ndarray, X_target: np.ndarray, reg: float | str = 1.0, ridge: str = "feature"
) -> CoralMap:
    r"""Whitening-colouring map of CORAL: :math:`A^\top C_S A = C_T`.

    .. math:: A = D^{-1} (D^{-1} C_S D^{-1} + \lambda I)^{-1/2}
              (D^{-1} C_T D^{-1} + \lambda I)^{1/2} D

    with :math:`D` the pooled standard deviations (``ridge="feature"``), or
    :math:`A = (C_S + \lambda \bar\sigma^2 I)^{-1/2} (C_T + \lambda \bar\sigma^2 I)^{1/2}`
    (``ridge="average"``). See :class:`~domainadapt.feature.CORAL`.

    Parameters
    ----------
    X_source, X_target : ndarray of shape (n_source, d) and (n_target, d)
    reg : float or "auto", default=1.0
        Ridge :math:`\lambda \ge 0`; ``"auto"`` is Ledoit–Wolf shrinkage.
    ridge : {"feature", "average"}, default="feature"

    Returns
    -------
    CoralMap

    Raises
    ------
    ValueError
        On a negative or non-finite ``reg`` or an unknown ``ridge``.
    """
    if isinstance(reg, str):
        if reg != "auto":
            raise ValueError(f"reg must be a non-negative float or 'auto'; got {reg!r}.")
    elif not np.isscalar(reg) or not np.isfinite(reg) or reg < 0:
        raise ValueError(f"reg must be a non-negative float or 'auto'; got {reg!r}.")
    if not isinstance(ridge, str) or ridge not in RIDGES:
        raise ValueError(f"ridge must be one of {RIDGES}; got {ridge!r}.")
    if ridge == "average":
        cov_s = regularised_covariance(X_source, reg)
        cov_t = regularised_covariance(X_target, reg)
        matrix = sym_power(cov_s, -0.5) @ sym_power(cov_t, 0.5)
        return CoralMap(matrix, np.ones(np.shape(X_source)[1]), cov_s, cov_t)
    std = pooled_std(X_source, X_target)
    cov_s = standardised_covariance(X_source, std, reg)
    cov_t = standardised_covariance(X_target, std, reg)
    core = sym_power(cov_s, -0.5) @ sym_power(cov_t, 0.5)
    scale_outer = np.outer(std, std)
    return CoralMap(
        core / std[:, None] * std[None, :], std, cov_s * scale_outer, cov_t * scale_outer
    )
