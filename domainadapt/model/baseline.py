"""The no-adaptation baseline."""

from __future__ import annotations

from typing import Any

from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.utils._param_validation import HasMethods

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

    Attributes
    ----------
    estimator_ : estimator
        The fitted downstream model.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of the features seen during ``fit``; set only when the rows have
        string column names (e.g. a pandas DataFrame).

    See Also
    --------
    domainadapt.model.SourceOnly : The same network without an adaptation term.
    domainadapt.feature.CORAL : Match the second-order statistics.
    domainadapt.instance.KMM : Weights that match the kernel mean embeddings.

    Notes
    -----
    SciPy sparse rows (word counts, TF-IDF) are passed to the estimator as CSR,
    as a plain scikit-learn model would get them.

    Examples
    --------
    >>> from domainadapt.datasets import make_shifted_digits
    >>> from domainadapt.model import NoAdaptation
    >>> source, target = make_shifted_digits("rotation", random_state=0)
    >>> model = NoAdaptation().fit(source, target.X)
    >>> model.predict(target.X[:5]).shape
    (5,)
    >>> model.n_features_in_
    64
    """

    #: The estimator gets sparse rows as they are.
    _accept_sparse = True

    _parameter_constraints: dict = {
        **ModelAdapter._parameter_constraints,
        "estimator": [HasMethods(["fit"]), None],
    }

    def __init__(self, estimator: Any = None):
        self.estimator = estimator

    def _fit(self, source: Domain, target: Domain) -> None:
        est = LogisticRegression(max_iter=1000) if self.estimator is None else self.estimator
        X, y, w = labelled_training_rows(source, target)
        if not is_sparse(X):
            X = X.reshape(len(X), -1)
        self.estimator_ = _fit_with_weights(clone(est), X, y, w)
