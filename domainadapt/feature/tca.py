"""Transfer Component Analysis (TCA) and Joint Distribution Adaptation (JDA).

Both learn a projection that keeps the variance of the pooled data while making
the kernel mean embeddings of source and target (and, for JDA, of each class)
close. They share one generalized symmetric eigen-solver,
:func:`mmd_embedding`, that works on an ``(n, p)`` feature matrix ``F``:

.. math:: \\max_A \\operatorname{tr}(A^\\top F^\\top H F A)
          \\quad\\text{s.t.}\\quad A^\\top (F^\\top M F + \\mu I) A = I

i.e. ``F^T H F a = phi (F^T M F + mu I) a`` with the ``k`` largest ``phi``;
the embedding is ``Z = F A``. ``H`` is the centring matrix and ``M = E E^T`` a
low-rank MMD matrix given by its factor ``E``; neither ``n x n`` matrix is ever
formed. Which ``F``:

* linear kernel: ``F = X`` (the primal problem of the JDA paper, ``d x d``;
  when ``d > n`` the same problem restricted to the row space of ``X``);
* ``"linear_dual"``: the kernel problem for ``K = X X^T`` (the ridge falls on the
  dual coefficients, as in the TCA paper and the JDA release's ``'linear'``
  option), solved exactly as ``F = U S^2 = X V S`` with ``X = U S V^T`` (the
  eigenvectors lie in the range of ``U``), so no ``n x n`` matrix is formed;
* other kernels, exact: ``F = K`` (the ``n x n`` kernel matrix; the TCA paper's
  ``(K L K + mu I)^{-1} K H K``);
* other kernels, Nyström with ``m`` landmarks: ``F = U S^2`` where
  ``U S^2 U^T`` is the Nyström approximation of ``K`` (rank ``<= m``). The
  problem restricted to ``W = U a`` is exactly the kernel problem for the
  approximated kernel, at ``O(n m^2 + m^3)`` time and ``O(n m)`` memory; with
  ``m = n`` it is the exact problem. TCA computes this path in torch on its
  ``device`` (the ``O(n m d + n m^2)`` products; the ``m x m`` eigenproblems
  stay in NumPy), JDA in NumPy.
"""

from __future__ import annotations

import warnings
from numbers import Integral, Real
from typing import Any

import numpy as np
import scipy.linalg
import torch
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, StrOptions

from .._domain import Domain
from .._kernels import gaussian_kernel, gaussian_kernel_tensor, resolve_bandwidth
from .._utils import Interval, resolve_device
from ..base import FeatureAdapter

__all__ = ["TCA", "centred_scatter", "mmd_embedding"]

_KERNELS = ("linear", "linear_dual", "rbf")
#: Number of pooled rows above which ``n_landmarks="auto"`` switches Nyström on.
AUTO_NYSTROEM_THRESHOLD = 2000
#: Landmarks used by ``n_landmarks="auto"``.
AUTO_NYSTROEM_LANDMARKS = 500
#: Rows per block when TCA's Nyström path embeds new rows on its device.
TRANSFORM_BLOCK_ROWS = 65_536


def centred_scatter(F: np.ndarray) -> np.ndarray:
    """``F^T H F`` (symmetrised), with ``H`` the centring matrix, never formed."""
    centred = F - F.mean(axis=0)
    scatter = centred.T @ centred
    return 0.5 * (scatter + scatter.T)


def mmd_embedding(
    F: np.ndarray,
    E: np.ndarray,
    mu: float,
    n_components: int,
    scatter: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Leading generalized eigenvectors of ``(F^T H F, F^T E E^T F + mu I)``.

    Parameters
    ----------
    F : ndarray of shape (n, p)
        Features (``X``, the kernel matrix or its Nyström factor).
    E : ndarray of shape (n, r)
        Factor of the MMD matrix ``M = E E^T``.
    mu : float
        Ridge (> 0), which makes the right-hand matrix positive definite.
    n_components : int
        ``k <= p``.
    scatter : ndarray of shape (p, p), optional
        :func:`centred_scatter` of ``F`` when already computed (JDA reuses it).

    Returns
    -------
    values : ndarray of shape (k,)
        The ``k`` largest eigenvalues ``phi``, in decreasing order.
    vectors : ndarray of shape (p, k)
        Eigenvectors, normalised by ``A^T (F^T M F + mu I) A = I``.
    """
    if scatter is None:
        scatter = centred_scatter(F)
    return _leading_eigenpairs(scatter, F.T @ E, mu, n_components, lambda: float(np.abs(F).max()))


def _leading_eigenpairs(
    scatter: np.ndarray, FE: np.ndarray, mu: float, n_components: int, feature_scale: Any
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`mmd_embedding` from ``F^T H F`` and ``F^T E`` (``feature_scale()``: max ``|F|``)."""
    p = scatter.shape[0]
    constraint = FE @ FE.T
    constraint.flat[:: p + 1] += mu
    constraint = 0.5 * (constraint + constraint.T)
    # the divide-and-conquer driver on the full problem is ~10x faster than
    # computing the subset with "gvx" (measured, p = 256)
    try:
        values, vectors = scipy.linalg.eigh(scatter, constraint, driver="gvd")
    except np.linalg.LinAlgError:
        # F^T M F has rank r << p, so only the ridge mu makes it positive definite; on
        # features of huge scale mu vanishes next to it (seen on values ~1e12)
        scale = feature_scale()
        raise ValueError(
            f"source X and target X give TCA/JDA a singular eigenproblem: mu={mu:g} is "
            f"negligible next to the features (largest |value| {scale:.3g}). Standardise X "
            "first (e.g. make_da_pipeline(StandardScaler(), TCA())) or increase mu."
        ) from None
    order = np.argsort(values)[::-1][:n_components]
    return values[order], vectors[:, order]


def marginal_factor(n_source: int, n_target: int) -> np.ndarray:
    """``e`` with ``e_i = 1/n_s`` on source rows and ``-1/n_t`` on target rows (TCA's ``L = e e^T``)."""
    return np.concatenate([np.full(n_source, 1.0 / n_source), np.full(n_target, -1.0 / n_target)])


def conditional_factors(
    y_source: np.ndarray, y_target: np.ndarray, classes: np.ndarray
) -> np.ndarray:
    """Columns ``e_c`` of JDA's class-conditional MMD matrices ``M_c = e_c e_c^T``.

    ``e_c`` is ``1/n_s^c`` on source rows of class ``c``, ``-1/n_t^c`` on target
    rows (pseudo-)labelled ``c`` and 0 elsewhere; a class absent from either
    domain contributes nothing.
    """
    cols = []
    for c in classes:
        s = y_source == c
        t = y_target == c
        if s.any() and t.any():
            cols.append(np.concatenate([s / s.sum(), -(t / t.sum())]))
    if not cols:
        return np.zeros((len(y_source) + len(y_target), 0))
    return np.stack(cols, axis=1)


def normalise_factor(E: np.ndarray) -> np.ndarray:
    """Scale ``E`` so that ``M = E E^T`` has unit Frobenius norm (``||E^T E||_F = 1``)."""
    norm = float(np.linalg.norm(E.T @ E))
    return E / np.sqrt(norm) if norm > 0 else E


def _clip_components(n_components: int, available: int, owner: str, why: str) -> int:
    if n_components > available:
        warnings.warn(
            f"{owner}: n_components={n_components} exceeds the {available} dimensions "
            f"available ({why}); using n_components={available}.",
            UserWarning,
            stacklevel=4,
        )
        return available
    return n_components


class _KernelEmbedding(FeatureAdapter):
    """Shared machinery of TCA and JDA: features ``F``, solving, out-of-sample rows."""

    _parameter_constraints: dict = {
        **FeatureAdapter._parameter_constraints,
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "kernel": [StrOptions(set(_KERNELS))],
        "bandwidth": [Interval(Real, 0, None, closed="neither"), StrOptions({"median"}), None],
        "n_landmarks": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"}), None],
        "estimator": [HasMethods(["fit"]), None],
        "random_state": ["random_state"],
    }

    def _resolve_landmarks(self, n: int) -> int | None:
        m = self.n_landmarks
        if m is None or self.kernel != "rbf":
            return None
        if isinstance(m, str):  # "auto"
            return AUTO_NYSTROEM_LANDMARKS if n > AUTO_NYSTROEM_THRESHOLD else None
        return min(int(m), n)

    def _kernel(self, X: np.ndarray, C: np.ndarray) -> np.ndarray:
        if self.kernel == "linear":
            return X @ C.T
        return gaussian_kernel(X, C, self.bandwidth_)

    def _prepare_features(
        self, X: np.ndarray, n_source: int, rng: Any, device: torch.device | None = None
    ) -> Any:
        """Build ``F`` for the pooled rows ``X`` and the map from new rows to ``F``'s space.

        Sets ``self._basis`` (rows the kernel is taken against, or ``None`` for
        the linear primal) and ``self._to_features`` (``(m, p)`` such that
        ``F = k(X, basis) @ _to_features``). With a ``device``, the Nyström path
        runs in torch there and returns ``F`` as a float64 tensor on it (the
        other paths ignore ``device`` and return NumPy arrays).
        """
        n, d = X.shape
        if self.kernel == "linear_dual":
            # K = X X^T = U S^2 U^T: the kernel problem restricted to a = U b is exact
            # (a component outside the range of U only adds to the ridge), with F = U S^2
            # = X V S; a new row x has k(x, X) U = x V S
            self.bandwidth_ = None
            self.n_landmarks_ = None
            self._basis = None
            _, s, vt = np.linalg.svd(X, full_matrices=False)
            keep = s > s[0] * max(n, d) * np.finfo(np.float64).eps
            self._to_features = vt[keep].T * s[keep]  # (d, r)
            return X @ self._to_features
        if self.kernel == "linear":
            self.bandwidth_ = None
            self.n_landmarks_ = None
            self._basis = None
            if d <= n:
                self._to_features = None
                return X
            # restrict the primal problem to the row space of X (exact: the
            # leading eigenvectors have no component outside it)
            _, s, vt = np.linalg.svd(X, full_matrices=False)
            keep = s > s[0] * max(n, d) * np.finfo(np.float64).eps
            self._to_features = vt[keep].T  # (d, r)
            return X @ self._to_features
        self.bandwidth_ = resolve_bandwidth(
            self.bandwidth, X[:n_source], X[n_source:], seed=int(rng.randint(2**31 - 1))
        )
        m = self._resolve_landmarks(n)
        self.n_landmarks_ = m
        if m is None:
            self._basis = X
            self._to_features = None
            return self._kernel(X, X)
        idx = np.sort(rng.choice(n, size=m, replace=False)) if m < n else np.arange(n)
        landmarks = X[idx]
        if device is not None:
            return self._nystroem_tensor(X, landmarks, device)
        C = self._kernel(X, landmarks)  # (n, m)
        lam, vec = np.linalg.eigh(self._kernel(landmarks, landmarks))
        keep = lam > lam.max() * m * np.finfo(np.float64).eps
        root_inv = vec[:, keep] / np.sqrt(lam[keep])  # W_mm^{-1/2} on its range
        phi = C @ root_inv  # K ~= phi phi^T
        s2, v = np.linalg.eigh(phi.T @ phi)
        keep = s2 > s2.max() * phi.shape[1] * np.finfo(np.float64).eps
        # F = U S^2 = phi V S (U S^2 U^T is the Nyström kernel)
        self._to_features = root_inv @ (v[:, keep] * np.sqrt(s2[keep]))
        self._basis = landmarks
        return C @ self._to_features

    def _nystroem_tensor(
        self, X: np.ndarray, landmarks: np.ndarray, device: torch.device
    ) -> torch.Tensor:
        """The Nyström branch of :meth:`_prepare_features` in torch on ``device`` (float64).

        The ``O(n m d)`` kernel and the ``O(n m^2)`` products run on ``device``; the
        ``m x m`` eigenproblems run in NumPy on the host with the same cut-offs as
        the NumPy branch. ``phi^T phi`` is formed as ``R^T (C^T C) R`` (``R`` the
        inverse root of the landmark kernel), so the ``(n, m)`` matrix ``phi`` is
        never built.
        """
        m = len(landmarks)
        C = gaussian_kernel_tensor(
            _as_tensor(X, device), _as_tensor(landmarks, device), self.bandwidth_
        )
        lam, vec = np.linalg.eigh(self._kernel(landmarks, landmarks))
        keep = lam > lam.max() * m * np.finfo(np.float64).eps
        root_inv = vec[:, keep] / np.sqrt(lam[keep])  # W_mm^{-1/2} on its range
        gram = (C.T @ C).cpu().numpy()
        gram = root_inv.T @ (0.5 * (gram + gram.T)) @ root_inv  # phi^T phi
        s2, v = np.linalg.eigh(0.5 * (gram + gram.T))
        keep = s2 > s2.max() * gram.shape[1] * np.finfo(np.float64).eps
        self._to_features = root_inv @ (v[:, keep] * np.sqrt(s2[keep]))
        self._basis = landmarks
        return C @ _as_tensor(self._to_features, device)

    def _solve(
        self, F: np.ndarray, E: np.ndarray, mu: float, k: int, scatter: np.ndarray | None = None
    ) -> np.ndarray:
        values, vectors = mmd_embedding(F, E, mu, k, scatter)
        self.eigenvalues_ = values
        return vectors

    def _finish_projection(self, vectors: np.ndarray) -> None:
        """Store ``projection_``: new rows map to ``k(X, basis) @ projection_``."""
        proj = vectors if self._to_features is None else self._to_features @ vectors
        self.projection_ = proj

    def _transform(self, X: np.ndarray, domain: str) -> np.ndarray:
        X64 = np.asarray(X, dtype=np.float64)
        if self._basis is None:
            Z = X64 @ self.projection_
        else:
            Z = self._kernel(X64, self._basis) @ self.projection_
        return Z.astype(X.dtype, copy=False)

    def _common_checks(self) -> int:
        """``n_components`` (the shared parameters are declared in ``_parameter_constraints``)."""
        return int(self.n_components)


class TCA(_KernelEmbedding):
    r"""Transfer Component Analysis: a projection that matches the domains' kernel means.

    .. math:: \max_W \operatorname{tr}\big((W^\top(KLK + \mu I)W)^{-1} W^\top KHKW\big)

    The ``n_components`` leading eigenvectors of :math:`(KLK+\mu I)^{-1}KHK`,
    found as a symmetric generalized eigenproblem (no inverse is formed);
    source and target rows are embedded as :math:`K(x, \cdot)\, W`.

    Parameters
    ----------
    n_components : int, default=30
        Dimension of the embedding; clipped (with a warning) to the dimensions
        available (``n_features`` for the linear kernel, the rank of the
        kernel otherwise).
    kernel : {"linear", "linear_dual", "rbf"}, default="linear"
        ``"linear"`` solves the primal problem in ``d`` dimensions,
        :math:`(X^\top H X) a = \phi (X^\top L X + \mu I) a`, embedding
        :math:`X A` (the JDA paper's form; its ridge is :math:`\mu\|A\|_F^2`,
        the RKHS norm of the projection, rather than :math:`\mu\|W\|_F^2`).
        ``"rbf"``: Gaussian kernel :math:`\exp(-\|x-x'\|^2/(2\sigma^2))`.
        ``"linear_dual"``: the same linear kernel in the kernel form of the
        TCA paper, :math:`K = XX^\top`, whose ridge :math:`\mu\|W\|_F^2`
        falls on the dual coefficients (what the JDA authors' code calls
        ``'linear'``); measured against the primal it penalises the
        low-variance directions more. Solved exactly without an ``n x n``
        matrix (one thin SVD of the pooled rows).
    mu : float, default=1.0
        Trade-off :math:`\mu > 0` between the MMD term and the ridge.
    bandwidth : float, optional
        :math:`\sigma` of the RBF kernel; ``None`` is the median heuristic on
        the pooled rows.
    n_landmarks : int, "auto" or None, default=None
        Nyström approximation of the RBF kernel with this many landmark rows
        (uniformly sampled): time :math:`O(n m^2 + m^3)`, memory :math:`O(nm)`,
        no ``n x n`` matrix. ``"auto"`` uses 500 landmarks when
        ``n_s + n_t > 2000`` and the exact kernel otherwise; ``None`` is exact.
    estimator : estimator, optional
        Downstream model trained on the embedded source (+ labelled target).
    random_state : int, RandomState or None
        Landmark sampling and the bandwidth heuristic's subsample.
    device : str or torch.device, default="auto"
        Where the Nyström path (``kernel="rbf"`` with landmarks) computes its
        kernel and matrix products, at fit and at ``transform``: ``"auto"`` picks
        CUDA when available, else the CPU; ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or
        a :class:`torch.device` are used as given (a CUDA device on a machine
        without CUDA is an error). float64 on every device: the landmark kernel's
        inverse root amplifies rounding errors, so float32 would change the
        embedding (datacenter GPUs run float64 at half their float32 rate;
        consumer GPUs are much slower in float64). The linear kernels and the
        exact RBF kernel run in NumPy on the CPU whatever ``device``. Fitted
        attributes are NumPy arrays on every device.

    Attributes
    ----------
    projection_ : ndarray of shape (n_basis, n_components)
        Rows map to :math:`k(X, \text{basis}) \cdot` ``projection_`` (for the
        linear kernel: ``X @ projection_``, shape (n_features, n_components)).
    eigenvalues_ : ndarray of shape (n_components,)
        The generalized eigenvalues :math:`\phi` (variance kept per unit of MMD + ridge).
    n_components_ : int
    bandwidth_ : float or None
    n_landmarks_ : int or None
        Landmarks used (``None``: exact kernel or linear primal).
    device_ : torch.device
        Where the Nyström path ran (the resolved ``device``); the CPU when the
        solve ran in NumPy (no landmarks).
    mmd_ : float
        Linear-kernel MMD² between the embedded source and target,
        :math:`\operatorname{tr}(Z^\top L Z)` (``L`` at unit Frobenius norm).
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of the features seen during ``fit``; set only when the rows have
        string column names (e.g. a pandas DataFrame).

    See Also
    --------
    domainadapt.feature.JDA : TCA plus class-conditional MMD from pseudo-labels.
    domainadapt.feature.SubspaceAlignment : Align the PCA bases of the domains.
    domainadapt.feature.CORAL : Match the second-order statistics.

    Notes
    -----
    The MMD matrix :math:`L = ee^\top` is scaled to unit Frobenius norm, as in
    the JDA authors' release, so that ``mu`` keeps its meaning whatever
    :math:`n_s, n_t`.

    References
    ----------
    S. J. Pan, I. W. Tsang, J. T. Kwok, Q. Yang. "Domain Adaptation via Transfer
    Component Analysis". IEEE Trans. Neural Networks 22(2), 2011.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from domainadapt.datasets import make_shifted_digits
    >>> from domainadapt.feature import TCA
    >>> source, target = make_shifted_digits("rotation", random_state=0)
    >>> model = TCA(n_components=20, estimator=LogisticRegression(max_iter=1000))
    >>> model = model.fit(source, target.X)
    >>> model.transform(target.X[:5]).shape
    (5, 20)
    >>> bool(model.score(target.X, target.y) > 0.8)
    True
    """

    _parameter_constraints: dict = {
        **_KernelEmbedding._parameter_constraints,
        "mu": [Interval(Real, 0, None, closed="neither")],
        "device": [str, torch.device],
    }

    def __init__(
        self,
        n_components: int = 30,
        *,
        kernel: str = "linear",
        mu: float = 1.0,
        bandwidth: float | None = None,
        n_landmarks: int | str | None = None,
        estimator: Any = None,
        random_state: Any = None,
        device: Any = "auto",
    ):
        self.n_components = n_components
        self.kernel = kernel
        self.mu = mu
        self.bandwidth = bandwidth
        self.n_landmarks = n_landmarks
        self.estimator = estimator
        self.random_state = random_state
        self.device = device

    def _fit_transform_params(self, source: Domain, target: Domain) -> None:
        k = self._common_checks()
        mu = float(self.mu)
        device = resolve_device(self.device, owner=type(self).__name__)
        rng = check_random_state(self.random_state)
        X = np.concatenate([source.X, target.X]).astype(np.float64, copy=False)
        ns = len(source.X)
        F = self._prepare_features(X, ns, rng, device=device)
        k = _clip_components(k, F.shape[1], "TCA", "the rank of the feature space")
        self.n_components_ = k
        E = normalise_factor(marginal_factor(ns, len(target.X))[:, None])
        if isinstance(F, torch.Tensor):  # the Nyström path, on `device`
            self.device_ = device
            centred = F - F.mean(0)
            scatter = (centred.T @ centred).cpu().numpy()
            del centred
            FE = (F.T @ _as_tensor(E, device)).cpu().numpy()
            values, vectors = _leading_eigenpairs(
                0.5 * (scatter + scatter.T), FE, mu, k, lambda: float(F.abs().max())
            )
            self.eigenvalues_ = values
            self._finish_projection(vectors)
            self.mmd_ = float(np.sum((FE.T @ vectors) ** 2))  # E^T Z = (F^T E)^T A
            return
        self.device_ = torch.device("cpu")
        vectors = self._solve(F, E, mu, k)
        self._finish_projection(vectors)
        Z = F @ vectors
        self.mmd_ = float(np.sum((E.T @ Z) ** 2))

    def _transform(self, X: np.ndarray, domain: str) -> np.ndarray:
        if self.n_landmarks_ is None:  # linear or exact kernel: NumPy
            return super()._transform(X, domain)
        device = getattr(self, "device_", torch.device("cpu"))  # absent: pickled by 0.2.0
        if device.type == "cuda" and not torch.cuda.is_available():
            device = torch.device("cpu")  # fitted on a GPU, loaded where there is none
        X64 = np.asarray(X, dtype=np.float64)
        basis = _as_tensor(self._basis, device)
        proj = _as_tensor(self.projection_, device)
        Z = np.empty((len(X64), proj.shape[1]))
        for start in range(0, len(X64), TRANSFORM_BLOCK_ROWS):
            rows = _as_tensor(X64[start : start + TRANSFORM_BLOCK_ROWS], device)
            block = gaussian_kernel_tensor(rows, basis, self.bandwidth_) @ proj
            Z[start : start + len(rows)] = block.cpu().numpy()
        return Z.astype(X.dtype, copy=False)


def _as_tensor(a: np.ndarray, device: torch.device) -> torch.Tensor:
    """``a`` as a float64 tensor on ``device`` (read-only or strided input is copied first)."""
    return torch.from_numpy(np.require(a, np.float64, ["C", "W"])).to(device)


def __getattr__(name: str) -> Any:
    """``JDA`` moved to :mod:`domainadapt.feature.jda`; ``from .tca import JDA`` still works."""
    if name == "JDA":
        from .jda import JDA  # noqa: PLC0415 - lazy: jda imports this module

        return JDA
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
