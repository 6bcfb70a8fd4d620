"""Input validation shared by every strategy.

Every public ``fit``/``transform``/``predict`` goes through these functions, so a
user always gets a ``ValueError`` or ``TypeError`` that names the argument and
the problem, never a bare error from deep inside NumPy, scikit-learn or torch.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import is_classifier
from sklearn.utils.multiclass import type_of_target

from ._domain import (
    SOURCE,
    TARGET,
    TARGET_LABELLED,
    UNLABELLED,
    Domain,
    _to_numpy,
)
from ._feature_names import (
    check_feature_names,
    feature_names_checked,
    fit_feature_names,
    get_feature_names,
)
from ._sample_domain import check_sample_domain, stack_domains, target_rows_to_score
from ._sparse import check_sparse, densify, n_rows

__all__ = [
    "check_features",
    "check_feature_names",
    "feature_names_checked",
    "fit_feature_names",
    "get_feature_names",
    "check_domain",
    "check_source_target",
    "check_class_labels",
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
        X = check_sparse(X, name, n_features=n_features)
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
                f"{name} y has a single class ({np.unique(y)[0].item()!r}); a classifier needs at "
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


def check_class_labels(source: Domain, target: Domain, estimator: Any, owner: str) -> None:
    """Refuse labels that a classifier ``estimator`` would take for a regression target.

    scikit-learn classifiers refuse non-integer float labels (``0.5``) with "Unknown
    label type: continuous", which names neither the domain nor what to do; this
    says both before anything is fitted. A regressor (or no estimator) accepts them.

    Parameters
    ----------
    source, target : Domain
        Validated domains (:func:`check_source_target`).
    estimator : estimator or None
        The strategy's downstream model.
    owner : str
        The strategy, for the message.
    """
    if estimator is None or not is_classifier(estimator):
        return
    labelled_target = target.y[target.labelled] if target.y is not None else None
    for name, y in (("source", source.y), ("target", labelled_target)):
        if y is None or len(y) == 0 or y.dtype.kind != "f":
            continue
        if type_of_target(y) == "continuous":
            example = y[y != np.round(y)][0]
            raise ValueError(
                f"{name} y holds non-integer float labels (e.g. {float(example)!r}), but {owner}'s "
                f"estimator {type(estimator).__name__} is a classifier, which reads them as a "
                "regression target. Encode the classes as integers or strings first (e.g. "
                "y.astype(str) or sklearn.preprocessing.LabelEncoder), or pass a regressor."
            )


def _check_target_labels(y_source: np.ndarray, y_target: np.ndarray) -> None:
    if y_source.dtype.kind != y_target.dtype.kind and not (
        y_source.dtype.kind in "iuf" and y_target.dtype.kind in "iuf"
    ):
        raise TypeError(
            f"target y (dtype {y_target.dtype}) and source y (dtype {y_source.dtype}) differ in kind."
        )


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
