"""Reading and checking the input files of ``domainadapt compare`` (:mod:`domainadapt.cli.compare`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["CompareError", "load_table"]


class CompareError(Exception):
    """A problem with the user's input, reported as one clear line (no traceback)."""


# ----------------------------------------------------------------------------- reading
def load_table(path: str | Path, role: str) -> tuple[Any, dict[str, np.ndarray] | None]:
    """Read one input file: a pandas DataFrame (CSV, Parquet) or the arrays of an ``.npz``.

    Returns ``(frame, None)`` for tables and ``(None, arrays)`` for ``.npz`` files.
    """
    path = Path(path)
    if not path.exists():
        raise CompareError(f"the {role} file {str(path)!r} does not exist.")
    if path.is_dir():
        raise CompareError(f"the {role} file {str(path)!r} is a directory, not a file.")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as data:
                return None, {k: data[k] for k in data.files}
        except Exception as exc:
            raise CompareError(f"cannot read the {role} file {str(path)!r} as .npz: {exc}") from None
    import pandas as pd

    try:
        if suffix in (".parquet", ".pq"):
            try:
                return pd.read_parquet(path), None
            except ImportError as exc:
                raise CompareError(
                    f"cannot read the {role} file {str(path)!r}: pandas needs pyarrow or "
                    f"fastparquet for Parquet ({exc}); install one (pip install pyarrow) or "
                    "write the table as CSV."
                ) from None
        if suffix in (".tsv", ".tab"):
            return pd.read_csv(path, sep="\t"), None
        return pd.read_csv(path), None
    except CompareError:
        raise
    except Exception as exc:
        raise CompareError(f"cannot read the {role} file {str(path)!r}: {exc}") from None


def _columns_text(columns: list[str], limit: int = 30) -> str:
    shown = ", ".join(map(str, columns[:limit]))
    return shown + (f", ... ({len(columns)} columns)" if len(columns) > limit else "")


def _split_table(frame: Any, arrays: dict | None, path: str, role: str,
                 label: str | None, required: bool, drop: tuple[str, ...] = ()
                 ) -> tuple[Any, np.ndarray | None, list[str] | None]:
    """(features, labels or None, feature names or None for .npz) of one file."""
    if arrays is not None:
        if "X" not in arrays:
            raise CompareError(f"the {role} file {path!r} has no array 'X' (it holds: "
                               f"{_columns_text(sorted(arrays))}); an .npz input needs "
                               "arrays X (rows x features) and y (labels).")
        X = np.asarray(arrays["X"])
        if X.ndim == 1:
            X = X.reshape(-1, 1)
        if X.ndim != 2:
            raise CompareError(f"the array X of the {role} file {path!r} has shape {X.shape}; "
                               "give a 2-d array (rows x features).")
        y = None
        if label is not None and label in arrays:
            y = np.asarray(arrays[label]).ravel()
            if len(y) != len(X):
                raise CompareError(f"the {role} file {path!r} has {len(X)} rows in X but "
                                   f"{len(y)} labels in {label!r}.")
        elif required:
            raise CompareError(f"the {role} file {path!r} has no label array {label!r} (it "
                               f"holds: {_columns_text(sorted(arrays))}); choose one with "
                               "--label-column.")
        if not np.issubdtype(X.dtype, np.number) and X.dtype != bool:
            raise CompareError(f"the array X of the {role} file {path!r} is not numeric "
                               f"({X.dtype}); encode it as numbers (e.g. one-hot encoding).")
        return X, y, None
    columns = [str(c) for c in frame.columns]
    frame.columns = columns
    y = None
    if label is not None and label in columns:
        y = frame[label].to_numpy()
    elif required:
        raise CompareError(f"the {role} file {path!r} has no label column {label!r}; its "
                           f"columns are: {_columns_text(columns)}. Choose one with "
                           "--label-column.")
    features = frame.drop(columns=[c for c in (label, *drop) if c in columns])
    return features, y, [str(c) for c in features.columns]


def _check_features(frame: Any, path: str, role: str) -> np.ndarray:
    import pandas as pd

    bad = [f"{c} ({frame[c].dtype})" for c in frame.columns
           if not (pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c]))]
    if bad:
        names = [b.rsplit(" (", 1)[0] for b in bad]
        raise CompareError(
            f"the {role} file {path!r} has non-numeric feature columns: {_columns_text(bad)}. "
            "Encode them as numbers first, e.g. one-hot encoding with "
            f"pandas.get_dummies(df, columns={names[:5]!r}) on both files (or drop them)."
        )
    if frame.shape[1] == 0:
        raise CompareError(f"the {role} file {path!r} has no feature column besides the labels.")
    return _as_float(frame.to_numpy(dtype=float), path, role, [str(c) for c in frame.columns])


def _as_float(X: np.ndarray, path: str, role: str, names: list[str] | None = None) -> np.ndarray:
    """``X`` as floats, refused with the offending columns when a value is NaN or infinite."""
    X = np.asarray(X, dtype=float)
    if not np.isfinite(X).all():
        bad = np.flatnonzero(~np.isfinite(X).all(axis=0)).tolist()
        shown = _columns_text([names[i] for i in bad]) if names is not None else bad[:20]
        raise CompareError(f"the {role} file {path!r} has missing or infinite values in the "
                           f"columns {shown}; impute or drop them first.")
    return X


def _subsample(n: int, max_rows: int, y: np.ndarray | None, seed: int) -> np.ndarray | None:
    """Sorted row indices to keep (stratified on y when given), or None to keep all."""
    if max_rows <= 0 or n <= max_rows:
        return None
    from sklearn.model_selection import train_test_split

    idx = np.arange(n)
    stratify = None
    if y is not None:
        _, counts = np.unique(y, return_counts=True)
        if counts.min() >= 2 and max_rows >= len(counts):
            stratify = y
    keep, _ = train_test_split(idx, train_size=max_rows, stratify=stratify, random_state=seed)
    return np.sort(keep)
