"""Balanced Distribution Adaptation (BDA): JDA with a balance factor between the MMD terms.

BDA runs JDA's iterations (:meth:`~domainadapt.feature.JDA._fit_joint`, the same
generalized eigen-solver :func:`~domainadapt.feature.tca.mmd_embedding`) with
``M = (1 - mu) M_0 + mu sum_c M_c``; ``mu`` is given or estimated at every
iteration from proxy A-distances (:func:`proxy_a_distance`, :func:`estimate_balance`).
"""

from __future__ import annotations

from numbers import Real
from typing import Any

import numpy as np
from sklearn.svm import LinearSVC
from sklearn.utils._param_validation import StrOptions

from .._domain import Domain
from .._utils import Interval
from .jda import JDA

__all__ = ["BDA", "estimate_balance", "proxy_a_distance"]


def proxy_a_distance(A: np.ndarray, B: np.ndarray) -> float:
    r"""Proxy A-distance :math:`2(1 - 2\epsilon)` between the rows of ``A`` and ``B``.

    :math:`\epsilon` is the training error of a linear SVM (``LinearSVC``, C=1)
    told to separate ``A`` from ``B``, as in the BDA authors' release; clipped
    to ``[0, 2]``. Fewer than one row on a side gives 0.
    """
    if len(A) == 0 or len(B) == 0:
        return 0.0
    X = np.concatenate([A, B])
    y = np.concatenate([np.zeros(len(A), dtype=int), np.ones(len(B), dtype=int)])
    clf = LinearSVC(C=1.0, max_iter=2000, random_state=0)
    error = float(np.mean(clf.fit(X, y).predict(X) != y))
    return float(np.clip(2.0 * (1.0 - 2.0 * error), 0.0, 2.0))


def estimate_balance(Zs: np.ndarray, ys: np.ndarray, Zt: np.ndarray, yt: np.ndarray) -> float:
    r"""BDA's estimate of ``mu``: :math:`\bar d_c / (\bar d_c + d_M)`.

    ``d_M`` is the proxy A-distance between all source and all target rows,
    :math:`\bar d_c` the mean over the source classes ``c`` of the proxy
    A-distance between the source rows of class ``c`` and the target rows
    (pseudo-)labelled ``c`` (as the authors' release computes it; the paper
    writes :math:`1 - d_M / (d_M + \sum_c d_c)` with a sum). A large
    class-wise distance against the marginal one favours the conditional
    terms. 0.5 when both distances are 0.
    """
    d_m = proxy_a_distance(Zs, Zt)
    classes = np.unique(ys)
    d_c = float(np.mean([proxy_a_distance(Zs[ys == c], Zt[yt == c]) for c in classes]))
    if d_c + d_m <= 0:
        return 0.5
    return float(np.clip(d_c / (d_c + d_m), 0.0, 1.0))


class BDA(JDA):
    r"""Balanced Distribution Adaptation: JDA with a balance factor between the MMD terms.

    .. math:: \min_A (1 - \mu)\operatorname{tr}(A^\top F^\top M_0 F A)
              + \mu \sum_{c=1}^{C} \operatorname{tr}(A^\top F^\top M_c F A)
              + \lambda \|A\|_F^2 \quad\text{s.t.}\quad A^\top F^\top H F A = I

    :math:`M_0` is the marginal MMD matrix (times ``C``, as in the authors'
    code) and :math:`M_c` compares the source rows of class ``c`` with the
    target rows pseudo-labelled ``c``. ``mu = 0`` is TCA (marginal only),
    ``mu = 1`` aligns the class-conditional distributions only, and ``mu = 0.5``
    is :class:`JDA` (the same problem once ``M`` is at unit Frobenius norm).
    The pseudo-labels are re-estimated ``n_iter`` times as in :class:`JDA`, whose
    solver and iterations BDA runs.

    Parameters
    ----------
    n_components : int, default=100
        Embedding dimension ``k`` (clipped with a warning).
    mu : float in [0, 1] or "auto", default=0.5
        Balance factor :math:`\mu` (weight of the class-conditional terms).
        ``"auto"`` estimates it before every solve after the first from the
        previous embedding (:func:`estimate_balance`): proxy A-distances
        :math:`d = 2(1 - 2\epsilon)` of a linear SVM separating the domains
        (:math:`d_M`) and separating each class's source rows from the target
        rows pseudo-labelled with it (:math:`d_c`),
        :math:`\mu = \bar d_c / (\bar d_c + d_M)`.
    kernel : {"linear", "linear_dual", "rbf"}, default="linear"
        As in :class:`TCA`.
    reg : float, default=0.1
        Ridge :math:`\lambda > 0` (the paper's 0.1).
    n_iter : int, default=10
        Pseudo-label refinements after the first (TCA) solve.
    bandwidth : float, optional
        RBF bandwidth (median heuristic when ``None``).
    pseudo_labeler : classifier, optional
        Default ``KNeighborsClassifier(1)`` (the paper's 1-NN).
    n_landmarks : int, "auto" or None, default=None
        Nyström landmarks for the RBF kernel, as in :class:`TCA`.
    normalize_embedding : bool, default=True
        Unit-norm embedded rows, as in :class:`JDA` and the authors' release.
    estimator : estimator, optional
        Downstream model trained on the embedded source (+ labelled target).
    random_state : int, RandomState or None

    Attributes
    ----------
    projection_, eigenvalues_, n_components_, bandwidth_, n_landmarks_
        As in :class:`TCA`.
    mu_ : float
        Balance factor of the last solve (the given ``mu``, or the last estimate).
    pseudo_labels_, history_, n_iter_, neighbour_ratio_
        As in :class:`JDA`; each ``history_`` entry records the ``"mu"`` of its solve.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of the features seen during ``fit``; set only when the rows have
        string column names (e.g. a pandas DataFrame).

    See Also
    --------
    domainadapt.feature.JDA : The ``mu = 0.5`` case.
    domainadapt.feature.TCA : The ``mu = 0`` case, without iterations.
    domainadapt.feature.GFK : Geodesic flow kernel between the PCA subspaces.

    Notes
    -----
    Paper protocol on Office-Caltech10 SURF (as in the authors' release): each
    histogram L1-normalised and z-scored within its domain, then every row
    scaled to unit L2 norm; linear (primal) problem, ``k = 100``,
    ``reg = 0.1``, ``T = 10``, 1-NN. The release's W-BDA variant (class-prior
    weights in :math:`M_c`) is not implemented.

    References
    ----------
    J. Wang, Y. Chen, S. Hao, W. Feng, Z. Shen. "Balanced Distribution Adaptation
    for Transfer Learning". ICDM 2017, pp. 1129-1134.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from domainadapt.datasets import make_shifted_digits
    >>> from domainadapt.feature import BDA
    >>> source, target = make_shifted_digits("rotation", random_state=0)
    >>> model = BDA(n_components=20, mu=0.3, n_iter=3,
    ...             estimator=LogisticRegression(max_iter=1000))
    >>> model = model.fit(source, target.X)
    >>> model.transform(target.X[:5]).shape
    (5, 20)
    >>> model.mu_
    0.3
    >>> bool(model.score(target.X, target.y) > 0.8)
    True
    """

    _parameter_constraints: dict = {
        **JDA._parameter_constraints,
        "mu": [Interval(Real, 0, 1, closed="both"), StrOptions({"auto"})],
    }

    def __init__(
        self,
        n_components: int = 100,
        *,
        mu: float | str = 0.5,
        kernel: str = "linear",
        reg: float = 0.1,
        n_iter: int = 10,
        bandwidth: float | None = None,
        pseudo_labeler: Any = None,
        n_landmarks: int | str | None = None,
        normalize_embedding: bool = True,
        estimator: Any = None,
        random_state: Any = None,
    ):
        self.n_components = n_components
        self.mu = mu
        self.kernel = kernel
        self.reg = reg
        self.n_iter = n_iter
        self.bandwidth = bandwidth
        self.pseudo_labeler = pseudo_labeler
        self.n_landmarks = n_landmarks
        self.normalize_embedding = normalize_embedding
        self.estimator = estimator
        self.random_state = random_state

    def _balance(self, Z: np.ndarray, ns: int, source: Domain, pseudo: np.ndarray) -> float:
        if isinstance(self.mu, str):  # "auto"
            Zn = self._normalise(Z)
            mu = estimate_balance(Zn[:ns], source.y, Zn[ns:], pseudo)
        else:
            mu = float(self.mu)
        self.mu_ = mu
        return mu

    def _fit_transform_params(self, source: Domain, target: Domain) -> None:
        self.mu_ = 0.5 if isinstance(self.mu, str) else float(self.mu)
        self._fit_joint(source, target)
