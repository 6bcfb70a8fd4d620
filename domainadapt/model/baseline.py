"""The no-adaptation baseline."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression

from .._domain import Domain
from ..base import ModelAdapter, _fit_with_weights


class NoAdaptation(ModelAdapter):
    """Train the estimator on the labelled rows only and ignore the unlabelled target.

    The baseline every table needs: what a plain scikit-learn model gets on the
    target. Labelled target rows (semi-supervised setting) are used as extra
    training rows.

    Parameters
    ----------
    estimator : estimator, default=LogisticRegression(max_iter=1000)
    """

    def __init__(self, estimator: Any = None):
        self.estimator = estimator

    def _fit(self, source: Domain, target: Domain) -> None:
        est = LogisticRegression(max_iter=1000) if self.estimator is None else self.estimator
        X, y, w = source.X, source.y, source.sample_weight
        if target.y is not None:
            X = np.concatenate([X, target.X[target.labelled]])
            y = np.concatenate([y, target.y[target.labelled]])
            if w is not None:
                w = np.concatenate([w, np.ones(int(target.labelled.sum()))])
        self.estimator_ = _fit_with_weights(clone(est), X.reshape(len(X), -1), y, w)
