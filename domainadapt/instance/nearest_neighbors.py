"""Nearest-neighbour weighting (Loog 2012)."""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.neighbors import NearestNeighbors
from sklearn.utils._param_validation import HasMethods

from .._domain import Domain
from .._sparse import is_sparse
from .._tempering import FLATTEN_CONSTRAINT
from .._utils import Interval, flatten
from ..base import InstanceAdapter

__all__ = ["NearestNeighborWeighting"]


class NearestNeighborWeighting(InstanceAdapter):
    r"""Weights from how many target rows pick each source row as nearest neighbour.

    .. math:: w_i \propto \big|\{ j : \operatorname{NN}_S(x'_j) = x_i \}\big| + \lambda

    the number of target rows whose nearest source row is :math:`x_i`, plus Laplace
    smoothing :math:`\lambda`: a count estimate of :math:`p_T/p_S` over the Voronoi
    cells of the source sample. Ties between equidistant source rows go to the
    lowest index (deterministic).

    Parameters
    ----------
    smoothing : float, default=1.0
        Laplace smoothing :math:`\lambda \ge 0` added to every count.
    metric : str, default="euclidean"
        Distance of :class:`sklearn.neighbors.NearestNeighbors`.
    n_jobs : int, optional
        Parallel jobs of the neighbour search.
    flatten : "auto" or float in [0, 1], default="auto"
        Tempering exponent :math:`\lambda` of the weights, :math:`w^\lambda`
        (Shimodaira 2000). ``"auto"`` chooses it from the data by importance-weighted
        cross-validation with the one-standard-error rule (see
        :class:`~domainadapt.base.InstanceAdapter`): near 1 under a genuine covariate
        shift, 0 (uniform weights) when the domains barely overlap. ``1`` gives the
        untempered weights.
    estimator : estimator, optional
        Downstream model fitted with ``sample_weight=weights_``.

    Attributes
    ----------
    weights_ : ndarray of shape (n_source,)
    counts_ : ndarray of shape (n_source,)
        Target rows in each source row's cell.
    flatten_, ess_untempered_, flatten_risks_, flatten_risk_se_
        The tempering of the weights: see :class:`~domainadapt.base.InstanceAdapter`.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of the features seen during ``fit``; set only when the rows have
        string column names (e.g. a pandas DataFrame).

    See Also
    --------
    domainadapt.instance.ClassifierDensityRatio : Weights from a domain classifier's odds.
    domainadapt.instance.KMM : Weights that match the kernel mean embeddings.
    domainadapt.instance.KLIEP : A kernel ratio model fitted by KL divergence.

    References
    ----------
    M. Loog. "Nearest Neighbor-Based Importance Weighting". IEEE MLSP 2012.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from domainadapt.datasets import make_gaussian_shift
    >>> from domainadapt.instance import NearestNeighborWeighting
    >>> source, target, ratio = make_gaussian_shift(n_source=200, n_target=200, random_state=0)
    >>> model = NearestNeighborWeighting(estimator=LogisticRegression())
    >>> model = model.fit(source, target.X)
    >>> model.weights_.shape
    (200,)
    >>> model.predict(target.X[:5]).shape
    (5,)
    """

    _parameter_constraints: dict = {
        **InstanceAdapter._parameter_constraints,
        "smoothing": [Interval(Real, 0, None, closed="left")],
        "metric": [str, callable],
        "n_jobs": [Integral, None],
        "flatten": FLATTEN_CONSTRAINT,
        "estimator": [HasMethods(["fit"]), None],
    }

    def __init__(
        self,
        smoothing: float = 1.0,
        metric: str = "euclidean",
        n_jobs: int | None = None,
        flatten: Any = "auto",
        estimator: Any = None,
    ):
        self.smoothing = smoothing
        self.metric = metric
        self.n_jobs = n_jobs
        self.flatten = flatten
        self.estimator = estimator

    _sparse_weights = True  # NearestNeighbors searches CSR rows (brute force)

    def _fit_weights(self, source: Domain, target: Domain) -> np.ndarray:
        smoothing = float(self.smoothing)
        Xs, Xt = source.X, target.X
        if not (is_sparse(Xs) or is_sparse(Xt)):
            Xs, Xt = flatten(Xs), flatten(Xt)
        elif not (is_sparse(Xs) and is_sparse(Xt)):
            # one dense, one sparse: a tree built on dense source rows cannot search
            # sparse target rows (scikit-learn's kd_tree error), so both go CSR
            Xs, Xt = sp.csr_matrix(Xs), sp.csr_matrix(Xt)
        nn = NearestNeighbors(n_neighbors=1, metric=self.metric, n_jobs=self.n_jobs).fit(Xs)
        idx = nn.kneighbors(Xt, return_distance=False)[:, 0]
        counts = np.bincount(idx, minlength=Xs.shape[0]).astype(np.float64)
        self.counts_ = counts
        return counts + smoothing
