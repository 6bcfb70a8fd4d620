r"""The Gaussian basis of the kernel density-ratio models (KLIEP, uLSIF and RuLSIF).

Both fit :math:`\hat r(x) = \sum_l \theta_l\, k_\sigma(x, c_l)` with the centres
:math:`c_l` drawn from the target rows and :math:`\sigma` chosen from a grid; only
the fit of :math:`\theta` differs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.utils import check_random_state

from .._domain import Domain
from .._kernels import bandwidth_grid, gaussian_kernel
from .._utils import flatten, random_subset

__all__ = ["basis_at", "draw_basis"]


def draw_basis(
    adapter: Any, source: Domain, target: Domain
) -> tuple[np.ndarray, np.ndarray, np.random.RandomState, np.ndarray, np.ndarray]:
    """The flattened source and target rows, the generator (``adapter.random_state``),
    the bandwidth grid (``adapter.bandwidths``) and ``adapter.n_centers`` centres."""
    Xs, Xt = flatten(source.X), flatten(target.X)
    rng = check_random_state(adapter.random_state)
    grid = bandwidth_grid(adapter.bandwidths, Xs, Xt, rng)
    centers = Xt[random_subset(len(Xt), adapter.n_centers, rng)]
    return Xs, Xt, rng, grid, centers


def basis_at(adapter: Any, X: Any) -> np.ndarray:
    """The fitted basis at new rows: :math:`k_\\sigma(x, c_l)` with ``adapter.centers_``
    and ``adapter.bandwidth_``, one column a centre."""
    X = flatten(adapter._check_X(X, accept_sparse=False))
    return gaussian_kernel(X, adapter.centers_, adapter.bandwidth_)
