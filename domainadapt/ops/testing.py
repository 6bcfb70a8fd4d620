"""Kernel two-sample permutation test (Gretton et al., JMLR 2012)."""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import Tensor

from ._options import resolve_mmd_options, takes_mmd_options
from ._tiled import tiled_bilinear
from ._validation import (
    ESTIMATORS,
    check_block_size,
    check_choice,
    check_features,
    check_pair,
    check_weights,
)
from .kernels import DEFAULT_BLOCK_SIZE, compute_dtype, direct_kernel, kernel_diag, make_kernel
from .mmd import _linear_time, mmd_coefficients

__all__ = ["MMDTestResult", "mmd_test"]

#: :class:`._options.MMDOptions` that the permutation test does not take.
_UNSUPPORTED_OPTIONS = frozenset({"group", "backend"})

#: Pooled sizes up to this build the kernel matrix once; larger ones are tiled.
_FULL_MATRIX_MAX = 4096


class MMDTestResult(NamedTuple):
    """Result of :func:`mmd_test`.

    Examples
    --------
    A shift of one standard deviation beats every one of 100 shuffles, so the
    p-value is the smallest possible, ``1 / 101``:

    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> X = torch.randn(50, 3, generator=g)
    >>> result = mmd_test(X, X + 1.0, n_permutations=100, seed=0)
    >>> round(result.p_value, 4), tuple(result.null_distribution.shape)
    (0.0099, (100,))
    >>> bool(result.statistic > result.null_distribution.max())
    True
    >>> statistic, p_value, null = result  # a named tuple
    """

    statistic: float
    """MMD² estimate of the observed split."""
    p_value: float
    """Permutation p-value ``(1 + #{null >= statistic}) / (1 + n_permutations)``."""
    null_distribution: Tensor
    """The ``n_permutations`` statistics of the shuffled splits."""


@takes_mmd_options(exclude=_UNSUPPORTED_OPTIONS)
@torch.no_grad()
def mmd_test(
    X: Tensor,
    Y: Tensor,
    *,
    x_weights: Tensor | None = None,
    y_weights: Tensor | None = None,
    n_permutations: int = 1000,
    seed: int = 0,
    batch_size: int = 128,
    **options: Any,
) -> MMDTestResult:
    """Two-sample permutation test of :math:`H_0: P_X = P_Y` with the MMD² statistic.

    .. math:: p = \\frac{1 + \\#\\{b : \\widehat{\\mathrm{MMD}}^2_{\\pi_b} \\ge
       \\widehat{\\mathrm{MMD}}^2\\}}{1 + B}

    The pooled sample is shuffled ``n_permutations`` times (weights travel with their
    rows); the bandwidth is fixed once on the pooled sample, so every statistic uses
    the same kernel. The kernel matrix is built once for pooled sizes up to 4096,
    beyond that each batch of permutations is one tiled pass (``K @ C`` with one
    column per permutation). Gretton et al., JMLR 2012.

    Parameters
    ----------
    X : Tensor of shape (n, d)
    Y : Tensor of shape (m, d)
    kernel, bandwidth, multipliers, estimator, x_weights, y_weights, degree, gamma, coef0,
    heuristic_samples
        As in :func:`domainadapt.ops.mmd` (``group`` is not supported).
    n_permutations : int
        Number of random splits.
    seed : int
        Seed of the permutations (deterministic).
    block_size : int, optional
        Tile edge of the large-input path.
    batch_size : int
        Permutations evaluated per pass.
    check_finite : bool, optional
        As in :func:`domainadapt.ops.mmd`.

    Returns
    -------
    MMDTestResult
        ``(statistic, p_value, null_distribution)``.

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> X = torch.randn(100, 3, generator=g)
    >>> Y = torch.randn(100, 3, generator=g) + 1.0
    >>> mmd_test(X, Y, n_permutations=200).p_value < 0.05
    True
    """
    o = resolve_mmd_options("mmd_test", options, exclude=_UNSUPPORTED_OPTIONS)
    estimator, check_finite = o.estimator, o.check_finite
    check_features("X", X, check_finite)
    check_features("Y", Y, check_finite)
    check_pair(X, Y)
    check_choice("estimator", estimator, ESTIMATORS)
    block = check_block_size(o.block_size) or DEFAULT_BLOCK_SIZE
    if (
        isinstance(n_permutations, bool)
        or not isinstance(n_permutations, int)
        or n_permutations < 1
    ):
        raise ValueError(f"n_permutations must be a positive int, got {n_permutations!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    n, m = X.shape[0], Y.shape[0]
    if estimator in ("unbiased", "linear") and (n < 2 or m < 2):
        raise ValueError(
            f"estimator={estimator!r} needs at least 2 samples in X and in Y, got n={n}, m={m}"
        )
    wx = check_weights("x_weights", x_weights, n, X, check_finite)
    wy = check_weights("y_weights", y_weights, m, Y, check_finite)
    dt = compute_dtype(X, Y)
    dev = X.device
    with torch.autocast(dev.type, enabled=False):
        Z = torch.cat([X, Y]).to(dt)
        N = n + m
        spec = make_kernel(
            o.kernel,
            o.bandwidth,
            o.multipliers,
            data=[X.to(dt), Y.to(dt)],
            degree=o.degree,
            gamma=o.gamma,
            coef0=o.coef0,
            heuristic_samples=o.heuristic_samples,
            check_finite=check_finite,
        )
        w = torch.cat(
            [
                torch.ones(n, dtype=dt, device=dev) if wx is None else wx.to(dt),
                torch.ones(m, dtype=dt, device=dev) if wy is None else wy.to(dt),
            ]
        )
        gen = torch.Generator().manual_seed(int(seed))
        perms = [torch.arange(N)] + [
            torch.randperm(N, generator=gen) for _ in range(n_permutations)
        ]
        stats = []
        if estimator == "linear":
            for p in perms:
                pd = p.to(dev)
                Zp, wp = Z[pd], w[pd]
                stats.append(_linear_time([Zp[:n]], [Zp[n:]], [spec], wp[:n], wp[n:]))
            allstats = torch.stack(stats)
        else:
            K = None
            if spec.name != "linear" and N <= _FULL_MATRIX_MAX:
                K = direct_kernel(spec, Z)
            kd = kernel_diag(spec, Z)
            for b0 in range(0, len(perms), batch_size):
                P = torch.stack(perms[b0 : b0 + batch_size]).to(dev)  # (B, N)
                B = P.shape[0]
                mask = torch.zeros(B, N, dtype=dt, device=dev)
                mask.scatter_(1, P[:, :n], 1.0)
                mask = mask.T  # (N, B): row i goes to X under permutation b
                C, lam = mmd_coefficients(w[:, None] * mask, w[:, None] * (1.0 - mask), estimator)
                r = C.shape[-1]
                Cf = C.reshape(N, B * r)
                if spec.name == "linear":
                    ZC = Z.T @ Cf
                    quad = (ZC * ZC).sum(0)
                else:
                    KC = (
                        K @ Cf
                        if K is not None
                        else tiled_bilinear([spec], [Z], None, None, Cf, block, sym=True)[0]
                    )
                    quad = (Cf * KC).sum(0)
                s = (quad.reshape(B, r) * lam).sum(1)
                if estimator == "unbiased":
                    s = s - ((kd[:, None, None] * C * C).sum(0) * lam).sum(1)
                stats.append(s)
            allstats = torch.cat(stats)
    stat = allstats[0]
    null = allstats[1:]
    p_value = (1.0 + (null >= stat).sum().to(torch.float64)) / (1.0 + n_permutations)
    return MMDTestResult(float(stat), float(p_value), null.cpu())
