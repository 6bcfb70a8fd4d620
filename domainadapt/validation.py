"""Input validation shared by every strategy.

Every public ``fit``/``transform``/``predict`` goes through these functions, so a
user always gets a ``ValueError`` or ``TypeError`` that names the argument and
the problem, never a bare error from deep inside NumPy, scikit-learn or torch.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.utils.multiclass import type_of_target

from ._domain import (
    SAMPLE_DOMAIN_VALUES,
    SOURCE,
    TARGET,
    TARGET_LABELLED,
    UNLABELLED,
    Domain,
    _to_numpy,
)
from ._sparse import densify, n_rows, vstack_rows

__all__ = [
    "check_features",
    "check_feature_names",
    "feature_names_checked",
    "fit_feature_names",
    "get_feature_names",
    "check_domain",
    "check_source_target",
    "check_sample_domain",
    "split_sample_domain",
    "stack_domains",
    "target_rows_to_score",
]


def check_features(
    X: Any,
    name: str = "X",
    *,
    allow_nd: bool = False,
    n_features: int | None = None,
    accept_sparse: bool = False,
    owner: str | None = None,
) -> Any:
    """Validate a feature array and return it as a floating NumPy array (or CSR matrix).

    Parameters
    ----------
    X : array-like or scipy sparse matrix
        NumPy array, torch tensor, pandas DataFrame, nested list, or a
        ``scipy.sparse`` matrix/array (CSR, CSC, COO ...).
    name : str
        How the argument is named in error messages (``"source X"``).
    allow_nd : bool
        Accept more than two dimensions (images for deep strategies).
    n_features : int, optional
        Expected number of features (columns), e.g. from ``fit``.
    accept_sparse : bool
        Return a sparse ``X`` as a CSR matrix (the caller works on it). Otherwise a
        sparse ``X`` is densified with a ``UserWarning``, or refused with a
        ``ValueError`` when the dense copy would exceed
        :data:`domainadapt._sparse.DENSIFY_LIMIT` values.
    owner : str, optional
        The strategy that validates ``X``, named in the densify warning and error.

    Returns
    -------
    ndarray or scipy.sparse CSR matrix
        ``float32`` inputs stay ``float32``; everything else becomes ``float64``.
    """
    if X is None:
        raise ValueError(f"{name} is None; expected an array of shape (n_samples, n_features).")
    if sp.issparse(X):
        X = _check_sparse(X, name, n_features=n_features)
        if accept_sparse:
            return X
        X = densify(X, name, owner)
    try:
        arr = _to_numpy(X)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{name} could not be read as an array: {exc}") from None
    if arr.dtype == object or arr.dtype.kind in "USVMm":
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            raise TypeError(
                f"{name} must be numeric; got dtype {arr.dtype}. Encode categorical or text "
                "columns first (e.g. OneHotEncoder)."
            ) from None
    if arr.dtype.kind == "b":
        arr = arr.astype(np.float64)
    if arr.dtype.kind == "c":
        raise TypeError(f"{name} must be real-valued; got complex dtype {arr.dtype}.")
    if arr.ndim < 2:
        raise ValueError(
            f"{name} must be 2-D (n_samples, n_features); got shape {arr.shape}. "
            "Use X.reshape(-1, 1) for a single feature or X.reshape(1, -1) for a single sample."
        )
    if arr.ndim > 2 and not allow_nd:
        raise ValueError(
            f"{name} must be 2-D (n_samples, n_features); got shape {arr.shape}. "
            "Flatten it first (X.reshape(len(X), -1))."
        )
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty: it has 0 rows.")
    if int(np.prod(arr.shape[1:])) == 0:
        raise ValueError(f"{name} has 0 features (shape {arr.shape}).")
    if arr.dtype != np.float32:
        arr = arr.astype(np.float64, copy=False)
    finite = np.isfinite(arr)
    if not finite.all():
        bad_rows = int((~finite.reshape(len(arr), -1)).any(axis=1).sum())
        raise ValueError(
            f"{name} contains NaN or infinity in {bad_rows} of {len(arr)} rows; "
            "impute or drop them first."
        )
    if n_features is not None and arr.ndim == 2 and arr.shape[1] != n_features:
        raise ValueError(
            f"{name} has {arr.shape[1]} features, but the strategy was fitted with {n_features}."
        )
    return arr


def _check_sparse(X: Any, name: str, *, n_features: int | None = None) -> Any:
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


# ------------------------------------------------------------------ feature names
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


def _check_weights(w: Any, n: int, name: str) -> np.ndarray | None:
    if w is None:
        return None
    try:
        w = _to_numpy(w).astype(np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be numeric.") from None
    if len(w) != n:
        raise ValueError(f"{name} has {len(w)} entries but X has {n} rows.")
    if not np.all(np.isfinite(w)):
        raise ValueError(f"{name} contains NaN or infinity.")
    if np.any(w < 0):
        raise ValueError(f"{name} must be non-negative; got min {w.min():.3g}.")
    if not np.any(w > 0):
        raise ValueError(f"{name} is all zeros.")
    return w


def _as_domain(obj: Any, name: str) -> Domain:
    if isinstance(obj, Domain):
        return obj
    if isinstance(obj, tuple):
        if len(obj) == 2:
            return Domain(obj[0], obj[1], name=name)
        if len(obj) == 3:
            return Domain(obj[0], obj[1], sample_weight=obj[2], name=name)
        raise ValueError(
            f"{name} as a tuple must be (X, y) or (X, y, sample_weight); got {len(obj)} items."
        )
    return Domain(obj, name=name)


#: String labels that mark an unlabelled target row (with None and NaN).
_STRING_MARKERS = ("-1", "", "nan", "NaN", "None")


def _is_marker(value: Any) -> bool:
    """None, NaN, -1 or a marker string: an unlabelled row among string class labels."""
    if value is None:
        return True
    if isinstance(value, (float, np.floating)):
        return bool(np.isnan(value)) or value == -1
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return value == -1
    return isinstance(value, str) and value in _STRING_MARKERS


def check_domain(
    domain: Any,
    name: str,
    *,
    require_labels: bool = False,
    allow_nd: bool = False,
    accept_sparse: bool = False,
    owner: str | None = None,
) -> Domain:
    """Validate one domain and return a new :class:`Domain` of NumPy arrays.

    Parameters
    ----------
    domain : Domain, tuple or array-like
        ``Domain``, ``(X, y)``, ``(X, y, sample_weight)`` or a bare ``X``.
    name : str
        ``"source"`` or ``"target"``: used in every error message.
    require_labels : bool
        Every row must be labelled (the source domain); the labels must not
        contain NaN and, for classification, must hold at least two classes.
    allow_nd : bool
        Accept image-shaped ``X``.
    accept_sparse : bool
        Keep a sparse ``X`` sparse (CSR); otherwise densify it (see :func:`check_features`).
    owner : str, optional
        The strategy, named in the densify warning.

    Returns
    -------
    Domain
        With ``X`` a float array (or CSR matrix), ``y`` an array or ``None``, ``sample_weight``
        float64 or ``None`` and ``labelled`` an explicit boolean mask (or ``None``
        when there are no labels).
    """
    dom = _as_domain(domain, name)
    X = check_features(
        dom.X, f"{name} X", allow_nd=allow_nd, accept_sparse=accept_sparse, owner=owner
    )
    n = n_rows(X)
    y = None
    labelled = None
    if dom.y is not None:
        try:
            y = _to_numpy(dom.y)
        except Exception as exc:
            raise TypeError(f"{name} y could not be read as an array: {exc}") from None
        if y.ndim == 2 and y.shape[1] == 1:
            y = y.ravel()
        if y.ndim != 1:
            raise ValueError(f"{name} y must be 1-D (n_samples,); got shape {y.shape}.")
        if len(y) != n:
            raise ValueError(f"{name} y has {len(y)} labels but {name} X has {n} rows.")
        markers = None  # rows whose label is a missing-label marker, for string labels
        if y.dtype == object:
            is_none = np.array([v is None for v in y], dtype=bool)
            try:
                y = np.where(is_none, np.nan, y).astype(np.float64)
            except (TypeError, ValueError):
                markers = is_none | np.array([_is_marker(v) for v in y], dtype=bool)
                y = y.astype(str)
        elif y.dtype.kind in "US":
            y = y.astype(str)
            markers = np.isin(y, _STRING_MARKERS)
        if markers is not None and require_labels:  # "-1" may be a source class name
            markers &= y != "-1"
        if markers is not None and markers.any():
            if require_labels:
                raise ValueError(
                    f"{name} y has {int(markers.sum())} missing labels (None, NaN or an empty "
                    f"string) among string class labels, e.g. in row "
                    f"{int(np.flatnonzero(markers)[0])}; the source must be fully labelled."
                )
            if dom.labelled is None:
                dom = Domain(dom.X, y, dom.sample_weight, dom.name, labelled=~markers)
                if not markers.all():
                    y = np.where(markers, y[~markers][0], y)
        if require_labels:
            if dom.labelled is not None and not np.all(np.asarray(dom.labelled, dtype=bool)):
                raise ValueError(f"{name} must be fully labelled; its labelled mask has gaps.")
            if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
                raise ValueError(f"{name} y contains NaN or infinity; the source must be labelled.")
            labelled = np.ones(n, dtype=bool)
        else:
            if dom.labelled is not None:
                labelled = np.asarray(dom.labelled, dtype=bool).reshape(-1)
                if len(labelled) != n:
                    raise ValueError(
                        f"{name} labelled mask has {len(labelled)} entries but {name} X has {n} rows."
                    )
            else:
                labelled = Domain(X, y).label_mask()
            if y.dtype.kind == "f" and not np.all(np.isfinite(y[labelled])):
                raise ValueError(f"{name} y contains infinity in labelled rows.")
            if not labelled.any():
                y, labelled = None, None
    if require_labels:
        if y is None:
            raise ValueError(
                f"{name} must be labelled: pass a tuple (X, y) or Domain(X, y=...); "
                "to fit on stacked rows instead, pass sample_domain=."
            )
        kind = type_of_target(y)
        if kind in ("binary", "multiclass") and len(np.unique(y)) < 2:
            raise ValueError(
                f"{name} y has a single class ({np.unique(y)[0]!r}); a classifier needs at "
                "least two classes in the source domain."
            )
    weights = _check_weights(dom.sample_weight, n, f"{name} sample_weight")
    return Domain(X, y, sample_weight=weights, name=dom.name or name, labelled=labelled)


def check_source_target(
    source: Any,
    target: Any,
    *,
    allow_nd: bool = False,
    accept_sparse: bool = False,
    owner: str | None = None,
) -> tuple[Domain, Domain]:
    """Validate the ``fit(source, target)`` form.

    Returns validated ``(source, target)`` domains with matching feature shapes.
    Source and target DataFrames must have the same column names in the same order
    (:func:`fit_feature_names`). ``accept_sparse`` and ``owner`` are passed to
    :func:`check_features`.
    """
    if target is None:
        raise ValueError(
            "target is missing: fit(source, target) needs target data (an array X, "
            "(X, y) with -1 for unlabelled rows, or a Domain); to fit on stacked rows, "
            "pass sample_domain=."
        )
    if not isinstance(source, (Domain, tuple)):
        raise ValueError(
            "source must be labelled: pass a tuple (X, y) or Domain(X, y=...). "
            "To fit on stacked source and target rows (scikit-learn style), call "
            "fit(X, y, sample_domain=sample_domain)."
        )
    fit_feature_names(source, target)  # same columns in the same order, or ValueError
    sparse_kw = {"accept_sparse": accept_sparse, "owner": owner}
    src = check_domain(source, "source", require_labels=True, allow_nd=allow_nd, **sparse_kw)
    raw_target = _as_domain(target, "target")
    if (
        raw_target.y is not None
        and raw_target.labelled is None
        and (
            (src.y.dtype.kind in "iu" and np.any(src.y == UNLABELLED))
            or (src.y.dtype.kind == "U" and np.any(src.y == str(UNLABELLED)))
        )
    ):
        raise ValueError(
            "source y contains the class -1, which also marks unlabelled target rows; "
            "pass Domain(X_target, y_target, labelled=mask) to say which target rows are labelled."
        )
    tgt = check_domain(raw_target, "target", allow_nd=allow_nd, **sparse_kw)
    if n_rows(tgt.X) < 2:
        warnings.warn(
            "target X has 1 row: a single row says almost nothing about the target "
            "distribution, so most strategies cannot adapt to it (means, covariances and "
            "density ratios need a sample); fit on a sample of target rows and call predict "
            "on new rows one by one.",
            UserWarning,
            stacklevel=3,
        )
    if src.X.shape[1:] != tgt.X.shape[1:]:
        raise ValueError(
            "source and target have different feature shapes: "
            f"{src.X.shape[1:]} vs {tgt.X.shape[1:]}."
        )
    if tgt.y is not None:
        _check_target_labels(src.y, tgt.y[tgt.labelled])
    if src.X.dtype != tgt.X.dtype:  # one common dtype
        dtype = np.result_type(src.X.dtype, tgt.X.dtype)
        src.X, tgt.X = src.X.astype(dtype, copy=False), tgt.X.astype(dtype, copy=False)
    return src, tgt


def _check_target_labels(y_source: np.ndarray, y_target: np.ndarray) -> None:
    if y_source.dtype.kind != y_target.dtype.kind and not (
        y_source.dtype.kind in "iuf" and y_target.dtype.kind in "iuf"
    ):
        raise TypeError(
            f"target y (dtype {y_target.dtype}) and source y (dtype {y_source.dtype}) differ in kind."
        )


def check_sample_domain(sample_domain: Any, n_samples: int) -> np.ndarray:
    """Validate a ``sample_domain`` array of the stacked form.

    Parameters
    ----------
    sample_domain : array-like of shape (n_samples,)
        One of ``"source"``, ``"target"`` (unlabelled: its ``y`` is never used
        to fit) or ``"target_labelled"`` per row.
    n_samples : int
        Number of rows of ``X``.
    """
    if sample_domain is None:
        raise ValueError("sample_domain is None.")
    sd = _to_numpy(sample_domain)
    if sd.ndim != 1:
        raise ValueError(f"sample_domain must be 1-D; got shape {sd.shape}.")
    if len(sd) != n_samples:
        raise ValueError(f"sample_domain has {len(sd)} entries but X has {n_samples} rows.")
    sd = sd.astype(str)
    unknown = sorted(set(np.unique(sd).tolist()) - set(SAMPLE_DOMAIN_VALUES))
    if unknown:
        raise ValueError(
            f"sample_domain has unknown values {unknown[:5]}; each entry must be one of "
            f"{list(SAMPLE_DOMAIN_VALUES)}."
        )
    return sd


def target_rows_to_score(
    X: np.ndarray, y: Any, sample_domain: Any, sample_weight: Any = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Keep the target rows of a scoring call (all rows when ``sample_domain`` is None).

    Returns ``(X, y, sample_domain, sample_weight)`` restricted to the rows to score.
    """
    y = np.asarray(y)
    if len(y) != n_rows(X):
        raise ValueError(f"y has {len(y)} entries but X has {n_rows(X)} rows.")
    if sample_domain is None:
        return X, y, None, sample_weight
    sd = check_sample_domain(sample_domain, n_rows(X))
    keep = sd != SOURCE
    if not keep.any():
        raise ValueError("score: sample_domain marks no target row to score.")
    if sample_weight is not None:
        sample_weight = np.asarray(sample_weight)[keep]
    return X[keep], y[keep], sd[keep], sample_weight


def split_sample_domain(
    X: Any,
    y: Any,
    sample_domain: Any,
    *,
    allow_nd: bool = False,
    accept_sparse: bool = False,
    owner: str | None = None,
) -> tuple[Domain, Domain]:
    """Split the stacked scikit-learn form into ``(source, target)`` domains.

    Rows marked ``"source"`` form the source (their labels are required);
    ``"target"`` rows are unlabelled target rows, whatever ``y`` holds there;
    ``"target_labelled"`` rows are target rows whose label is used.
    ``accept_sparse`` and ``owner`` are passed to :func:`check_features`.
    """
    X = check_features(X, "X", allow_nd=allow_nd, accept_sparse=accept_sparse, owner=owner)
    n = n_rows(X)
    sd = check_sample_domain(sample_domain, n)
    is_source = sd == SOURCE
    is_target = ~is_source
    if not is_source.any():
        raise ValueError("sample_domain marks no row as 'source'; the source domain is empty.")
    if not is_target.any():
        raise ValueError(
            "sample_domain marks no row as 'target' or 'target_labelled'; the target domain is empty."
        )
    if y is None:
        raise ValueError("y is None: the source rows must be labelled.")
    y_arr = _to_numpy(y)
    if y_arr.ndim != 1 or len(y_arr) != n:
        raise ValueError(f"y must be 1-D with {n} entries; got shape {y_arr.shape}.")
    source = Domain(X[is_source], y_arr[is_source], name=SOURCE)
    labelled = sd[is_target] == TARGET_LABELLED
    target = Domain(
        X[is_target],
        y_arr[is_target] if labelled.any() else None,
        name=TARGET,
        labelled=labelled if labelled.any() else None,
    )
    return source, target


def stack_domains(source: Domain, target: Domain) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inverse of :func:`split_sample_domain` for validated domains.

    Returns ``(X, y, sample_domain)``; unlabelled target rows get a placeholder
    label (the first source label), never used because ``sample_domain`` says
    ``"target"``.
    """
    X = vstack_rows([source.X, target.X])
    y_t = np.full(n_rows(target.X), source.y[0], dtype=source.y.dtype)
    sd_t = np.full(n_rows(target.X), TARGET, dtype=object)
    if target.y is not None:
        y_t = np.where(target.labelled, target.y, y_t).astype(source.y.dtype, copy=False)
        sd_t[target.labelled] = TARGET_LABELLED
    y = np.concatenate([source.y, y_t])
    sd = np.concatenate([np.full(n_rows(source.X), SOURCE, dtype=object), sd_t]).astype(str)
    return X, y, sd
