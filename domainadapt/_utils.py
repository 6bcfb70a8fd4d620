"""Generic helpers shared by every family: parameter checks, devices, array shapes.

This module sits below ``base`` and the four families (``instance``, ``feature``,
``model``, ``relation``) and imports nothing from the package, so any layer may use it.
"""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.utils._param_validation import Interval as _SklearnInterval

if TYPE_CHECKING:  # torch is imported by the functions that need it: `import domainadapt`
    import torch  # stays light for the shallow strategies

__all__ = [
    "Interval",
    "check_grid",
    "check_positive",
    "flatten",
    "random_subset",
    "resolve_device",
]


class Interval(_SklearnInterval):
    """scikit-learn's ``Interval`` parameter constraint, refusing booleans.

    Python counts ``True`` as the integer 1, so scikit-learn's constraint accepts it;
    a flag where a number is expected is a mistake, refused as it always was here.
    Use it in ``_parameter_constraints`` exactly as scikit-learn's.
    """

    def is_satisfied_by(self, val: Any) -> bool:
        return not isinstance(val, (bool, np.bool_)) and super().is_satisfied_by(val)


def check_positive(name: str, value: Any, *, allow_zero: bool = False) -> float:
    """Check that a parameter is a finite positive number.

    Parameters
    ----------
    name : str
        Parameter name, quoted in the error message.
    value : Any
        The value to check.
    allow_zero : bool, default=False
        Accept ``0`` as well.

    Returns
    -------
    float
        ``value`` as a float.

    Raises
    ------
    ValueError
        Unless ``value`` is a finite real > 0 (>= 0 with ``allow_zero``).
    """
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value)
    if ok:
        ok = value >= 0 if allow_zero else value > 0
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {bound}; got {value!r}.")
    return float(value)


def check_grid(name: str, values: Any) -> np.ndarray:
    """Check a grid of candidate values (bandwidths, regularisations...).

    Parameters
    ----------
    name : str
        Parameter name, quoted in the error message.
    values : float or sequence of float
        One positive number or a sequence of them.

    Returns
    -------
    ndarray of shape (n_values,)
        The grid as a non-empty 1-D float64 array.

    Raises
    ------
    ValueError
        If the grid is empty or holds a non-finite or non-positive value.
    """
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


def resolve_device(device: Any) -> torch.device:
    """Turn a ``device`` parameter into a :class:`torch.device`.

    Parameters
    ----------
    device : str or torch.device
        ``"auto"`` (CUDA when available, else CPU) or anything :class:`torch.device`
        accepts.

    Returns
    -------
    torch.device

    Raises
    ------
    ValueError
        If ``device`` is not a device, or names CUDA while CUDA is unavailable.
    """
    import torch

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
    """Features as a 2-D float64 array of shape (n_samples, n_features).

    Parameters
    ----------
    X : array-like of shape (n_samples, ...)

    Returns
    -------
    ndarray of shape (n_samples, prod(X.shape[1:]))
    """
    return np.asarray(X, dtype=np.float64).reshape(len(X), -1)


def random_subset(n: int, k: int, rng: np.random.RandomState) -> np.ndarray:
    """Draw ``min(n, k)`` distinct indices of ``range(n)``.

    Parameters
    ----------
    n : int
        Size of the population.
    k : int
        Number of indices wanted.
    rng : numpy.random.RandomState
        Source of randomness (unused when ``k >= n``).

    Returns
    -------
    ndarray of int
        Sorted indices; all of ``range(n)`` when ``k >= n``.
    """
    if k >= n:
        return np.arange(n)
    return np.sort(rng.choice(n, size=k, replace=False))
