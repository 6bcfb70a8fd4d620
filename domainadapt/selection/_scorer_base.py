"""What every unsupervised selection scorer shares: the base class and row helpers.

See :mod:`domainadapt.selection.scorers` for the scorers and how ``sample_domain``
reaches them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.utils.metadata_routing import MetadataRequest

from .._domain import SOURCE
from ..base import accepts_sample_domain
from ..validation import check_features, check_sample_domain

_NO_DOMAIN = (
    "{name} needs sample_domain to tell source rows from target rows, and got none. "
    "Inside GridSearchCV / cross_val_score, enable metadata routing: wrap the call in "
    "sklearn.config_context(enable_metadata_routing=True) and pass "
    "sample_domain=... to fit (the scorer requests it by default); when calling the "
    "scorer yourself, pass scorer(estimator, X, y, sample_domain=sd)."
)


def _call(estimator: Any, method: str, X: np.ndarray, sample_domain: np.ndarray) -> np.ndarray:
    """``estimator.method(X)``, passing ``sample_domain`` to domain-aware estimators."""
    fn = getattr(estimator, method, None)
    if fn is None:
        raise AttributeError(
            f"{type(estimator).__name__} has no {method}; this scorer needs a classifier "
            f"with {method}."
        )
    if accepts_sample_domain(estimator):
        return np.asarray(fn(X, sample_domain=sample_domain))
    return np.asarray(fn(X))


def _entropy(P: np.ndarray) -> np.ndarray:
    P = np.clip(P, 1e-12, 1.0)
    return -(P * np.log(P)).sum(axis=1)


class DomainScorer:
    """Base class: validation of ``X`` and ``sample_domain`` and metadata routing.

    Subclasses implement ``_score(estimator, X, y, sd)`` on validated arrays, or,
    when the score is a mean over rows, ``_row_values(estimator, X, y, sd)``
    (then :meth:`score_rows` also returns the rows' values).

    Examples
    --------
    A scorer of the mean confidence on the target rows; the base class checks
    ``X`` and ``sample_domain`` and refuses a call without the latter:

    >>> import numpy as np
    >>> from domainadapt.model import NoAdaptation
    >>> class TargetConfidence(DomainScorer):
    ...     def _score(self, estimator, X, y, sd):
    ...         return estimator.predict_proba(X[sd != "source"]).max(axis=1).mean()
    >>> rng = np.random.RandomState(0)
    >>> X_s, X_t = rng.randn(60, 2), rng.randn(60, 2) + 0.5
    >>> y_s = (X_s[:, 0] > 0).astype(int)
    >>> model = NoAdaptation().fit((X_s, y_s), X_t)
    >>> X = np.vstack([X_s, X_t])
    >>> sd = np.array(["source"] * 60 + ["target"] * 60)
    >>> score = TargetConfidence()(model, X, sample_domain=sd)
    >>> type(score).__name__, 0.5 <= score <= 1
    ('float', True)
    >>> TargetConfidence()(model, X)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    ValueError: TargetConfidence needs sample_domain to tell source rows from target rows, ...
    """

    #: Whether the score uses the labels of source rows.
    needs_source = False

    def __call__(
        self,
        estimator: Any,
        X: Any,
        y: Any = None,
        sample_domain: Any = None,
        **kwargs: Any,
    ) -> float:
        X, y, sd = self._validate(X, y, sample_domain)
        return float(self._score(estimator, X, y, sd))

    def score_rows(
        self, estimator: Any, X: Any, y: Any = None, sample_domain: Any = None
    ) -> tuple[float, np.ndarray | None]:
        """The score and, where the score is a mean over rows, the per-row values.

        The per-row values (one per scored row, e.g. one per held-out source row
        for reverse validation, one per mixed pair for MixVal) have the score as
        their mean and are in the same order for every estimator scored on the
        same ``X``, so two estimators' values can be compared row by row (the
        paired test of :class:`~domainadapt.selection.AutoAdapter`'s guard).
        A scorer that is not such a mean returns ``None`` for them.

        Returns
        -------
        score : float
        rows : ndarray of shape (n_scored,) or None
        """
        X, y, sd = self._validate(X, y, sample_domain)
        rows = self._row_values(estimator, X, y, sd)
        if rows is None:
            return float(self._score(estimator, X, y, sd)), None
        rows = np.asarray(rows, dtype=np.float64)
        return float(rows.mean()), rows

    def _validate(self, X: Any, y: Any, sample_domain: Any) -> tuple[np.ndarray, Any, np.ndarray]:
        name = type(self).__name__
        if sample_domain is None:
            raise ValueError(_NO_DOMAIN.format(name=name))
        X = check_features(X, "X")
        sd = check_sample_domain(sample_domain, len(X))
        if not (sd != SOURCE).any():
            raise ValueError(f"{name}: sample_domain marks no target row in this fold.")
        if self.needs_source:
            if not (sd == SOURCE).any():
                raise ValueError(f"{name}: sample_domain marks no source row in this fold.")
            if y is None:
                raise ValueError(f"{name} needs the labels y of the source rows.")
            y = np.asarray(y)
            if len(y) != len(X):
                raise ValueError(f"y has {len(y)} entries but X has {len(X)} rows.")
        return X, y, sd

    def _score(self, estimator: Any, X: np.ndarray, y: Any, sd: np.ndarray) -> float:
        rows = self._row_values(estimator, X, y, sd)
        if rows is None:
            raise NotImplementedError  # pragma: no cover
        return float(np.mean(rows))

    def _row_values(
        self, estimator: Any, X: np.ndarray, y: Any, sd: np.ndarray
    ) -> np.ndarray | None:
        """Per-row values whose mean is the score, or None (override in subclasses)."""
        return None

    # ---------------------------------------------------------- metadata routing
    def get_metadata_routing(self) -> MetadataRequest:
        """Request ``sample_domain`` for ``score`` (unless switched off)."""
        request = MetadataRequest(owner=type(self).__name__)
        value = getattr(self, "_sample_domain_request", True)
        request.score.add_request(param="sample_domain", alias=value)
        return request

    def set_score_request(self, *, sample_domain: bool | None | str = True) -> DomainScorer:
        """Request (``True``, the default) or refuse ``sample_domain`` under routing."""
        self._sample_domain_request = sample_domain
        return self

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({params})"


# --------------------------------------------------------------------------- helpers


def _check_proba(proba: Any, name: str = "proba") -> np.ndarray:
    P = np.asarray(proba, dtype=np.float64)
    if P.ndim != 2 or P.shape[0] < 1 or P.shape[1] < 1:
        raise ValueError(f"{name} must be a non-empty 2-D array (rows x classes); got shape {P.shape}.")
    if not np.isfinite(P).all() or (P < 0).any():
        raise ValueError(f"{name} must hold finite, non-negative class probabilities.")
    return P


def _target_proba(estimator: Any, X: np.ndarray, sd: np.ndarray, max_rows: int | None) -> np.ndarray:
    target = np.flatnonzero(sd != SOURCE)
    if max_rows is not None and len(target) > max_rows:
        target = np.sort(np.random.RandomState(0).choice(target, max_rows, replace=False))
    return _call(estimator, "predict_proba", X[target], sd[target])


def _check_max_rows(max_rows: Any, low: int = 1) -> None:
    if max_rows is None:
        return
    if isinstance(max_rows, bool) or not isinstance(max_rows, (int, np.integer)) or max_rows < low:
        raise ValueError(f"max_rows must be None or an integer >= {low}; got {max_rows!r}.")
