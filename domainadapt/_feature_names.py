"""Feature names of DataFrame inputs, checked as scikit-learn checks them.

A strategy fitted on a DataFrame whose column names are all strings records them
in ``feature_names_in_``; later calls must pass the same columns in the same
order, or arrays (with scikit-learn's warning). The public names are re-exported
by :mod:`domainadapt.validation`.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import numpy as np
import scipy.sparse as sp

from ._domain import Domain

__all__ = [
    "check_feature_names",
    "feature_names_checked",
    "fit_feature_names",
    "get_feature_names",
]


#: True while a caller passes rows whose feature names it has already checked.
_NAMES_CHECKED: ContextVar[bool] = ContextVar("domainadapt_names_checked", default=False)


@contextmanager
def feature_names_checked() -> Iterator[None]:
    """Skip :func:`check_feature_names` inside the block.

    For a method that has checked the names of its input and then calls another
    public method with the validated NumPy rows (``score`` calling ``predict``):
    those rows have no names, and must not trigger the "fitted with feature names"
    warning a second time. A context variable, so threads do not interfere.
    """
    token = _NAMES_CHECKED.set(True)
    try:
        yield
    finally:
        _NAMES_CHECKED.reset(token)


def get_feature_names(X: Any, name: str = "X") -> np.ndarray | None:
    """Column names of a DataFrame whose column names are all strings, as scikit-learn.

    Parameters
    ----------
    X : array-like
        Any input; only objects with ``columns`` (pandas, polars) have names.
    name : str
        How the argument is named in error messages.

    Returns
    -------
    ndarray of object or None
        ``None`` for arrays, tensors, sparse matrices and DataFrames whose column
        names are not strings (e.g. the default ``RangeIndex``).

    Raises
    ------
    TypeError
        Some column names are strings and others are not.
    """
    if isinstance(X, np.ndarray) or sp.issparse(X):
        return None
    columns = getattr(X, "columns", None)
    if columns is None or not hasattr(X, "shape"):
        return None
    names = np.asarray(list(columns), dtype=object)
    is_str = np.array([isinstance(c, str) for c in names], dtype=bool)
    if len(names) == 0 or not is_str.any():
        return None
    if not is_str.all():
        types = sorted({type(c).__name__ for c in names})
        raise TypeError(
            f"{name} has column names of several types {types}; feature names are only "
            "supported when every column name is a string. Convert them first: "
            "X.columns = X.columns.astype(str)."
        )
    return names


def _name_difference(ref: np.ndarray, new: np.ndarray, ref_label: str, new_label: str) -> str:
    """Say how the column names ``new`` differ from ``ref`` (both sequences of str)."""
    only_new = [c for c in new if c not in set(ref)]
    only_ref = [c for c in ref if c not in set(new)]
    parts = []
    if only_new:
        parts.append(f"columns only in {new_label}: {_short(only_new)}")
    if only_ref:
        parts.append(f"columns only in {ref_label}: {_short(only_ref)}")
    if not parts:  # same set of names, another order
        pos = next(i for i, (a, b) in enumerate(zip(ref, new)) if a != b)
        parts.append(
            f"the same columns in another order (column {pos} is {ref[pos]!r} in {ref_label} "
            f"but {new[pos]!r} in {new_label}); feature names must be in the same order"
        )
    return "; ".join(parts)


def _short(names: list[Any], k: int = 5) -> str:
    shown = ", ".join(repr(c) for c in names[:k])
    return f"[{shown}{', ...' if len(names) > k else ''}] ({len(names)})"


def check_feature_names(X: Any, fitted_names: np.ndarray | None, *, owner: str,
                        name: str = "X") -> None:
    """Compare the column names of ``X`` with those seen in ``fit``, as scikit-learn.

    Parameters
    ----------
    X : array-like
        Rows passed to ``predict``/``transform``/``score``.
    fitted_names : ndarray or None
        ``feature_names_in_`` of the fitted strategy (``None`` when it was fitted
        without names).
    owner : str
        The strategy, for messages.
    name : str
        How the argument is named in messages.

    Raises
    ------
    ValueError
        ``X`` has other column names than in ``fit``, or the same in another order
        (the columns would be silently mismatched).

    Warns
    -----
    UserWarning
        ``X`` has no names but the strategy was fitted with names, or the reverse
        (scikit-learn's messages).
    """
    if _NAMES_CHECKED.get():
        return
    names = get_feature_names(X, name)
    if names is None and fitted_names is None:
        return
    if fitted_names is None:
        warnings.warn(
            f"{name} has feature names, but {owner} was fitted without feature names",
            UserWarning,
            stacklevel=4,
        )
        return
    if names is None:
        warnings.warn(
            f"{name} does not have valid feature names, but {owner} was fitted with "
            "feature names",
            UserWarning,
            stacklevel=4,
        )
        return
    if len(names) != len(fitted_names) or np.any(names != fitted_names):
        raise ValueError(
            f"The feature names should match those that were passed during fit: {name} "
            f"differs from what {owner} was fitted with: "
            f"{_name_difference(fitted_names, names, 'fit', name)}. Select the fitted "
            "columns in their order first: X[model.feature_names_in_]."
        )


def _raw_X(obj: Any) -> Any:
    """The ``X`` of a Domain, a tuple ``(X, y[, w])`` or a bare array (unvalidated)."""
    if isinstance(obj, Domain):
        return obj.X
    if isinstance(obj, tuple):
        return obj[0] if obj else None
    return obj


def fit_feature_names(source: Any, target: Any, sample_domain: Any = None) -> np.ndarray | None:
    """The feature names a strategy is fitted with (``feature_names_in_``), or None.

    Parameters
    ----------
    source, target, sample_domain
        The arguments of ``fit``: ``fit(source, target)`` or the stacked
        ``fit(X, y, sample_domain=...)``.

    Returns
    -------
    ndarray of object or None
        The string column names of the DataFrame(s); in the ``(source, target)``
        form, those of whichever of the two has names.

    Raises
    ------
    ValueError
        Source X and target X are both DataFrames with other column names, or the
        same names in another order.
    """
    if sample_domain is not None:
        return get_feature_names(source, "X")
    src = get_feature_names(_raw_X(source), "source X")
    tgt = get_feature_names(_raw_X(target), "target X") if target is not None else None
    if src is not None and tgt is not None and (
        len(src) != len(tgt) or np.any(src != tgt)
    ):
        raise ValueError(
            "source X and target X have different feature names: "
            f"{_name_difference(src, tgt, 'source X', 'target X')}. Give both the same "
            "columns in the same order, e.g. target_X = target_X[source_X.columns]."
        )
    return src if src is not None else tgt
