"""Fitting a downstream estimator on the rows a strategy trains it on.

Shared by every family (instance weighting, feature maps, relation and deep
strategies, the pipeline): which rows a downstream model sees (the source plus
the labelled target rows) and how importance weights reach it. Re-exported by
:mod:`domainadapt.base`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._domain import Domain
from ._sparse import vstack_rows

__all__ = ["labelled_training_rows"]


def labelled_training_rows(
    source: Domain,
    target: Domain,
    source_weights: np.ndarray | None = None,
    adapt_source: Any = None,
    adapt_target: Any = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Rows a downstream estimator is trained on: the source plus labelled target rows.

    ``source_weights`` multiply the source's own ``sample_weight``; labelled target
    rows get weight 1. ``adapt_source``/``adapt_target`` map features first.
    Returns ``(X, y, sample_weight or None)``.
    """
    X = source.X if adapt_source is None else adapt_source(source.X)
    y = source.y
    w = source_weights
    if source.sample_weight is not None:
        w = source.sample_weight if w is None else w * source.sample_weight
    if target.y is not None and target.labelled.any():
        X_t = target.X[target.labelled]
        X = vstack_rows([X, X_t if adapt_target is None else adapt_target(X_t)])
        y = np.concatenate([y, target.y[target.labelled]])
        if w is not None:
            w = np.concatenate([w, np.ones(int(target.labelled.sum()))])
    return X, y, w


def _fit_with_weights(estimator: Any, X: np.ndarray, y: np.ndarray, w: np.ndarray | None) -> Any:
    """Fit ``estimator`` with ``sample_weight`` (also the last step of a Pipeline)."""
    if w is None:
        return estimator.fit(X, y)
    from sklearn.pipeline import Pipeline

    if isinstance(estimator, Pipeline):
        return estimator.fit(X, y, **{f"{estimator.steps[-1][0]}__sample_weight": w})
    try:
        return estimator.fit(X, y, sample_weight=w)
    except TypeError as exc:
        if "sample_weight" in str(exc):
            raise TypeError(
                f"estimator {type(estimator).__name__} does not accept sample_weight, so it "
                "cannot use importance weights; pick one that does (LogisticRegression, SVC, "
                "Ridge, tree ensembles ...)."
            ) from None
        raise
