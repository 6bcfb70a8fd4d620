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


def resolve_device(device: Any, *, owner: str | None = None, name: str = "device") -> torch.device:
    """Turn a ``device`` parameter into a :class:`torch.device`.

    Parameters
    ----------
    device : str or torch.device
        ``"auto"`` (CUDA when available, else CPU) or anything :class:`torch.device`
        accepts (``"cpu"``, ``"cuda"``, ``"cuda:1"``, a ``torch.device``).
    owner : str, optional
        Name of the estimator or function the parameter belongs to, for the error
        messages.
    name : str, default="device"
        Name of the parameter, for the error messages.

    Returns
    -------
    torch.device

    Raises
    ------
    ValueError
        If ``device`` is not a device, or names CUDA (or a CUDA index) that this
        machine does not have. The message names the parameter, why it was refused
        and what to pass instead.
    """
    import torch

    where = f"{owner}: " if owner else ""
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(
            f"{where}{name} must be 'auto', 'cpu', 'cuda', 'cuda:<index>' or a torch.device; "
            f"got {device!r}. Pass {name}='auto' to use CUDA when it is available and the CPU "
            "otherwise."
        ) from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"{where}{name}={device!r} asks for a GPU, but CUDA is not available "
                "(torch.cuda.is_available() is False: no GPU or driver, or a CPU-only torch "
                f"build). Pass {name}='cpu', or {name}='auto' to use CUDA only when present."
            )
        count = torch.cuda.device_count()
        if dev.index is not None and dev.index >= count:
            raise ValueError(
                f"{where}{name}={device!r} names CUDA device {dev.index}, but this machine has "
                f"{count} (indices 0-{count - 1}). Pass {name}='cuda' for the current device."
            )
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
