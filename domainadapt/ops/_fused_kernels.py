"""Triton kernels of the fused Gaussian multi-bandwidth MMD (imported lazily; they need triton).

Notation (see :mod:`._fused`): ``Z`` (N, d) the pooled, centred sample, ``SQ`` (N,)
its squared row norms, ``C`` (N, RP) the MMD coefficient columns zero-padded to
``RP = 16`` (so they feed ``tl.dot``), ``P = C * lam`` likewise, ``COEF`` (M,) the
exponents ``-1 / (2 sigma_u^2)`` of the bandwidths, largest bandwidth first. When the
ratio of consecutive bandwidths is ``2^(CHAIN/2)`` for an integer ``CHAIN >= 1``
(DAN's ``2^-2..2^2``: ``CHAIN = 2``) each tile takes one ``exp`` and ``CHAIN`` squarings per further
bandwidth instead of one ``exp`` per bandwidth. The kernel matrix is
``K_ij = (1/M) sum_u exp(COEF_u D_ij)`` with ``D_ij = |z_i - z_j|^2`` (``D_ii = 0``).

Neither kernel writes a tile of ``K`` to memory: each program owns ``BM`` rows,
streams the columns ``BN`` at a time, builds the distance tile from ``tl.dot`` of the
rows and columns (chunks of ``BD`` features), takes the exponentials of every
bandwidth in registers and reduces them at once.

* :func:`mmd_kc_kernel`: ``OUT = K @ C`` (N, RP).
* :func:`mmd_grad_kernel`: ``OUT[:, chunk] = sum_j W_ij (z_i - z_j)[chunk]`` with
  ``W_ij = K'_ij G_ij``, ``K' = (1/M) sum_u COEF_u exp(COEF_u D)`` and
  ``G = P C^T``; the caller scales it by 4 (``value = sum_ij K_ij G_ij`` and ``G`` is
  symmetric). The grid's second axis walks chunks of ``BDO`` output features; each
  chunk recomputes the distances.
"""

from __future__ import annotations

try:
    import triton
    import triton.language as tl
except ImportError as exc:  # importable without triton: pytest --doctest-modules imports
    triton = tl = None  # every module, and _fused reports why the kernels cannot run
    IMPORT_ERROR: ImportError | None = exc
else:
    IMPORT_ERROR = None


def _jit(fn):
    """``triton.jit`` where triton imports; the plain function (never launched) elsewhere."""
    return fn if triton is None else triton.jit(fn)


@_jit
def _dist_tile(
    Z,
    SQ,
    rows,
    cols,
    rmask,
    cmask,
    sq_i,
    N,
    D,
    stride_z,
    BM: tl.constexpr,
    BN: tl.constexpr,
    BD: tl.constexpr,
    IEEE: tl.constexpr,
):
    dot = tl.zeros((BM, BN), dtype=Z.dtype.element_ty)
    for k0 in range(0, D, BD):
        ks = k0 + tl.arange(0, BD)
        kmask = ks < D
        a = tl.load(
            Z + rows[:, None] * stride_z + ks[None, :],
            mask=rmask[:, None] & kmask[None, :],
            other=0.0,
        )
        b = tl.load(
            Z + cols[:, None] * stride_z + ks[None, :],
            mask=cmask[:, None] & kmask[None, :],
            other=0.0,
        )
        if IEEE:
            dot += tl.dot(a, tl.trans(b), input_precision="ieee")
        else:
            dot += tl.dot(a, tl.trans(b))
    sq_j = tl.load(SQ + cols, mask=cmask, other=0.0)
    dist = sq_i[:, None] + sq_j[None, :] - 2.0 * dot
    dist = tl.maximum(dist, 0.0)
    dist = tl.where(rows[:, None] == cols[None, :], 0.0, dist)
    return dist


@_jit
def mmd_kc_kernel(
    Z,
    SQ,
    C,
    COEF,
    OUT,
    N,
    D,
    stride_z,
    inv_m,
    M: tl.constexpr,
    CHAIN: tl.constexpr,
    RP: tl.constexpr,
    BM: tl.constexpr,
    BN: tl.constexpr,
    BD: tl.constexpr,
    IEEE: tl.constexpr,
):
    pid = tl.program_id(0)
    rows = (pid * BM + tl.arange(0, BM)).to(tl.int64)  # offsets past 2^31 elements
    rmask = rows < N
    rs = tl.arange(0, RP)
    sq_i = tl.load(SQ + rows, mask=rmask, other=0.0)
    acc = tl.zeros((BM, RP), dtype=Z.dtype.element_ty)
    for j0 in range(0, N, BN):
        cols = (j0 + tl.arange(0, BN)).to(tl.int64)
        cmask = cols < N
        dist = _dist_tile(Z, SQ, rows, cols, rmask, cmask, sq_i, N, D, stride_z, BM, BN, BD, IEEE)
        if CHAIN > 0:  # ratios 2^(CHAIN/2): one exp, then CHAIN squarings per bandwidth
            t = tl.exp(dist * tl.load(COEF))
            k = t
            for _u in tl.static_range(1, M):
                for _s in tl.static_range(CHAIN):
                    t = t * t
                k += t
        else:
            k = tl.zeros((BM, BN), dtype=Z.dtype.element_ty)
            for u in tl.static_range(M):
                k += tl.exp(dist * tl.load(COEF + u))
        cj = tl.load(C + cols[:, None] * RP + rs[None, :], mask=cmask[:, None], other=0.0)
        if IEEE:
            acc += tl.dot(k, cj, input_precision="ieee")
        else:
            acc += tl.dot(k, cj)
    tl.store(OUT + rows[:, None] * RP + rs[None, :], acc * inv_m, mask=rmask[:, None])


@_jit
def mmd_grad_kernel(
    Z,
    SQ,
    C,
    P,
    COEF,
    OUT,
    N,
    D,
    stride_z,
    inv_m,
    M: tl.constexpr,
    CHAIN: tl.constexpr,
    RP: tl.constexpr,
    BM: tl.constexpr,
    BN: tl.constexpr,
    BD: tl.constexpr,
    BDO: tl.constexpr,
    IEEE: tl.constexpr,
):
    pid = tl.program_id(0)
    chunk = tl.program_id(1)
    rows = (pid * BM + tl.arange(0, BM)).to(tl.int64)  # offsets past 2^31 elements
    rmask = rows < N
    rs = tl.arange(0, RP)
    ko = chunk * BDO + tl.arange(0, BDO)
    komask = ko < D
    sq_i = tl.load(SQ + rows, mask=rmask, other=0.0)
    p_i = tl.load(P + rows[:, None] * RP + rs[None, :], mask=rmask[:, None], other=0.0)
    acc = tl.zeros((BM, BDO), dtype=Z.dtype.element_ty)
    rowsum = tl.zeros((BM,), dtype=Z.dtype.element_ty)
    for j0 in range(0, N, BN):
        cols = (j0 + tl.arange(0, BN)).to(tl.int64)
        cmask = cols < N
        dist = _dist_tile(Z, SQ, rows, cols, rmask, cmask, sq_i, N, D, stride_z, BM, BN, BD, IEEE)
        if CHAIN > 0:
            cu = tl.load(COEF)
            t = tl.exp(dist * cu)
            kd = cu * t
            for _u in tl.static_range(1, M):
                for _s in tl.static_range(CHAIN):
                    t = t * t
                    cu = cu * 2.0  # exp(c D)^2 = exp(2 c D)
                kd += cu * t
        else:
            kd = tl.zeros((BM, BN), dtype=Z.dtype.element_ty)
            for u in tl.static_range(M):
                cu = tl.load(COEF + u)
                kd += cu * tl.exp(dist * cu)
        cj = tl.load(C + cols[:, None] * RP + rs[None, :], mask=cmask[:, None], other=0.0)
        if IEEE:
            g = tl.dot(p_i, tl.trans(cj), input_precision="ieee")
        else:
            g = tl.dot(p_i, tl.trans(cj))
        w = kd * g
        rowsum += tl.sum(w, axis=1)
        zj = tl.load(
            Z + cols[:, None] * stride_z + ko[None, :],
            mask=cmask[:, None] & komask[None, :],
            other=0.0,
        )
        if IEEE:
            acc += tl.dot(w, zj, input_precision="ieee")
        else:
            acc += tl.dot(w, zj)
    zi = tl.load(
        Z + rows[:, None] * stride_z + ko[None, :], mask=rmask[:, None] & komask[None, :], other=0.0
    )
    out = (rowsum[:, None] * zi - acc) * inv_m
    tl.store(
        OUT + rows[:, None] * stride_z + ko[None, :], out, mask=rmask[:, None] & komask[None, :]
    )
