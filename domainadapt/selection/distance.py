"""How far apart are two domains: proxy A-distance and the MMD two-sample test."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from .._domain import Domain
from ..validation import check_features

__all__ = ["proxy_a_distance", "domain_shift_report", "ShiftReport"]


def _features(obj: Any, name: str) -> np.ndarray:
    if isinstance(obj, Domain):
        obj = obj.X
    elif isinstance(obj, tuple):
        obj = obj[0]
    X = check_features(obj, f"{name} X")
    return X.reshape(len(X), -1).astype(np.float64)


def proxy_a_distance(
    source: Any,
    target: Any,
    *,
    classifier: Any = None,
    test_size: float = 0.5,
    random_state: int | None = 0,
) -> float:
    r"""Proxy A-distance between two samples.

    .. math:: \hat d_A = 2\,(1 - 2\,\varepsilon)

    with :math:`\varepsilon` the held-out error of a classifier trained to tell
    source rows from target rows (Ben-David et al. 2007). Classes are balanced
    by weighting, so :math:`\varepsilon \approx 0.5` and :math:`\hat d_A \approx 0`
    for identical domains and :math:`\hat d_A \approx 2` for separable ones. An
    error above 0.5 (chance fluctuation) is clipped, so the value is in [0, 2].

    Parameters
    ----------
    source, target : array-like, tuple (X, y) or Domain
        Only the features are used.
    classifier : classifier, optional
        Domain classifier; default standardisation + logistic regression.
    test_size : float in (0, 1), default=0.5
        Share of each domain held out to measure the error.
    random_state : int or None, default=0
        Seed of the split.

    Returns
    -------
    float

    References
    ----------
    S. Ben-David, J. Blitzer, K. Crammer, F. Pereira. "Analysis of
    representations for domain adaptation". NIPS 2007.
    """
    X_s = _features(source, "source")
    X_t = _features(target, "target")
    if X_s.shape[1] != X_t.shape[1]:
        raise ValueError(
            f"source and target have different numbers of features: {X_s.shape[1]} vs "
            f"{X_t.shape[1]}."
        )
    if not (isinstance(test_size, float) and 0 < test_size < 1):
        raise ValueError(f"test_size must be a float in (0, 1); got {test_size!r}.")
    if min(len(X_s), len(X_t)) < 4:
        raise ValueError("proxy_a_distance needs at least 4 rows in each domain.")
    X = np.concatenate([X_s, X_t])
    d = np.r_[np.zeros(len(X_s), dtype=int), np.ones(len(X_t), dtype=int)]
    X_tr, X_te, d_tr, d_te = train_test_split(
        X, d, test_size=test_size, stratify=d, random_state=random_state
    )
    clf = (
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        if classifier is None
        else clone(classifier)
    )
    w_tr = np.where(d_tr == 1, 0.5 / d_tr.mean(), 0.5 / (1 - d_tr.mean()))
    try:
        _fit_weighted(clf, X_tr, d_tr, w_tr)
    except TypeError:
        clf.fit(X_tr, d_tr)
    wrong = clf.predict(X_te) != d_te
    # balanced error: the mean of the two domains' error rates
    err = 0.5 * (wrong[d_te == 0].mean() + wrong[d_te == 1].mean())
    return float(np.clip(2.0 * (1.0 - 2.0 * min(err, 0.5)), 0.0, 2.0))


def _fit_weighted(clf: Any, X: np.ndarray, y: np.ndarray, w: np.ndarray) -> None:
    from sklearn.pipeline import Pipeline

    if isinstance(clf, Pipeline):
        clf.fit(X, y, **{f"{clf.steps[-1][0]}__sample_weight": w})
    else:
        clf.fit(X, y, sample_weight=w)


@dataclass(frozen=True)
class ShiftReport:
    """Result of :func:`domain_shift_report`.

    Attributes
    ----------
    proxy_a_distance : float
        In [0, 2]; 0 means the domain classifier is at chance.
    mmd2 : float
        Biased MMD² estimate with a Gaussian kernel (median bandwidth).
    mmd_p_value : float
        Permutation p-value of :math:`H_0`: same distribution.
    n_source, n_target : int
        Rows used.

    Examples
    --------
    As returned by :func:`domain_shift_report`:

    >>> import numpy as np
    >>> rng = np.random.RandomState(0)
    >>> X_s = rng.randn(60, 2)
    >>> report = domain_shift_report(X_s, X_s + 1.5, n_permutations=100, random_state=0)
    >>> report.shifted, report.mmd_p_value < 0.05, (report.n_source, report.n_target)
    (True, True, (60, 60))
    >>> bool(0 <= report.proxy_a_distance <= 2)
    True
    >>> domain_shift_report(X_s, rng.randn(60, 2), n_permutations=100).shifted
    False
    """

    proxy_a_distance: float
    mmd2: float
    mmd_p_value: float
    n_source: int
    n_target: int

    @property
    def shifted(self) -> bool:
        """Whether the MMD test rejects equal distributions at the 5 % level."""
        return self.mmd_p_value < 0.05

    def __str__(self) -> str:
        verdict = "shifted" if self.shifted else "no significant shift"
        return (
            f"proxy A-distance {self.proxy_a_distance:.3f}, MMD² {self.mmd2:.4g} "
            f"(p = {self.mmd_p_value:.3g}, {verdict}); n_source={self.n_source}, "
            f"n_target={self.n_target}"
        )


def domain_shift_report(
    source: Any,
    target: Any,
    *,
    n_permutations: int = 200,
    max_rows: int = 2000,
    random_state: int = 0,
) -> ShiftReport:
    """Measure the shift between two samples: proxy A-distance and MMD test.

    Parameters
    ----------
    source, target : array-like, tuple (X, y) or Domain
    n_permutations : int, default=200
        Permutations of :func:`domainadapt.ops.mmd_test`.
    max_rows : int, default=2000
        Each domain is subsampled (deterministically) to this many rows for the
        MMD test.
    random_state : int, default=0

    Returns
    -------
    ShiftReport

    References
    ----------
    Ben-David et al., NIPS 2007 (proxy A-distance); Gretton et al., JMLR 2012 (MMD test).
    """
    from ..ops import mmd_test

    X_s = _features(source, "source")
    X_t = _features(target, "target")
    pad = proxy_a_distance(X_s, X_t, random_state=random_state)
    rng = np.random.RandomState(random_state)
    if len(X_s) > max_rows:
        X_s = X_s[np.sort(rng.choice(len(X_s), max_rows, replace=False))]
    if len(X_t) > max_rows:
        X_t = X_t[np.sort(rng.choice(len(X_t), max_rows, replace=False))]
    result = mmd_test(
        torch.from_numpy(X_s),
        torch.from_numpy(X_t),
        n_permutations=n_permutations,
        seed=random_state,
    )
    return ShiftReport(
        proxy_a_distance=pad,
        mmd2=float(result.statistic),
        mmd_p_value=float(result.p_value),
        n_source=len(X_s),
        n_target=len(X_t),
    )
