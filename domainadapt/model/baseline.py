"""The no-adaptation baseline."""

from __future__ import annotations

from typing import Any

from sklearn.base import clone
from sklearn.linear_model import LogisticRegression

from .._domain import Domain
from .._sparse import is_sparse
from ..base import ModelAdapter, _fit_with_weights, labelled_training_rows


class NoAdaptation(ModelAdapter):
    """Train the estimator on the labelled rows only and ignore the unlabelled target.

    The baseline every table needs: what a plain scikit-learn model gets on the
    target. Labelled target rows (semi-supervised setting) are used as extra
    training rows.

    Parameters
    ----------
    estimator : estimator, default=LogisticRegression(max_iter=1000)

    Notes
    -----
    SciPy sparse rows (word counts, TF-IDF) are passed to the estimator as CSR,
    as a plain scikit-learn model would get them.
    """

    #: The estimator gets sparse rows as they are.
    _accept_sparse = True

    def __init__(self, estimator: Any = None):
        self.estimator = estimator

    def _fit(self, source: Domain, target: Domain) -> None:
        est = LogisticRegression(max_iter=1000) if self.estimator is None else self.estimator
        X, y, w = labelled_training_rows(source, target)
        if not is_sparse(X):
            X = X.reshape(len(X), -1)
        self.estimator_ = _fit_with_weights(clone(est), X, y, w)
