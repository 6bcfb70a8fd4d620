"""Gaussian-kernel helpers shared by the families: bandwidths and kernel matrices.

Used by the instance weighting strategies (KMM, KLIEP, (Ru)LSIF) and by TCA. Sits
below ``base`` and the families; it builds on :func:`..ops.bandwidth_heuristic`.
:func:`gaussian_kernel` works on NumPy arrays, :func:`gaussian_kernel_tensor` is the
same formula on torch tensors of any device (TCA's Nyström path on a GPU).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ._utils import check_grid, check_positive
from .ops import bandwidth_heuristic
from .ops.kernels import pairwise_sq_dists

__all__ = [
    "DEFAULT_MULTIPLIERS",
    "bandwidth_grid",
    "gaussian_kernel",
    "gaussian_kernel_tensor",
    "median_bandwidth",
    "resolve_bandwidth",
]

#: Default bandwidth grid of KLIEP and (Ru)LSIF: multiples of the median heuristic.
DEFAULT_MULTIPLIERS = (0.25, 0.5, 1.0, 2.0, 4.0)


def median_bandwidth(X: np.ndarray, Y: np.ndarray, seed: int = 0) -> float:
    """Median pairwise distance of the pooled sample (subsampled, deterministic).

    Parameters
    ----------
    X, Y : ndarray of shape (n_x, n_features) and (n_y, n_features)
        The two samples, pooled.
    seed : int, default=0
        Seed of the subsample used on large inputs.

    Returns
    -------
    float
        The median heuristic bandwidth.
    """
    sigma = bandwidth_heuristic(
        torch.from_numpy(np.ascontiguousarray(X, dtype=np.float64)),
        torch.from_numpy(np.ascontiguousarray(Y, dtype=np.float64)),
        method="median",
        seed=seed,
    )
    return float(sigma)


def resolve_bandwidth(bandwidth: Any, X: np.ndarray, Y: np.ndarray, seed: int = 0) -> float:
    """Turn a ``bandwidth`` parameter into a number.

    Parameters
    ----------
    bandwidth : "median", None or float
        ``"median"``/``None`` use :func:`median_bandwidth`; a positive number is
        used as is.
    X, Y : ndarray
        Samples the median heuristic is computed on.
    seed : int, default=0
        Seed of the median heuristic's subsample.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``bandwidth`` is another string or not a positive number.
    """
    if bandwidth is None or (isinstance(bandwidth, str) and bandwidth == "median"):
        return median_bandwidth(X, Y, seed)
    if isinstance(bandwidth, str):
        raise ValueError(f"bandwidth must be 'median' or a positive number; got {bandwidth!r}.")
    return check_positive("bandwidth", bandwidth)


def gaussian_kernel(X: np.ndarray, C: np.ndarray, sigma: float) -> np.ndarray:
    """Dense Gaussian kernel ``exp(-||x - c||^2 / (2 sigma^2))``.

    Parameters
    ----------
    X : ndarray of shape (n_x, n_features)
    C : ndarray of shape (n_c, n_features)
        Centres.
    sigma : float
        Bandwidth.

    Returns
    -------
    ndarray of shape (n_x, n_c)
    """
    mean = C.mean(0)
    Xc, Cc = X - mean, C - mean
    sq = (Xc * Xc).sum(1)[:, None] + (Cc * Cc).sum(1)[None, :] - 2.0 * (Xc @ Cc.T)
    np.maximum(sq, 0.0, out=sq)
    return np.exp(sq * (-0.5 / sigma**2))


def gaussian_kernel_tensor(X: torch.Tensor, C: torch.Tensor, sigma: float) -> torch.Tensor:
    """:func:`gaussian_kernel` on torch tensors (the squared distances of
    :func:`~domainadapt.ops.kernels.pairwise_sq_dists`, centred and clamped at 0).

    Parameters
    ----------
    X : Tensor of shape (n_x, n_features)
    C : Tensor of shape (n_c, n_features)
        Centres, on the device and of the dtype of ``X``.
    sigma : float
        Bandwidth.

    Returns
    -------
    Tensor of shape (n_x, n_c)
        On the device and of the dtype of ``X``.
    """
    return torch.exp(pairwise_sq_dists(X, C) * (-0.5 / float(sigma) ** 2))


def bandwidth_grid(
    bandwidths: Any, X: np.ndarray, Y: np.ndarray, rng: np.random.RandomState
) -> np.ndarray:
    """The bandwidth grid a cross-validated estimator searches.

    Parameters
    ----------
    bandwidths : sequence of float or None
        The user's grid; ``None`` gives the median heuristic times
        :data:`DEFAULT_MULTIPLIERS`.
    X, Y : ndarray
        Samples the median heuristic is computed on.
    rng : numpy.random.RandomState
        Draws the median heuristic's seed.

    Returns
    -------
    ndarray of shape (n_bandwidths,)
    """
    if bandwidths is None:
        return median_bandwidth(X, Y, seed=rng.randint(2**31 - 1)) * np.asarray(DEFAULT_MULTIPLIERS)
    return check_grid("bandwidths", bandwidths)
