"""The stacked scikit-learn form: one ``X`` and a ``sample_domain`` entry per row.

``sample_domain`` says which rows are source, unlabelled target or labelled
target. :func:`domainadapt.validation.split_sample_domain` validates ``X`` and
splits the stacked form into two domains; the helpers here check the
``sample_domain`` array, pick the rows to score and stack two domains back. All
are re-exported by :mod:`domainadapt.validation`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._domain import SAMPLE_DOMAIN_VALUES, SOURCE, TARGET, TARGET_LABELLED, Domain, _to_numpy
from ._sparse import n_rows, vstack_rows

__all__ = ["check_sample_domain", "stack_domains", "target_rows_to_score"]


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
