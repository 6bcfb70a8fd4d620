"""Pairwise distances, kernels, the bandwidth heuristic and a tiled kernel-vector product.

Kernels (``sigma = bandwidth * multiplier``; several multipliers average the kernels):

* ``"gaussian"``:   :math:`k(x, y) = \\exp(-\\|x - y\\|^2 / (2\\sigma^2))`
* ``"laplacian"``:  :math:`k(x, y) = \\exp(-\\|x - y\\| / \\sigma)`
* ``"linear"``:     :math:`k(x, y) = x^\\top y`
* ``"polynomial"``: :math:`k(x, y) = (\\gamma\\, x^\\top y + c_0)^p` (``gamma=None`` means ``1/d``)
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from ._validation import (
    DISTANCE_KERNELS,
    HEURISTICS,
    KERNELS,
    check_block_size,
    check_choice,
    check_features,
    check_multipliers,
    check_pair,
    host_reads_are_free,
    is_compiling,
    want_value_checks,
)

__all__ = [
    "KernelSpec",
    "bandwidth_heuristic",
    "kernel_matrix",
    "kernel_matvec",
    "make_kernel",
    "pairwise_sq_dists",
]

#: Default tile edge of the memory-bounded paths (512 x 512 float32 tiles: 1 MiB).
DEFAULT_BLOCK_SIZE = 512


@dataclass(frozen=True)
class KernelSpec:
    """A resolved kernel: name, base bandwidth (a 0-dim tensor) and parameters.

    Build it with :func:`make_kernel`. ``sigma`` is ``None`` for the linear and
    polynomial kernels.

    Examples
    --------
    >>> from domainadapt.ops.kernels import make_kernel
    >>> spec = make_kernel("gaussian", bandwidth=2.0, multipliers=(0.5, 1.0, 2.0))
    >>> spec.name, float(spec.sigma), spec.multipliers, spec.is_distance
    ('gaussian', 2.0, (0.5, 1.0, 2.0), True)
    >>> spec = make_kernel("linear")
    >>> spec.sigma is None, spec.is_distance
    (True, False)
    """

    name: str
    sigma: Tensor | None = None
    multipliers: tuple[float, ...] = (1.0,)
    degree: int = 2
    gamma: float = 1.0
    coef0: float = 1.0

    @property
    def is_distance(self) -> bool:
        return self.name in DISTANCE_KERNELS


def compute_dtype(*tensors: Tensor) -> torch.dtype:
    """Common dtype, with half precisions lifted to float32 (distances in float32)."""
    dt = tensors[0].dtype
    for t in tensors[1:]:
        dt = torch.promote_types(dt, t.dtype)
    if dt in (torch.float16, torch.bfloat16):
        dt = torch.float32
    return dt


# ----------------------------------------------------------------------------- distances
def pairwise_sq_dists(X: Tensor, Y: Tensor | None = None) -> Tensor:
    """Squared Euclidean distances ``D[i, j] = ||x_i - y_j||^2``, never negative.

    Computed by the matmul expansion ``||x||^2 + ||y||^2 - 2 x^T y`` on data
    centred by a common (detached) mean, clamped at 0; when ``Y`` is ``None``
    the diagonal is exactly 0. Differentiable (no NaN gradient at identical points).

    Parameters
    ----------
    X : Tensor of shape (n, d)
    Y : Tensor of shape (m, d), optional
        Defaults to ``X``.

    Returns
    -------
    Tensor of shape (n, m)
    """
    same = Y is None
    if same:
        Y = X
    mean = (
        torch.cat([X, Y]).mean(0, keepdim=True).detach()
        if not same
        else X.mean(0, keepdim=True).detach()
    )
    Xc = X - mean
    Yc = Xc if same else Y - mean
    sx = (Xc * Xc).sum(1)
    sy = sx if same else (Yc * Yc).sum(1)
    D = torch.addmm(sx[:, None] + sy[None, :], Xc, Yc.T, beta=1.0, alpha=-2.0).clamp_min(0.0)
    if same:
        eye = torch.eye(D.shape[0], dtype=torch.bool, device=D.device)
        D = D.masked_fill(eye, 0.0)
    return D


def _safe_sqrt(D: Tensor) -> Tensor:
    pos = D > 0
    return torch.where(
        pos, torch.sqrt(torch.where(pos, D, torch.ones_like(D))), torch.zeros_like(D)
    )


# ----------------------------------------------------------------------------- heuristic
def _to_device(t: Tensor, device: torch.device) -> Tensor:
    """Copy a CPU tensor to ``device`` without blocking the host.

    A plain ``.to("cuda")`` of pageable memory waits for the copy (a host
    synchronisation); from pinned memory with ``non_blocking=True`` it is queued on the
    stream like any kernel (the caching host allocator keeps the buffer alive).
    """
    if device.type != "cuda":
        return t.to(device)
    return t.pin_memory().to(device, non_blocking=True)


def bandwidth_heuristic(
    X: Tensor,
    Y: Tensor | None = None,
    *,
    method: str = "median",
    max_samples: int = 1024,
    seed: int = 0,
    detach: bool = True,
    mask: Tensor | None = None,
) -> Tensor:
    """Base bandwidth :math:`\\sigma` of a distance kernel from the pooled sample.

    ``"median"``: :math:`\\sigma = \\operatorname{median}_{i<j} \\|z_i - z_j\\|` on a
    deterministic random subsample of at most ``max_samples`` rows (Gretton et al.,
    JMLR 2012). ``"mean"``: :math:`\\sigma^2 = \\operatorname{mean}_{i \\ne j}
    \\|z_i - z_j\\|^2`, exact in :math:`O(Nd)` on the whole sample. A zero median
    (mostly duplicated rows) falls back to 1. No host synchronisation: the result
    stays a device tensor, the subsample's row indices (drawn on the CPU) reach the
    device by a non-blocking copy from pinned memory.

    Parameters
    ----------
    X : Tensor of shape (n, d)
    Y : Tensor of shape (m, d), optional
        Pooled with ``X``.
    method : {"median", "mean"}
    max_samples : int
        Subsample bound of the median heuristic.
    seed : int
        Seed of the subsample (CPU generator: same rows on every device).
    detach : bool
        Return a tensor outside the autograd graph (default).
    mask : Tensor of bool, shape (n + m,), optional
        The pooled rows to use; the others are left out, with no host synchronisation
        (a boolean gather would wait for the device to count them). Below
        ``max_samples`` rows the result equals the heuristic on the selected rows
        alone (the median: the lower one of an even count, as :func:`torch.median`);
        above it, the subsample is drawn from all rows before the mask applies. With
        fewer than two selected rows the bandwidth is 1.

    Returns
    -------
    Tensor
        0-dim, in the compute dtype (at least float32).
    """
    check_choice("method", method, HEURISTICS)
    Z = X if Y is None else torch.cat([X, Y.to(X.dtype)])
    if detach:
        Z = Z.detach()
    Z = Z.to(compute_dtype(Z))
    N = Z.shape[0]
    if mask is not None:
        if mask.dtype != torch.bool or mask.shape != (N,):
            raise ValueError(
                f"mask must be a bool tensor with one entry per pooled row ({N}); got "
                f"{mask.dtype} of shape {tuple(mask.shape)}."
            )
        mask = mask.to(Z.device)
    if method == "mean":
        if mask is None:
            Zc = Z - Z.mean(0, keepdim=True)
            sigma = torch.sqrt(2.0 * (Zc * Zc).sum() / max(N - 1, 1))
        else:
            w = mask.to(Z.dtype)[:, None]
            k = w.sum()
            Zc = Z - (w * Z).sum(0, keepdim=True) / k.clamp_min(1.0)
            sigma = torch.sqrt(2.0 * (w * Zc * Zc).sum() / (k - 1.0).clamp_min(1.0))
    else:
        if N > max_samples:
            gen = torch.Generator().manual_seed(int(seed))
            idx = _to_device(torch.randperm(N, generator=gen)[:max_samples], Z.device)
            Z = Z.index_select(0, idx)
            mask = None if mask is None else mask.index_select(0, idx)
            N = max_samples
        D = pairwise_sq_dists(Z)
        iu = torch.triu_indices(N, N, offset=1, device=Z.device)
        d = D[iu[0], iu[1]] if N > 1 else D.reshape(-1)
        if mask is None:
            sigma = torch.sqrt(torch.median(d))
        elif N < 2:
            sigma = torch.ones((), dtype=Z.dtype, device=Z.device)
        elif host_reads_are_free(d):  # on CPU the gather is cheaper than sorting all pairs
            kept = d[mask[iu[0]] & mask[iu[1]]]
            one = torch.ones((), dtype=d.dtype)
            sigma = torch.sqrt(torch.median(kept)) if kept.numel() else one
        else:
            # lower median of the selected pairs: the others sort last, the count stays
            # on the device
            pairs = mask[iu[0]] & mask[iu[1]]
            ordered = torch.sort(torch.where(pairs, d, torch.full_like(d, math.inf))).values
            k = pairs.sum()
            middle = torch.div(k - 1, 2, rounding_mode="floor").clamp_min(0)
            sigma = torch.sqrt(ordered.gather(0, middle.reshape(1)).reshape(()))
            sigma = torch.where(k > 0, sigma, torch.ones_like(sigma))
    sigma = torch.where(sigma > 0, sigma, torch.ones_like(sigma))
    return sigma


# ----------------------------------------------------------------------------- kernels
def make_kernel(
    kernel: str = "gaussian",
    bandwidth: float | Tensor | str | None = None,
    multipliers: float | Sequence[float] = (1.0,),
    *,
    data: Sequence[Tensor] = (),
    degree: int = 2,
    gamma: float | None = None,
    coef0: float = 1.0,
    heuristic_samples: int = 1024,
    seed: int = 0,
    check_finite: bool | None = None,
) -> KernelSpec:
    """Validate kernel arguments and resolve the bandwidth (heuristic on ``data``)."""
    check_choice("kernel", kernel, KERNELS)
    mult = check_multipliers(multipliers)
    if kernel in ("linear", "polynomial"):
        d = data[0].shape[1] if data else 1
        if kernel == "linear":
            return KernelSpec("linear", None, (1.0,), 1, 1.0, 0.0)
        if isinstance(degree, bool) or not isinstance(degree, numbers.Integral) or degree < 1:
            raise ValueError(f"degree must be a positive int, got {degree!r}")
        g = 1.0 / d if gamma is None else float(gamma)
        if not (g > 0) or not math.isfinite(g):
            raise ValueError(f"gamma must be positive, got {gamma!r}")
        return KernelSpec("polynomial", None, (1.0,), int(degree), g, float(coef0))
    if bandwidth is None:
        bandwidth = "median"
    like = data[0] if data else None
    if isinstance(bandwidth, str):
        check_choice("bandwidth", bandwidth, HEURISTICS)
        if not data:
            raise ValueError("bandwidth heuristic needs data")
        sigma = bandwidth_heuristic(
            data[0],
            data[1] if len(data) > 1 else None,
            method=bandwidth,
            max_samples=heuristic_samples,
            seed=seed,
        )
    elif isinstance(bandwidth, Tensor):
        if bandwidth.numel() != 1:
            raise ValueError(f"bandwidth must be a scalar, got shape {tuple(bandwidth.shape)}")
        sigma = bandwidth.reshape(())
        if not sigma.is_floating_point():
            sigma = sigma.to(torch.float32)
        if want_value_checks(sigma, check_finite) and not (
            bool(sigma > 0) and bool(torch.isfinite(sigma))
        ):
            raise ValueError(f"bandwidth must be positive and finite, got {float(sigma)}")
    elif isinstance(bandwidth, numbers.Real) and not isinstance(bandwidth, bool):
        if not (bandwidth > 0) or not math.isfinite(bandwidth):
            raise ValueError(f"bandwidth must be positive and finite, got {bandwidth}")
        # made on the data's device (a fill, not a host-to-device copy: no sync)
        sigma = torch.full(
            (),
            float(bandwidth),
            dtype=torch.float64 if like is None else compute_dtype(like),
            device=None if like is None else like.device,
        )
    else:
        raise TypeError(
            f"bandwidth must be None, 'median', 'mean', a positive number or a tensor, got {bandwidth!r}"
        )
    if like is not None:
        sigma = sigma.to(device=like.device, dtype=compute_dtype(like))
    return KernelSpec(kernel, sigma, mult, degree, 1.0, 0.0)


def direct_kernel(spec: KernelSpec, A: Tensor, B: Tensor | None = None) -> Tensor:
    """Full kernel matrix with plain (autograd-friendly) torch ops."""
    if spec.name == "linear":
        return A @ (A if B is None else B).T
    if spec.name == "polynomial":
        return (spec.gamma * (A @ (A if B is None else B).T) + spec.coef0) ** spec.degree
    D = pairwise_sq_dists(A, B)
    sigma = spec.sigma.to(D.dtype)
    M = len(spec.multipliers)
    K = None
    if spec.name == "gaussian":
        for m in spec.multipliers:
            k = torch.exp(D / (-2.0 * (sigma * m) ** 2))
            K = k if K is None else K + k
    else:
        r = _safe_sqrt(D)
        for m in spec.multipliers:
            k = torch.exp(r / (-(sigma * m)))
            K = k if K is None else K + k
    return K / M if M > 1 else K


def kernel_pairs(spec: KernelSpec, A: Tensor, B: Tensor) -> Tensor:
    """Row-wise kernel values ``k(a_i, b_i)`` (vector of length n)."""
    if spec.name in ("linear", "polynomial"):
        s = (A * B).sum(1)
        return s if spec.name == "linear" else (spec.gamma * s + spec.coef0) ** spec.degree
    diff = A - B
    D = (diff * diff).sum(1)
    sigma = spec.sigma.to(D.dtype)
    r = _safe_sqrt(D) if spec.name == "laplacian" else None
    K = None
    for m in spec.multipliers:
        k = torch.exp(D / (-2.0 * (sigma * m) ** 2)) if r is None else torch.exp(r / (-(sigma * m)))
        K = k if K is None else K + k
    return K / len(spec.multipliers)


def kernel_diag(spec: KernelSpec, Z: Tensor) -> Tensor:
    """``k(z_i, z_i)`` for each row."""
    if spec.is_distance:
        return torch.ones(Z.shape[0], dtype=Z.dtype, device=Z.device)
    s = (Z * Z).sum(1)
    return s if spec.name == "linear" else (spec.gamma * s + spec.coef0) ** spec.degree


def kernel_matrix(
    X: Tensor,
    Y: Tensor | None = None,
    *,
    kernel: str = "gaussian",
    bandwidth: float | Tensor | str | None = None,
    multipliers: float | Sequence[float] = (1.0,),
    degree: int = 2,
    gamma: float | None = None,
    coef0: float = 1.0,
) -> Tensor:
    """Full kernel matrix :math:`K_{ij} = k(x_i, y_j)` (materialised; differentiable).

    For large inputs prefer :func:`kernel_matvec`, which never builds the matrix.

    Parameters
    ----------
    X : Tensor of shape (n, d)
    Y : Tensor of shape (m, d), optional
        Defaults to ``X`` (then the diagonal distance is exactly 0).
    kernel : {"gaussian", "laplacian", "linear", "polynomial"}
    bandwidth : float, Tensor, {"median", "mean"} or None
        Base bandwidth of distance kernels; ``None`` is the median heuristic on the
        pooled data (detached).
    multipliers : sequence of float
        :math:`\\sigma_k = \\text{bandwidth}\\cdot m_k`; the kernels are averaged.
    degree, gamma, coef0
        Polynomial kernel parameters.

    Returns
    -------
    Tensor of shape (n, m)
    """
    check_features("X", X, None)
    if Y is not None:
        check_features("Y", Y, None)
        check_pair(X, Y)
    data = [X] if Y is None else [X, Y]
    spec = make_kernel(
        kernel, bandwidth, multipliers, data=data, degree=degree, gamma=gamma, coef0=coef0
    )
    dt = compute_dtype(*data)
    with torch.autocast(X.device.type, enabled=False):
        return direct_kernel(spec, X.to(dt), None if Y is None else Y.to(dt))


# ----------------------------------------------------------------------------- matvec
class _KernelMatvec(torch.autograd.Function):
    @staticmethod
    def forward(ctx, V, spec, block, X, Y):  # type: ignore[override]
        from ._tiled import tiled_bilinear

        same = Y is None
        B = X if same else Y
        out = tiled_bilinear(
            [spec], [X], None if same else [Y], None, V, block, sym=same, need_grad=False
        )[0]
        ctx.spec, ctx.block, ctx.same = spec, block, same
        ctx.save_for_backward(V, X, B)
        return out

    @staticmethod
    def backward(ctx, g):  # type: ignore[override]
        from ._tiled import tiled_bilinear

        V, X, B = ctx.saved_tensors
        need_v, _, _, need_x, need_y = ctx.needs_input_grad
        need_xy = need_x or need_y
        if not (need_v or need_xy):
            return None, None, None, None, None
        _, KtP, gA, gB = tiled_bilinear(
            [ctx.spec],
            [X],
            [B],
            g.contiguous(),
            V,
            ctx.block,
            sym=False,
            same=ctx.same,
            need_grad=need_xy,
            need_ktp=need_v,
        )
        gx = gy = None
        if need_xy:
            if ctx.same:
                gx = gA[0] + gB[0]
            else:
                gx, gy = gA[0], gB[0]
        return (KtP if need_v else None), None, None, gx, gy


def kernel_matvec(
    X: Tensor,
    Y: Tensor | None,
    v: Tensor,
    *,
    kernel: str = "gaussian",
    bandwidth: float | Tensor | str | None = None,
    multipliers: float | Sequence[float] = (1.0,),
    degree: int = 2,
    gamma: float | None = None,
    coef0: float = 1.0,
    block_size: int | None = None,
    check_finite: bool | None = None,
) -> Tensor:
    """Kernel-vector product :math:`K(X, Y)\\,v` computed tile by tile.

    Never materialises the ``(n, m)`` kernel matrix: extra memory is
    :math:`O(\\text{block}^2 + (n + m) d)`. Pass ``Y=None`` (or ``Y is X``) for
    :math:`K(X, X)\\,v`, which uses the symmetry and does half the work.
    Differentiable in ``v``, ``X`` and ``Y`` (tiled backward).

    Parameters
    ----------
    X : Tensor of shape (n, d)
    Y : Tensor of shape (m, d) or None
    v : Tensor of shape (m,) or (m, r)
    kernel, bandwidth, multipliers, degree, gamma, coef0
        As in :func:`kernel_matrix`.
    block_size : int, optional
        Tile edge (default 512).
    check_finite : bool, optional
        Check the data for NaN (default: on CPU only, to avoid device syncs).

    Returns
    -------
    Tensor of shape (n,) or (n, r)
    """
    check_features("X", X, check_finite)
    if Y is X:
        Y = None
    if Y is not None:
        check_features("Y", Y, check_finite)
        check_pair(X, Y)
    m = X.shape[0] if Y is None else Y.shape[0]
    if not isinstance(v, Tensor):
        raise TypeError(f"v must be a torch.Tensor, got {type(v).__name__}")
    if v.dim() not in (1, 2) or v.shape[0] != m:
        raise ValueError(f"v must have shape ({m},) or ({m}, r), got {tuple(v.shape)}")
    block = check_block_size(block_size) or DEFAULT_BLOCK_SIZE
    data = [X] if Y is None else [X, Y]
    spec = make_kernel(
        kernel,
        bandwidth,
        multipliers,
        data=data,
        degree=degree,
        gamma=gamma,
        coef0=coef0,
        check_finite=check_finite,
    )
    dt = compute_dtype(*data, v) if v.is_floating_point() else compute_dtype(*data)
    vec = v.dim() == 1
    V = (v[:, None] if vec else v).to(dt)
    with torch.autocast(X.device.type, enabled=False):
        Xc = X.to(dt)
        Yc = None if Y is None else Y.to(dt)
        out = _matvec_apply(V, spec, block, Xc, Yc)
    return out[:, 0] if vec else out


def _matvec_apply(V: Tensor, spec: KernelSpec, block: int, X: Tensor, Y: Tensor | None) -> Tensor:
    if is_compiling():
        return _matvec_eager(V, spec, block, X, Y)
    return _KernelMatvec.apply(V, spec, block, X, Y)


@torch.compiler.disable
def _matvec_eager(V: Tensor, spec: KernelSpec, block: int, X: Tensor, Y: Tensor | None) -> Tensor:
    return _KernelMatvec.apply(V, spec, block, X, Y)
