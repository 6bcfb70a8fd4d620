"""Helpers shared by the instance-based strategies (kernels, devices, parameter checks)."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import torch

from ..ops import bandwidth_heuristic


def check_positive(name: str, value: Any, *, allow_zero: bool = False) -> float:
    """``value`` as a float; ``ValueError`` naming ``name`` unless > 0 (>= 0 with allow_zero)."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value)
    if ok:
        ok = value >= 0 if allow_zero else value > 0
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {bound}; got {value!r}.")
    return float(value)


def check_int(name: str, value: Any, low: int = 1) -> int:
    """``value`` as an int; ``ValueError`` naming ``name`` unless an integer >= ``low``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}; got {value!r}.")
    return int(value)


def check_grid(name: str, values: Any) -> np.ndarray:
    """A non-empty 1-D grid of positive finite floats."""
    if isinstance(values, numbers.Real) and not isinstance(values, bool):
        values = [values]
    try:
        arr = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be a sequence of positive numbers; got {values!r}."
        ) from None
    if arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(
            f"{name} must be a non-empty sequence of positive numbers; got {values!r}."
        )
    return arr


def median_bandwidth(X: np.ndarray, Y: np.ndarray, seed: int = 0) -> float:
    """Median pairwise distance of the pooled sample (subsampled, deterministic)."""
    sigma = bandwidth_heuristic(
        torch.from_numpy(np.ascontiguousarray(X, dtype=np.float64)),
        torch.from_numpy(np.ascontiguousarray(Y, dtype=np.float64)),
        method="median",
        seed=seed,
    )
    return float(sigma)


def resolve_bandwidth(bandwidth: Any, X: np.ndarray, Y: np.ndarray, seed: int = 0) -> float:
    """``"median"``/``None`` -> median heuristic; a positive number is used as is."""
    if bandwidth is None or (isinstance(bandwidth, str) and bandwidth == "median"):
        return median_bandwidth(X, Y, seed)
    if isinstance(bandwidth, str):
        raise ValueError(f"bandwidth must be 'median' or a positive number; got {bandwidth!r}.")
    return check_positive("bandwidth", bandwidth)


def gaussian_kernel(X: np.ndarray, C: np.ndarray, sigma: float) -> np.ndarray:
    """Dense Gaussian kernel ``exp(-||x - c||^2 / (2 sigma^2))`` of shape (len(X), len(C))."""
    mean = C.mean(0)
    Xc, Cc = X - mean, C - mean
    sq = (Xc * Xc).sum(1)[:, None] + (Cc * Cc).sum(1)[None, :] - 2.0 * (Xc @ Cc.T)
    np.maximum(sq, 0.0, out=sq)
    return np.exp(sq * (-0.5 / sigma**2))


def resolve_device(device: Any) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; otherwise ``torch.device(device)``."""
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(
            f"device must be 'auto', 'cpu', 'cuda' or a torch.device; got {device!r}."
        ) from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} but CUDA is not available.")
    return dev


def flatten(X: np.ndarray) -> np.ndarray:
    """2-D float64 view of the features."""
    return np.asarray(X, dtype=np.float64).reshape(len(X), -1)


def random_subset(n: int, k: int, rng: np.random.RandomState) -> np.ndarray:
    """``min(n, k)`` distinct sorted indices of ``range(n)``."""
    if k >= n:
        return np.arange(n)
    return np.sort(rng.choice(n, size=k, replace=False))


#: Default bandwidth grid of KLIEP and (Ru)LSIF: multiples of the median heuristic.
DEFAULT_MULTIPLIERS = (0.25, 0.5, 1.0, 2.0, 4.0)


def bandwidth_grid(
    bandwidths: Any, X: np.ndarray, Y: np.ndarray, rng: np.random.RandomState
) -> np.ndarray:
    """The user's ``bandwidths`` grid, or the median heuristic times :data:`DEFAULT_MULTIPLIERS`."""
    if bandwidths is None:
        return median_bandwidth(X, Y, seed=rng.randint(2**31 - 1)) * np.asarray(DEFAULT_MULTIPLIERS)
    return check_grid("bandwidths", bandwidths)
