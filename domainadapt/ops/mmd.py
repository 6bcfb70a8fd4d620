"""Maximum mean discrepancy (MMD) estimators and joint MMD.

Their ``nn.Module`` forms live in :mod:`.alignment_losses`; their keyword options in
:class:`._options.MMDOptions`.

References
----------
Gretton, Borgwardt, Rasch, Schoelkopf, Smola. A kernel two-sample test. JMLR 13, 2012.
Long, Cao, Wang, Jordan. Learning transferable features with deep adaptation
networks (DAN). ICML 2015.
Long, Zhu, Wang, Jordan. Deep transfer learning with joint adaptation networks (JAN).
ICML 2017.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from ._fused import BACKENDS, fused_quad, use_fused
from ._options import MMDOptions, resolve_mmd_options, takes_mmd_options
from ._tiled import _is_pow2, tiled_bilinear
from ._tiling import auto_block_size
from ._validation import (
    DISTANCE_KERNELS,
    ESTIMATORS,
    HEURISTICS,
    check_block_size,
    check_choice,
    check_features,
    check_pair,
    check_weights,
    is_compiling,
)
from .kernels import (
    KernelSpec,
    bandwidth_heuristic,
    compute_dtype,
    direct_kernel,
    kernel_diag,
    kernel_pairs,
    make_kernel,
)

__all__ = ["joint_mmd", "mmd"]

#: Pooled sizes ``n + m <= min(DIRECT_MAX, block_size)`` take the direct (full-matrix,
#: plain autograd) path; above, the tiled pass is faster on CPU (measured with one
#: thread, five Gaussian kernels, forward + backward, relative to a bare full-matrix
#: autograd MMD at n + m = 256: tiled 0.65x (d = 64) and 0.90x (d = 512), our direct
#: path 0.69x and 1.91x; see docs/gpu.md).
DIRECT_MAX = 128


# ----------------------------------------------------------------------------- coefficients
def mmd_coefficients(wx: Tensor, wy: Tensor, estimator: str) -> tuple[Tensor, Tensor]:
    """Coefficients ``C`` (N, B, r) and signs ``lam`` (B, r) with MMD^2 = sum_r lam_r c_r^T K c_r.

    ``wx`` / ``wy`` are (N, B) weights of the pooled sample, zero outside the X / Y
    group. For ``"unbiased"`` the diagonal ``sum_i k_ii sum_r lam_r c_ir^2`` must
    still be subtracted.
    """
    Sx, Sy = wx.sum(0), wy.sum(0)
    xh, yh = wx / Sx, wy / Sy
    if estimator == "biased":
        return (xh - yh)[..., None], torch.ones_like(Sx)[:, None]
    qx, qy = (wx * wx).sum(0), (wy * wy).sum(0)
    a = qx / (Sx * Sx - qx)
    b = qy / (Sy * Sy - qy)
    C = torch.stack([xh - yh, xh, yh], -1)
    lam = torch.stack([torch.ones_like(a), a, b], -1)
    return C, lam


# ----------------------------------------------------------------------------- autograd
class _QuadForm(torch.autograd.Function):
    """``sum_r lam_r c_r^T K c_r`` over tiles; the gradients are computed in the same
    tiled pass (the output is a scalar), so backward only scales them."""

    @staticmethod
    def forward(ctx, C, lam, specs, block, *Zs):  # type: ignore[override]
        need = ctx.needs_input_grad
        need_z = any(need[4:])
        P = C * lam
        KQ, _, gZ, _ = tiled_bilinear(
            list(specs), list(Zs), None, P, C, block, sym=True, need_grad=need_z
        )
        value = (P * KQ).sum()
        ctx.gZ = gZ if need_z else None
        ctx.gC = 2.0 * KQ * lam if need[0] else None
        ctx.glam = (C * KQ).sum(0) if need[1] else None
        return value

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, go):  # type: ignore[override]
        gC = go * ctx.gC if ctx.gC is not None else None
        glam = go * ctx.glam if ctx.glam is not None else None
        gZ = (
            [go * g for g in ctx.gZ]
            if ctx.gZ is not None
            else [None] * (len(ctx.needs_input_grad) - 4)
        )
        return (gC, glam, None, None, *gZ)


@torch.compiler.disable
def _quad_tiled(C: Tensor, lam: Tensor, specs: tuple, block: int, Zs: list[Tensor]) -> Tensor:
    return _QuadForm.apply(C, lam, specs, block, *Zs)


def _quad_direct(C: Tensor, lam: Tensor, specs: Sequence[KernelSpec], Zs: list[Tensor]) -> Tensor:
    K = None
    for s, Z in zip(specs, Zs):
        k = direct_kernel(s, Z)
        K = k if K is None else K * k
    if C.shape[1] == 1:  # biased: one quadratic form, fewer small ops
        c = C[:, 0]
        return lam[0] * (c @ (K @ c))
    return ((C * (K @ C)).sum(0) * lam).sum()


def _auto_block(specs: Sequence[KernelSpec], Zs: list[Tensor], N: int) -> int:
    """Default tile edge for this device and problem (:func:`._tiling.auto_block_size`)."""
    mults = [m for s in specs for m in s.multipliers]
    return auto_block_size(
        Zs[0].device,
        N,
        sum(z.shape[1] for z in Zs),
        n_bandwidths=max(len(s.multipliers) for s in specs),
        n_layers=len(specs),
        chain=all(_is_pow2(max(mults) / m) for m in mults),
        itemsize=Zs[0].element_size(),
    )


@torch.compiler.disable
def _fused_apply(C: Tensor, lam: Tensor, spec: KernelSpec, Z: Tensor) -> Tensor:
    return fused_quad(C, lam, spec.sigma, spec.multipliers, Z)


# ----------------------------------------------------------------------------- core
def _gather(Xs, Ys, wx, wy, group):
    from .distributed import all_gather_rows

    Xs = [all_gather_rows(x, group) for x in Xs]
    Ys = [all_gather_rows(y, group) for y in Ys]
    if wx is not None or wy is not None:
        if wx is None:
            wx = torch.ones(Xs[0].shape[0], dtype=Xs[0].dtype, device=Xs[0].device)
        else:
            wx = all_gather_rows(wx[:, None], group)[:, 0]
        if wy is None:
            wy = torch.ones(Ys[0].shape[0], dtype=Ys[0].dtype, device=Ys[0].device)
        else:
            wy = all_gather_rows(wy[:, None], group)[:, 0]
    return Xs, Ys, wx, wy


def _mmd_core(
    Xs: list[Tensor],
    Ys: list[Tensor],
    specs: list[KernelSpec],
    estimator: str,
    wx: Tensor | None,
    wy: Tensor | None,
    block_size: int | None,
    backend: str = "auto",
) -> Tensor:
    n, m = Xs[0].shape[0], Ys[0].shape[0]
    dt = compute_dtype(*Xs, *Ys)
    dev = Xs[0].device
    Xs = [x.to(dt) for x in Xs]
    Ys = [y.to(dt) for y in Ys]
    wx = None if wx is None else wx.to(dt)
    wy = None if wy is None else wy.to(dt)
    if estimator == "linear":
        return _linear_time(Xs, Ys, specs, wx, wy)
    Zs = [torch.cat([x, y]) for x, y in zip(Xs, Ys)]
    ox = torch.ones(n, dtype=dt, device=dev) if wx is None else wx
    oy = torch.ones(m, dtype=dt, device=dev) if wy is None else wy
    zx = torch.zeros(m, dtype=dt, device=dev)
    zy = torch.zeros(n, dtype=dt, device=dev)
    C, lam = mmd_coefficients(torch.cat([ox, zx])[:, None], torch.cat([zy, oy])[:, None], estimator)
    C, lam = C[:, 0, :], lam[0]
    N = n + m
    if len(specs) == 1 and specs[0].name == "linear":
        ZC = Zs[0].T @ C  # (d, r): K = Z Z^T, c^T K c = |Z^T c|^2
        value = ((ZC * ZC).sum(0) * lam).sum()
    elif use_fused(specs, Zs[0], N, block_size, backend, DIRECT_MAX):
        value = _fused_apply(C, lam, specs[0], Zs[0].contiguous())
    else:
        # every automatic tile is >= min(N, DIRECT_MAX): small inputs skip the rule
        block = block_size or (N if N <= DIRECT_MAX else _auto_block(specs, Zs, N))
        if N <= min(DIRECT_MAX, block):
            value = _quad_direct(C, lam, specs, Zs)
        else:
            Zs = [z.contiguous() for z in Zs]
            if is_compiling():
                value = _quad_tiled(C, lam, tuple(specs), block, Zs)
            else:
                value = _QuadForm.apply(C, lam, tuple(specs), block, *Zs)
    if estimator == "unbiased":
        kd = None
        for s, Z in zip(specs, Zs):
            k = kernel_diag(s, Z)
            kd = k if kd is None else kd * k
        value = value - (kd * ((C * C) @ lam)).sum()
    return value


def _linear_time(Xs, Ys, specs, wx, wy) -> Tensor:
    n, m = Xs[0].shape[0], Ys[0].shape[0]
    p = min(n, m) // 2
    a, b = slice(0, 2 * p, 2), slice(1, 2 * p, 2)

    def k(U, V, iu, iv):
        out = None
        for s, u, v in zip(specs, U, V):
            kk = kernel_pairs(s, u[iu], v[iv])
            out = kk if out is None else out * kk
        return out

    kxx = k(Xs, Xs, a, b)
    kyy = k(Ys, Ys, a, b)
    kxy = k(Xs, Ys, a, b)
    kyx = k(Xs, Ys, b, a)
    if wx is None and wy is None:
        return (kxx + kyy - kxy - kyx).mean()
    dt, dev = Xs[0].dtype, Xs[0].device
    wx = torch.ones(n, dtype=dt, device=dev) if wx is None else wx
    wy = torch.ones(m, dtype=dt, device=dev) if wy is None else wy
    pxx = wx[a] * wx[b]
    pyy = wy[a] * wy[b]
    pxy = wx[a] * wy[b]
    pyx = wx[b] * wy[a]
    return (
        (pxx * kxx).sum() / pxx.sum()
        + (pyy * kyy).sum() / pyy.sum()
        - 2.0 * ((pxy * kxy).sum() + (pyx * kyx).sum()) / (pxy.sum() + pyx.sum())
    )


_SCALARS = (str, int, float, type(None), Tensor)


def _per_layer(value, L: int, name: str) -> list:
    if isinstance(value, _SCALARS):
        return [value] * L
    value = list(value)
    if len(value) != L:
        raise ValueError(f"{name} must be one value or one per layer ({L}), got {len(value)}")
    return value


def _per_layer_mult(multipliers, L: int) -> list:
    if isinstance(multipliers, (int, float, Tensor)):
        return [multipliers] * L
    mult = list(multipliers)
    if mult and all(isinstance(m, (list, tuple)) for m in mult):
        if len(mult) != L:
            raise ValueError(
                f"multipliers must be one sequence or one per layer ({L}), got {len(mult)}"
            )
        return mult
    return [mult] * L


def _scale_by_heuristic(
    Xs: list[Tensor],
    Ys: list[Tensor],
    kernels: list,
    bands: list,
    max_samples: int,
) -> tuple[list[Tensor], list[Tensor], list]:
    """Divide each distance-kernel layer whose bandwidth is a heuristic by that bandwidth,
    computed inside the autograd graph, and give the layer bandwidth 1.

    ``k(x / s, y / s; 1) = k(x, y; s)``, so the value is the same as with the heuristic
    bandwidth ``s``; the gradient now also flows through ``s``, on every path (direct,
    tiled, fused), none of which has to differentiate a bandwidth. The estimate is then
    invariant to a common rescaling of a layer's rows, and its gradient has no component
    along that rescaling: minimising it cannot shrink the features towards zero. Held
    constant, ``s`` leaves such a component (DAN with a detached bandwidth collapsed a
    LeNet's features to 0 on MNIST -> USPS).
    """
    Xs, Ys, bands = list(Xs), list(Ys), list(bands)
    for i, (kernel, band) in enumerate(zip(kernels, bands)):
        if kernel not in DISTANCE_KERNELS or not (band is None or isinstance(band, str)):
            continue
        method = "median" if band is None else band
        check_choice("bandwidth", method, HEURISTICS)
        sigma = bandwidth_heuristic(Xs[i], Ys[i], method=method, max_samples=max_samples, detach=False)
        Xs[i], Ys[i] = Xs[i] / sigma, Ys[i] / sigma
        bands[i] = 1.0
    return Xs, Ys, bands


def _mmd_entry(
    Xs: list[Tensor],
    Ys: list[Tensor],
    options: MMDOptions,
    x_weights: Tensor | None,
    y_weights: Tensor | None,
    xname: str = "X",
    yname: str = "Y",
) -> Tensor:
    """Validate the layers and options, gather over ``group``, then :func:`_mmd_core`."""
    o = options
    check_finite = o.check_finite
    L = len(Xs)
    for i, (x, y) in enumerate(zip(Xs, Ys)):
        xn = xname if L == 1 else f"{xname}[{i}]"
        yn = yname if L == 1 else f"{yname}[{i}]"
        check_features(xn, x, check_finite)
        check_features(yn, y, check_finite)
        check_pair(x, y, xn, yn)
        if x.shape[0] != Xs[0].shape[0] or y.shape[0] != Ys[0].shape[0]:
            raise ValueError(
                f"all layers must have the same number of rows; {xn} has {x.shape[0]}, {yn} {y.shape[0]}"
            )
    estimator = o.estimator
    check_choice("estimator", estimator, ESTIMATORS)
    block_size = check_block_size(o.block_size)
    check_choice("backend", o.backend, BACKENDS)
    n, m = Xs[0].shape[0], Ys[0].shape[0]
    wx = check_weights("x_weights", x_weights, n, Xs[0], check_finite)
    wy = check_weights("y_weights", y_weights, m, Ys[0], check_finite)
    kernels = _per_layer(o.kernel, L, "kernel")
    bands = _per_layer(o.bandwidth, L, "bandwidth")
    mults = _per_layer_mult(o.multipliers, L)
    with torch.autocast(Xs[0].device.type, enabled=False):
        if o.group is not None:
            Xs, Ys, wx, wy = _gather(Xs, Ys, wx, wy, o.group)
            n, m = Xs[0].shape[0], Ys[0].shape[0]
        if estimator in ("unbiased", "linear") and (n < 2 or m < 2):
            raise ValueError(
                f"estimator={estimator!r} needs at least 2 samples in X and in Y, got n={n}, m={m}"
            )
        if (
            not o.detach_bandwidth
            and torch.is_grad_enabled()
            and any(t.requires_grad for t in (*Xs, *Ys))
        ):
            Xs, Ys, bands = _scale_by_heuristic(Xs, Ys, kernels, bands, o.heuristic_samples)
        specs = [
            make_kernel(
                k,
                b,
                mu,
                data=[x, y],
                degree=o.degree,
                gamma=o.gamma,
                coef0=o.coef0,
                heuristic_samples=o.heuristic_samples,
                check_finite=check_finite,
            )
            for k, b, mu, x, y in zip(kernels, bands, mults, Xs, Ys)
        ]
        return _mmd_core(list(Xs), list(Ys), specs, estimator, wx, wy, block_size, o.backend)


@takes_mmd_options()
def mmd(
    X: Tensor,
    Y: Tensor,
    *,
    x_weights: Tensor | None = None,
    y_weights: Tensor | None = None,
    **options: Any,
) -> Tensor:
    """Squared maximum mean discrepancy between two samples.

    .. math:: \\mathrm{MMD}^2 = \\mathbb{E}\\,k(x, x') + \\mathbb{E}\\,k(y, y') - 2\\,\\mathbb{E}\\,k(x, y)

    (Gretton et al., JMLR 2012; multi-kernel as in DAN, Long et al., ICML 2015).

    Parameters
    ----------
    X : Tensor of shape (n, d)
        Source sample.
    Y : Tensor of shape (m, d)
        Target sample; ``m != n`` is allowed.
    kernel : {"gaussian", "laplacian", "linear", "polynomial"}
        Gaussian: :math:`\\exp(-\\|x-y\\|^2/(2\\sigma^2))`; Laplacian:
        :math:`\\exp(-\\|x-y\\|/\\sigma)`; linear: :math:`x^\\top y`; polynomial:
        :math:`(\\gamma x^\\top y + c_0)^p`.
    bandwidth : float, Tensor, {"median", "mean"} or None
        Base bandwidth :math:`\\sigma`; ``None`` is the median heuristic on the pooled
        sample (bounded subsample, see :func:`bandwidth_heuristic`). A tensor is used as
        given (gradients flow to it on the direct path only).
    multipliers : sequence of float
        :math:`\\sigma_k = \\sigma m_k`; the kernels are averaged, e.g.
        ``(0.25, 0.5, 1, 2, 4)``. Powers-of-two ratios use one ``exp`` per tile.
    estimator : {"biased", "unbiased", "linear"}
        V-statistic, U-statistic (no ``i == j`` terms, weighted normalisation
        :math:`\\sum_{i\\ne j} w_i w_j`) or the linear-time statistic over
        ``min(n, m) // 2`` disjoint pairs.
    x_weights, y_weights : Tensor of shape (n,) / (m,), optional
        Non-negative sample weights (weighted MMD, importance-weighted alignment);
        normalised internally. Gradients flow to them.
    block_size : int, optional
        Tile edge ``b``; by default chosen from the device and the problem
        (:func:`~domainadapt.ops._tiling.auto_block_size`: 128-256 on CPU, up to 4096
        on CUDA within a quarter of the free memory). Pooled sizes
        ``n + m <= min(128, b)`` take the direct path (full matrix, plain autograd,
        twice differentiable); above, the kernel matrix is never materialised (extra
        memory :math:`O(b^2 + (n+m)d)`): one tiled pass over the upper-triangular tiles
        computes the value and, when needed, the gradients (w.r.t. X, Y and the
        weights; the backward only scales them).
    backend : {"auto", "torch", "triton"}
        ``"triton"``: the fused Gaussian kernel (Triton, ``pip install
        domainadapt[cuda]``): per tile the distances, every bandwidth's exponential and
        the reductions stay on chip, the backward recomputes them, and no kernel tile
        is written to memory; one Gaussian layer only, no gradient to the bandwidth.
        ``"torch"``: the tiled / direct torch path. ``"auto"`` (default): the fused
        kernel on float32 CUDA tensors above the direct size when triton imports, else torch.
    group : torch.distributed ProcessGroup, optional
        All-gather X, Y (and weights) over the group with gradient
        (``torch.distributed.nn``), then compute the global MMD on every rank. The
        all-gather backward sums the gradients of all ranks, so with DDP's gradient
        averaging the parameters receive the gradient of the global MMD.
    degree, gamma, coef0
        Polynomial kernel parameters (``gamma=None`` means ``1/d``).
    heuristic_samples : int
        Subsample bound of the median heuristic.
    detach_bandwidth : bool
        ``False`` (default): a heuristic bandwidth stays in the autograd graph, so the
        gradient is that of the returned value, which is then invariant to a common
        rescaling of ``X`` and ``Y``; minimising it cannot shrink features towards zero.
        ``True``: the bandwidth is a constant in the backward pass (as in the DAN and
        Transfer-Learning-Library code); the gradient then has a component along the
        common scale of the rows, which in DAN's training shrank the features until
        they collapsed to zero on MNIST -> USPS.
    check_finite : bool, optional
        Check data and weights for NaN / negative values; by default on CPU only (the
        checks would synchronise an accelerator).

    Returns
    -------
    Tensor
        0-dim MMD² estimate (float32 for half-precision inputs).

    Examples
    --------
    >>> import torch
    >>> from domainadapt.ops import mmd
    >>> X, Y = torch.randn(100, 5), torch.randn(80, 5) + 1
    >>> float(mmd(X, Y, multipliers=(0.5, 1, 2))) > 0
    True
    """
    return _mmd_entry([X], [Y], resolve_mmd_options("mmd", options), x_weights, y_weights)


@takes_mmd_options()
def joint_mmd(
    Xs: Sequence[Tensor],
    Ys: Sequence[Tensor],
    *,
    x_weights: Tensor | None = None,
    y_weights: Tensor | None = None,
    **options: Any,
) -> Tensor:
    """Joint MMD² over several layers with the product kernel (JAN).

    .. math:: \\mathrm{JMMD}^2 = \\mathbb{E} \\prod_l k_l(x^l, x'^l) + \\mathbb{E}\\prod_l
       k_l(y^l, y'^l) - 2\\,\\mathbb{E}\\prod_l k_l(x^l, y^l)

    (Long et al., ICML 2017). Layer ``l`` of sample ``i`` is ``Xs[l][i]``.

    Parameters
    ----------
    Xs, Ys : sequence of Tensor
        Per-layer features, ``Xs[l]`` of shape (n, d_l), ``Ys[l]`` of shape (m, d_l).
    kernel, bandwidth, multipliers
        One value for every layer or one per layer (``multipliers`` then a sequence of
        sequences); bandwidths are resolved per layer (median heuristic by default).
    estimator, x_weights, y_weights, block_size, group, degree, gamma, coef0,
    heuristic_samples, detach_bandwidth, check_finite, backend
        As in :func:`mmd` (``backend="triton"`` needs a single Gaussian layer).

    Returns
    -------
    Tensor
        0-dim joint MMD² estimate.
    """
    resolved = resolve_mmd_options("joint_mmd", options)
    if isinstance(Xs, Tensor) or isinstance(Ys, Tensor):
        raise TypeError("Xs and Ys must be sequences of tensors (one per layer)")
    Xs, Ys = list(Xs), list(Ys)
    if len(Xs) == 0 or len(Xs) != len(Ys):
        raise ValueError(
            f"Xs and Ys must be non-empty and have one tensor per layer, got {len(Xs)} and {len(Ys)}"
        )
    return _mmd_entry(Xs, Ys, resolved, x_weights, y_weights, "Xs", "Ys")
