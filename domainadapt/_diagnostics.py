"""Cheap checks of a strategy's assumptions on the data it is fitted on (shared by the families)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = [
    "NEIGHBOUR_RATIO_MIN",
    "SMOOTH_RATIO_MIN",
    "neighbour_label_ratio",
    "warn_if_neighbours_uninformative",
]

#: Below this ratio of k-NN to linear cross-validated accuracy, neighbourhood-based
#: strategies (label propagation, JDA's 1-NN pseudo-labels) are warned off: measured on the
#: source rows of our collections, the ratio is 1.04-1.06 on digit pixels (where they gain
#: 13-34 points) and 0.53-0.74 on word counts and Office-Caltech SURF (where they lose).
NEIGHBOUR_RATIO_MIN = 0.8

#: At or above this ratio the rows behave like dense, smooth signals (pixels) rather than
#: sparse co-occurring features, and mSDA is warned off: on the source rows of our
#: collections the ratio is 1.03-1.06 on digit pixels and MNIST/USPS (where mSDA loses 5-39
#: points) and 0.50-0.76 on word counts and Office-Caltech SURF (where it gains 3 points on
#: average); 0.9 sits in the gap.
SMOOTH_RATIO_MIN = 0.9


def neighbour_label_ratio(
    X: np.ndarray,
    y: np.ndarray,
    *,
    metric: str = "euclidean",
    max_rows: int = 1000,
    random_state: int = 0,
) -> float:
    """How much label information nearest neighbours carry, relative to a linear model.

    The 3-fold stratified cross-validated accuracy of a 1-nearest-neighbour
    classifier on the labelled rows ``(X, y)``, divided by that of a logistic
    regression on the same folds (at most ``max_rows`` rows, a seeded stratified
    subsample beyond). A ratio well below 1 means that a row's nearest
    neighbours often have another label although a linear model separates the
    classes: graph- and neighbour-based label transfer then spreads errors.

    Returns ``nan`` when a class has fewer than 3 rows (no 3-fold estimate).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score, train_test_split
    from sklearn.neighbors import KNeighborsClassifier

    if sp.issparse(X):  # both classifiers below take CSR rows
        X = X.tocsr().astype(np.float64)
    else:
        X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
    y = np.asarray(y)
    _, counts = np.unique(y, return_counts=True)
    if len(counts) < 2 or counts.min() < 3:
        return float("nan")
    if X.shape[0] > max_rows:
        X, _, y, _ = train_test_split(X, y, train_size=max_rows, stratify=y,
                                      random_state=random_state)
        _, counts = np.unique(y, return_counts=True)
        if counts.min() < 3:
            return float("nan")
    folds = StratifiedKFold(3, shuffle=True, random_state=random_state)
    knn = cross_val_score(KNeighborsClassifier(1, metric=metric), X, y, cv=folds).mean()
    linear = cross_val_score(LogisticRegression(max_iter=1000), X, y, cv=folds).mean()
    return float(knn / linear) if linear > 0 else float("nan")


def warn_if_neighbours_uninformative(name: str, X, y, measured: str, stacklevel: int = 5) -> float:
    """:func:`neighbour_label_ratio` of the source rows, with a warning below the threshold.

    For strategies whose default pseudo-labels come from a 1-nearest-neighbour
    classifier (JDA, JGSA): below :data:`NEIGHBOUR_RATIO_MIN` those labels are poor,
    the class-conditional terms then align the wrong classes, and ``fit`` issues a
    :class:`~domainadapt.NotApplicableWarning` that says so, with ``measured`` (what
    the strategy lost where this held). Returns the ratio.
    """
    import warnings

    from .exceptions import NotApplicableWarning

    ratio = neighbour_label_ratio(X, y)
    if ratio < NEIGHBOUR_RATIO_MIN:
        warnings.warn(
            f"{name}: on the source rows, 1-nearest-neighbour accuracy is only {ratio:.2f} x a "
            "linear model's (cross-validated), so its default 1-NN pseudo-labels are poor and "
            f"the class-conditional terms align the wrong classes; {name} is then likely to do "
            f"worse than no adaptation (measured: {measured}). Prefer TCA or CORAL here, or "
            "pass a pseudo_labeler.",
            NotApplicableWarning,
            stacklevel=stacklevel,
        )
    return ratio
