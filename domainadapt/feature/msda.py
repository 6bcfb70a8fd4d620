"""Marginalized stacked denoising autoencoder (mSDA)."""

from __future__ import annotations

import warnings
from numbers import Integral, Real
from typing import Any

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from sklearn.utils._param_validation import HasMethods, StrOptions

from .._diagnostics import SMOOTH_RATIO_MIN, neighbour_label_ratio
from .._domain import Domain
from .._sparse import is_sparse, vstack_rows
from .._utils import Interval
from ..base import FeatureAdapter
from ..exceptions import NotApplicableWarning

__all__ = ["mSDA", "marginalized_denoiser"]

_NONLINEARITIES = ("tanh", "identity")


def marginalized_denoiser(X: np.ndarray, noise: float, reg: float) -> np.ndarray:
    r"""Closed-form weights of one marginalized denoising layer.

    .. math:: W = P Q^{-1},\quad
              Q_{ij} = S_{ij} q_i q_j\ (i \ne j),\ Q_{ii} = S_{ii} q_i,\quad
              P_{ij} = S_{ij} q_j

    with :math:`S = \bar X^\top \bar X` the scatter of the rows with a constant
    bias column appended, :math:`q = (1-p, \dots, 1-p, 1)` (the bias is never
    corrupted) and ``P`` the rows of :math:`S` of the real features. ``W``
    minimises the expected squared reconstruction error
    :math:`\mathbb{E}\,\|x - W\tilde x\|^2` over dropout corruptions
    :math:`\tilde x` that zero each feature with probability ``p``.
    ``reg`` is added to the diagonal of ``Q`` (solved with Cholesky).

    Parameters
    ----------
    X : ndarray or scipy sparse matrix of shape (n, d)
        A sparse ``X`` stays sparse: :math:`S` is formed as ``X.T @ X`` on it.
    noise : float
        Corruption probability ``p`` in [0, 1).
    reg : float
        Ridge on ``Q``.

    Returns
    -------
    ndarray of shape (d, d + 1)
        The last column multiplies the bias.
    """
    n, d = X.shape
    if is_sparse(X):  # S = [[X'X, X'1], [1'X, n]] without densifying X
        col = np.asarray(X.sum(axis=0), dtype=np.float64).ravel()
        S = np.empty((d + 1, d + 1))
        S[:d, :d] = (X.T @ X).toarray()
        S[:d, d] = S[d, :d] = col
        S[d, d] = n
    else:
        Xb = np.concatenate([X, np.ones((n, 1))], axis=1)
        S = Xb.T @ Xb
    q = np.full(d + 1, 1.0 - noise)
    q[-1] = 1.0
    Q = S * np.outer(q, q)
    Q.flat[:: d + 2] = np.diag(S) * q
    P = S[:d] * q[None, :]
    Q.flat[:: d + 2] += reg
    # W = P Q^{-1}  <=>  W^T = Q^{-1} P^T (Q symmetric positive definite)
    try:
        return scipy.linalg.solve(Q, P.T, assume_a="pos").T
    except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
        raise ValueError(
            "mSDA: the corrupted scatter matrix Q is singular (constant or duplicated "
            f"features?); increase reg (got {reg!r})."
        ) from None


class mSDA(FeatureAdapter):  # noqa: N801 - the paper's name
    r"""Marginalized stacked denoising autoencoder, fitted in closed form on both domains.

    .. math:: W_l = \arg\min_W \mathbb{E}_{\tilde h}\,\|h_{l-1} - W \tilde h_{l-1}\|^2,
              \quad h_l = \tanh(W_l [h_{l-1}; 1])

    Each layer is a linear denoiser whose expected loss under dropout noise is
    minimised exactly (:func:`marginalized_denoiser`), learnt on the source and
    target rows together, so features that co-occur across domains
    reconstruct each other. ``n_layers`` layers are stacked; the output is
    :math:`[x, h_1, \dots, h_L]` (or :math:`h_L` alone).

    Parameters
    ----------
    noise : float, default=0.5
        Corruption probability ``p`` in [0, 1).
    n_layers : int, default=5
    reg : float, default=1e-5
        Ridge added to ``Q`` (as in the paper's code).
    nonlinearity : {"tanh", "identity"}, default="tanh"
    scale : {"maxabs", None}, default="maxabs"
        Input scaling: ``"maxabs"`` divides every feature by its largest
        absolute value over the pooled source and target rows (zeros stay
        zeros, binary features are unchanged, counts land in [0, 1]: the input
        range of the paper's bag-of-words features, on which the ``tanh``
        layers do not saturate). ``None`` feeds the rows as given (the
        behaviour before 0.2). See Notes.
    concatenate : bool, default=True
        Output the input and every layer (the paper's representation) rather
        than the last layer only.
    estimator : estimator, optional
        Downstream model trained on the new representation.

    Attributes
    ----------
    weights_ : list of ndarray of shape (n_features, n_features + 1)
        Layer matrices (last column: bias).
    scale_ : ndarray of shape (n_features,)
        Divisor of every input feature (ones with ``scale=None``).
    n_features_out_ : int
    neighbour_ratio_ : float
        Cross-validated 1-nearest-neighbour accuracy on the source rows divided
        by a logistic regression's
        (:func:`domainadapt._diagnostics.neighbour_label_ratio`); at or above
        0.9 ``fit`` issues a :class:`~domainadapt.NotApplicableWarning` (see
        Notes).
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of the features seen during ``fit``; set only when the rows have
        string column names (e.g. a pandas DataFrame).

    See Also
    --------
    domainadapt.feature.MMDFeatureSelection : Keep the least shifted features.
    domainadapt.feature.CORAL : Match the second-order statistics.
    domainadapt.feature.TCA : A projection matching the kernel means.

    Notes
    -----
    Sparse input (SciPy CSR, CSC, COO, ``sparray``; e.g. word counts) is kept
    sparse: the scaling and the first layer's scatter :math:`X^\top X` are computed
    on the sparse rows; the layers' outputs, and so the representation, are dense
    arrays of ``n_features`` columns each. Cost per layer: :math:`O(n d^2 + d^3)`
    (:math:`O(\mathrm{nnz}\, d + d^3)` for the first layer on sparse rows), so
    keep ``d`` to a few thousand words.

    Input scaling: on raw counts the first layer's ``tanh`` saturates
    (measured on word counts: +12.1 points over no adaptation with
    ``"maxabs"``, -1.7 without; ``benchmarks/results/defaults.md``). On
    binary bag-of-words inputs ``"maxabs"`` changes nothing.

    mSDA is meant for sparse features whose co-occurrences link domain-specific
    and shared features (bag-of-words, visual-word histograms). On dense,
    smooth signals (pixels) its denoisers reconstruct every pixel from its
    neighbours and the stacked representation hurts whatever the scaling
    (digits -36 points, MNIST/USPS -13). Such data are recognised by
    nearest neighbours classifying the source as well as a linear model
    does: ``fit`` warns (:class:`~domainadapt.NotApplicableWarning`) when
    ``neighbour_ratio_ >= 0.9``. Measured on the source rows of our
    collections (seed 0): 1.03-1.06 on digits and MNIST/USPS, where mSDA
    loses 5 to 39 points, and 0.50-0.76 on word counts and Office-Caltech
    SURF, where it gains 3 to 15 points on average over a collection.

    References
    ----------
    M. Chen, Z. Xu, K. Weinberger, F. Sha. "Marginalized Denoising Autoencoders
    for Domain Adaptation". ICML 2012.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from domainadapt.datasets import make_topic_shift
    >>> from domainadapt.feature import mSDA
    >>> source, target = make_topic_shift(n_source=300, n_target=300, n_features=100,
    ...                                   random_state=0)
    >>> model = mSDA(n_layers=2, estimator=LogisticRegression(max_iter=1000))
    >>> model = model.fit(source, target.X)
    >>> model.transform(target.X[:5]).shape  # the input and two layers
    (5, 300)
    >>> model.predict(target.X[:5]).shape
    (5,)
    """

    _parameter_constraints: dict = {
        **FeatureAdapter._parameter_constraints,
        "noise": [Interval(Real, 0, 1, closed="left")],
        "n_layers": [Interval(Integral, 1, None, closed="left")],
        "reg": [Interval(Real, 0, None, closed="left")],
        "nonlinearity": [StrOptions(set(_NONLINEARITIES))],
        "scale": [StrOptions({"maxabs"}), None],
        "concatenate": ["boolean"],
        "estimator": [HasMethods(["fit"]), None],
    }

    def __init__(
        self,
        noise: float = 0.5,
        *,
        n_layers: int = 5,
        reg: float = 1e-5,
        nonlinearity: str = "tanh",
        scale: str | None = "maxabs",
        concatenate: bool = True,
        estimator: Any = None,
    ):
        self.noise = noise
        self.n_layers = n_layers
        self.reg = reg
        self.nonlinearity = nonlinearity
        self.scale = scale
        self.concatenate = concatenate
        self.estimator = estimator

    def _activate(self, A: np.ndarray) -> np.ndarray:
        return np.tanh(A) if self.nonlinearity == "tanh" else A

    #: The first layer and the scatter matrix work on sparse rows.
    _accept_sparse = True

    def _layer(self, H: Any, W: np.ndarray) -> np.ndarray:
        return self._activate(np.asarray(H @ W[:, :-1].T) + W[:, -1])

    @staticmethod
    def _scaled(X: Any, scale: np.ndarray) -> Any:
        """``X / scale`` per column (CSR stays CSR)."""
        if is_sparse(X):
            return (X.astype(np.float64) @ sp.diags(1.0 / scale)).tocsr()
        return np.asarray(X, dtype=np.float64) / scale

    def _fit_transform_params(self, source: Domain, target: Domain) -> None:
        noise, n_layers, reg = float(self.noise), self.n_layers, float(self.reg)
        self.neighbour_ratio_ = neighbour_label_ratio(source.X, source.y)
        if self.neighbour_ratio_ >= SMOOTH_RATIO_MIN:
            warnings.warn(
                f"mSDA: on the source rows, 1-nearest-neighbour accuracy is "
                f"{self.neighbour_ratio_:.2f} x a linear model's (cross-validated): the rows "
                "look like dense, smooth signals (pixels) rather than sparse co-occurring "
                "features, where mSDA's denoisers are likely to do worse than no adaptation "
                "(measured: -36 points on digits, -13 on MNIST/USPS). Prefer CORAL, "
                "SubspaceAlignment or LabelPropagation here.",
                NotApplicableWarning,
                stacklevel=4,
            )
        H = vstack_rows([source.X, target.X]).astype(np.float64, copy=False)
        scale = np.ones(H.shape[1])
        if self.scale == "maxabs":
            if is_sparse(H):
                scale = abs(H).max(axis=0).toarray().ravel()
            else:
                scale = np.abs(H).max(axis=0)
            scale[~(scale > 0)] = 1.0
            H = self._scaled(H, scale)
        self.scale_ = scale
        weights = []
        for _ in range(n_layers):
            W = marginalized_denoiser(H, noise, reg)
            weights.append(W)
            H = self._layer(H, W)
        self.weights_ = weights
        d = source.X.shape[1]
        self.n_features_out_ = d * (n_layers + 1) if self.concatenate else d

    def _transform(self, X: np.ndarray, domain: str) -> np.ndarray:
        H = self._scaled(X, self.scale_)
        outs = [H.toarray() if is_sparse(H) else H]  # the layers' outputs are dense
        for W in self.weights_:
            H = self._layer(H, W)
            outs.append(H)
        out = np.concatenate(outs, axis=1) if self.concatenate else H
        return out.astype(X.dtype, copy=False)
