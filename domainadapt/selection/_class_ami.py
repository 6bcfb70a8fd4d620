"""ClassAMI: agreement between a clustering of the target features and the predictions."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_mutual_info_score

from .._domain import SOURCE, TARGET
from ..base import FeatureAdapter
from ._scorer_base import DomainScorer, _call, _check_max_rows

__all__ = ["ClassAMIScorer", "class_ami"]

_FEATURES = ("representation", "proba")


def _check_int(value: Any, name: str, low: int, allow_none: bool = False) -> None:
    if allow_none and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        none = "None or " if allow_none else ""
        raise ValueError(f"{name} must be {none}an integer >= {low}; got {value!r}.")


def class_ami(
    features: Any,
    pred: Any,
    n_clusters: int,
    pca_size: int | None = 64,
    n_init: int = 10,
    random_state: int = 0,
) -> float:
    """ClassAMI of rows ``features`` predicted as ``pred`` (see :class:`ClassAMIScorer`).

    ``features`` (optionally reduced to ``pca_size`` principal components when it has
    more columns) are clustered by k-means into ``n_clusters`` clusters; the result is
    ``adjusted_mutual_info_score(pred, clusters)``.

    Examples
    --------
    Two well separated blobs, predicted by which blob they belong to:

    >>> import numpy as np
    >>> rng = np.random.RandomState(0)
    >>> F = np.vstack([rng.randn(30, 2), rng.randn(30, 2) + 10])
    >>> round(class_ami(F, np.repeat([0, 1], 30), n_clusters=2), 6)
    1.0
    """
    F = np.asarray(features, dtype=np.float64)
    pred = np.asarray(pred)
    if F.ndim != 2 or len(F) == 0:
        raise ValueError(f"features must be a non-empty 2-D array; got shape {F.shape}.")
    if len(pred) != len(F):
        raise ValueError(f"pred has {len(pred)} entries but features has {len(F)} rows.")
    if not np.isfinite(F).all():
        raise ValueError("features must be finite.")
    _check_int(n_clusters, "n_clusters", 2)
    _check_int(pca_size, "pca_size", 1, allow_none=True)
    _check_int(n_init, "n_init", 1)
    if len(F) < n_clusters:
        raise ValueError(
            f"ClassAMI clusters the target rows into {n_clusters} clusters (one per class) "
            f"and needs at least that many target rows; got {len(F)}."
        )
    if pca_size is not None and F.shape[1] > pca_size:
        n_comp = min(pca_size, len(F))
        F = PCA(n_components=n_comp, random_state=random_state).fit_transform(F)
    km = KMeans(n_clusters=n_clusters, n_init=n_init, random_state=random_state)
    clusters = km.fit_predict(F)
    return float(adjusted_mutual_info_score(pred, clusters))


def _representation(estimator: Any, X: np.ndarray) -> np.ndarray:
    """The rows ``X`` (all target rows) as the downstream estimator sees them.

    A :class:`~domainadapt.DAPipeline` maps them through every step but the last
    (and through the last step's own map when that step is a feature adapter); a
    :class:`~domainadapt.base.FeatureAdapter` maps them as target rows; any other
    estimator (no adaptation, instance weighting, graph-based methods, plain
    scikit-learn) is applied to the rows as given.
    """
    sd = np.full(len(X), TARGET)
    # a DAPipeline, recognised by its row-mapping methods: the pipeline layer sits above
    # selection, which must not import it
    if hasattr(estimator, "_transform_rows") and hasattr(estimator, "_final_step"):
        Xt = np.asarray(estimator._transform_rows(X, sd))
        final = estimator._final_step()
        if isinstance(final, FeatureAdapter):
            return _representation(final, Xt)
        return Xt
    if isinstance(estimator, FeatureAdapter):
        return np.asarray(estimator.transform(X, domain="target"))
    return X


class ClassAMIScorer(DomainScorer):
    r"""ClassAMI: adjusted mutual information between target clusters and predictions.

    The target rows' features are clustered by k-means into :math:`K` clusters,
    :math:`K` the number of classes of the model, and the score is the adjusted
    mutual information (Vinh et al. 2010) between the cluster assignments
    :math:`c` and the model's predicted target labels :math:`\hat y`:

    .. math:: s = \mathrm{AMI}(\hat y, c) =
              \frac{I(\hat y; c) - E[I]}{\tfrac12 (H(\hat y) + H(c)) - E[I]}

    A model whose decision boundaries follow the cluster structure of the target
    features scores close to 1; a model whose predictions are unrelated to it
    (or that predicts one class for every row) scores about 0. Higher is better.
    Target labels are never read; source rows are ignored.

    **Which features.** Musgrave et al. cluster the output of the network's
    feature extractor, the representation the classifier head is applied to.
    The shallow counterpart, used by default (``features="representation"``), is
    the representation the downstream estimator is applied to: for a
    :class:`~domainadapt.DAPipeline`, the target rows after every step but the
    final estimator (e.g. after SA, TCA, JDA, OT mapping or mSDA); for a feature
    adapter with its own ``estimator``, its ``transform`` of the target rows; for
    every other estimator (no adaptation, importance weighting, label
    propagation, plain scikit-learn models) the rows as passed to the scorer,
    which is what their classifier sees. So the scorer, like the paper's,
    compares each model with a clustering of *its own* feature space. With
    ``features="proba"`` the predicted class probabilities are clustered instead
    (for estimators whose representation is not reachable).

    Parameters
    ----------
    features : {"representation", "proba"}, default="representation"
        What k-means clusters (see above).
    pca_size : int or None, default=64
        Features with more columns are first reduced to this many principal
        components (of the target rows), as in the authors' implementation
        (``ClassClusterValidator`` of pytorch-adapt); ``None`` clusters them as
        they are.
    n_init : int, default=10
        k-means restarts (k-means++ seeding); the best inertia is kept.
    max_rows : int, optional
        Use a deterministic random subset of this many target rows (all by default).
    random_state : int, default=0
        Seed of the PCA solver, the k-means seeding and the row subset: the score is
        a deterministic function of the model and the rows.

    Notes
    -----
    The number of clusters is ``len(estimator.classes_)`` (the columns of
    ``predict_proba`` when the estimator has no ``classes_``), so a model that
    predicts only some of its classes on the target is still compared with a
    :math:`K`-way clustering. The score needs at least :math:`K` target rows.
    The clustering depends on the representation, so two models with the same
    representation (e.g. logistic regressions with different ``C`` on the input
    rows) are compared with the same clusters, and models with different
    representations each with their own.

    References
    ----------
    K. Musgrave, S. Belongie, S.-N. Lim. "Three new validators and a large-scale
    benchmark ranking for unsupervised domain adaptation". arXiv:2208.07360, 2022.
    N. X. Vinh, J. Epps, J. Bailey. "Information theoretic measures for clusterings
    comparison". JMLR 11, 2010.

    Examples
    --------
    >>> import numpy as np
    >>> from domainadapt.model import NoAdaptation
    >>> rng = np.random.RandomState(0)
    >>> X_s = np.vstack([rng.randn(40, 2) - 3, rng.randn(40, 2) + 3])
    >>> y_s = np.repeat([0, 1], 40)
    >>> X_t = X_s + 0.5  # two well separated target clusters
    >>> model = NoAdaptation().fit((X_s, y_s), X_t)
    >>> X = np.vstack([X_s, X_t])
    >>> sd = np.array(["source"] * 80 + ["target"] * 80)
    >>> score = ClassAMIScorer()(model, X, sample_domain=sd)  # no label read
    >>> round(score, 6)  # the predictions are the two clusters
    1.0
    """

    def __init__(
        self,
        features: str = "representation",
        pca_size: int | None = 64,
        n_init: int = 10,
        max_rows: int | None = None,
        random_state: int = 0,
    ):
        if features not in _FEATURES:
            raise ValueError(f"features must be one of {_FEATURES}; got {features!r}.")
        _check_int(pca_size, "pca_size", 1, allow_none=True)
        _check_int(n_init, "n_init", 1)
        _check_max_rows(max_rows, low=2)
        _check_int(random_state, "random_state", 0)
        self.features = features
        self.pca_size = pca_size
        self.n_init = n_init
        self.max_rows = max_rows
        self.random_state = random_state

    def _score(self, estimator, X, y, sd):
        target = np.flatnonzero(sd != SOURCE)
        if self.max_rows is not None and len(target) > self.max_rows:
            target = np.sort(
                np.random.RandomState(self.random_state).choice(target, self.max_rows, replace=False)
            )
        X_t = X[target]
        sd_t = np.full(len(X_t), TARGET)
        pred = _call(estimator, "predict", X_t, sd_t)
        classes = getattr(estimator, "classes_", None)
        proba = None
        if self.features == "proba" or classes is None:
            proba = _call(estimator, "predict_proba", X_t, sd_t)
        n_classes = len(classes) if classes is not None else proba.shape[1]
        if n_classes < 2:
            raise ValueError(f"ClassAMIScorer needs a model of at least two classes; got {n_classes}.")
        if self.features == "proba":
            F = proba
        else:
            F = _representation(estimator, X_t)
        F = np.asarray(F.toarray() if hasattr(F, "toarray") else F, dtype=np.float64)
        return class_ami(
            F.reshape(len(F), -1), pred, n_classes, self.pca_size, self.n_init, self.random_state
        )
