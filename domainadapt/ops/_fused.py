"""Fused (Triton) Gaussian multi-bandwidth MMD: the quadratic form without kernel tiles in memory.

:func:`fused_quad` computes ``sum_r lam_r c_r^T K c_r`` for
``K = (1/M) sum_u exp(-D / (2 sigma_u^2))`` (the convention of :mod:`.kernels`:
``sigma_u = sigma * multiplier_u``, kernels averaged) on the pooled sample ``Z``,
exactly the quantity the torch tiled path (:class:`.mmd._QuadForm`) computes, with
the same coefficients ``C``, ``lam`` (biased, unbiased and weighted estimators).

* forward: one Triton kernel computes ``KC = K @ C`` (distance tile from ``tl.dot``,
  every bandwidth's ``exp``, the reduction against ``C``, all on chip);
* backward: a second kernel recomputes the tiles and reduces
  ``dvalue/dz_i = 4 sum_j K'_ij G_ij (z_i - z_j)``, ``G = (C lam) C^T``; the gradients
  with respect to ``C`` (hence the sample weights) and ``lam`` come from ``KC``.

No gradient flows to the bandwidth (as on the torch tiled path). Triton is optional
(``pip install domainadapt[cuda]``) and imported only when this path runs; on CPU
tensors it runs only under ``TRITON_INTERPRET=1`` (the tests use that).
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import warnings
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

__all__ = ["BACKENDS", "fused_quad", "fused_selftest", "triton_unavailable_reason", "use_fused"]

#: Values of the ``backend`` option of the MMD functions.
BACKENDS = ("auto", "torch", "triton")
#: Columns of the zero-padded coefficient matrices (``tl.dot`` needs >= 16).
_RP = 16
#: Full-precision ``tl.dot`` (no TF32): the distances cancel in ``|x|^2 + |y|^2 - 2 x.y``.
_IEEE = True


@functools.lru_cache(maxsize=1)
def _import_error() -> str | None:
    try:
        from . import _fused_kernels
    except ImportError as exc:  # triton broken in a way the module did not catch
        error: ImportError | None = exc
    else:
        error = _fused_kernels.IMPORT_ERROR
    if error is not None:
        return (
            f"triton cannot be imported ({error}); install it with `pip install domainadapt[cuda]`"
        )
    return None


def _interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0").lower() in ("1", "true", "on", "yes")


def triton_unavailable_reason(device: torch.device, dtype: torch.dtype) -> str | None:
    """Why the fused kernel cannot run on ``device`` / ``dtype``, or ``None`` when it can.

    It runs on CUDA tensors, and on CPU tensors under ``TRITON_INTERPRET=1``; in
    float32 and float64. Imports triton (once) to check.
    """
    if dtype not in (torch.float32, torch.float64):
        return f"the fused kernel computes in float32 or float64, not {dtype}"
    if device.type != "cuda" and not (device.type == "cpu" and _interpreting()):
        return f"the fused kernel needs a CUDA tensor (got {device.type}; on CPU only under TRITON_INTERPRET=1)"
    return _import_error()


#: Launch parameters overriding :func:`_blocks` on GPUs (``benchmarks/gpu.py
#: --tune-fused`` sweeps them; empty in normal use). Keys as in :func:`_blocks`.
BLOCK_OVERRIDES: dict[str, int] = {}


def _blocks(d: int, interpret: bool) -> dict[str, int]:
    """Block sizes: ``BM`` rows per program, ``BN`` columns per step, ``BD`` features per
    distance step, ``BDO`` output features per backward program (a wider ``BDO`` means
    fewer distance recomputations; the column step shrinks to keep its operand small),
    ``WARPS`` / ``FWD_WARPS`` the warps of the backward / forward programs."""
    pow2 = 1 << max(int(d) - 1, 0).bit_length()
    bdo = min(max(pow2, 16), 256)
    b = {
        "BM": 32 if interpret else 64,
        "BN": 32 if interpret or bdo > 128 else 64,
        "BD": min(max(pow2, 16), 32 if interpret else 64),
        "BDO": bdo,
        "WARPS": 8 if bdo > 128 else 4,
        "FWD_WARPS": 4,
    }
    if not interpret:
        b.update(BLOCK_OVERRIDES)
    return b


def _pad(C: Tensor) -> Tensor:
    out = C.new_zeros(C.shape[0], _RP)
    out[:, : C.shape[1]] = C
    return out


def _launch_kc(Zc: Tensor, sq: Tensor, Cp: Tensor, coef: Tensor, chain: int, ieee: bool) -> Tensor:
    from ._fused_kernels import mmd_kc_kernel

    N, d = Zc.shape
    b = _blocks(d, Zc.device.type == "cpu")
    out = torch.empty(N, _RP, dtype=Zc.dtype, device=Zc.device)
    grid = (_cdiv(N, b["BM"]),)
    mmd_kc_kernel[grid](
        Zc,
        sq,
        Cp,
        coef,
        out,
        N,
        d,
        Zc.stride(0),
        1.0 / coef.shape[0],
        M=coef.shape[0],
        CHAIN=chain,
        RP=_RP,
        BM=b["BM"],
        BN=b["BN"],
        BD=b["BD"],
        IEEE=ieee,
        num_warps=b["FWD_WARPS"],
    )
    return out


def _launch_grad(
    Zc: Tensor, sq: Tensor, Cp: Tensor, Pp: Tensor, coef: Tensor, chain: int, ieee: bool
) -> Tensor:
    from ._fused_kernels import mmd_grad_kernel

    N, d = Zc.shape
    b = _blocks(d, Zc.device.type == "cpu")
    out = torch.empty_like(Zc)
    grid = (_cdiv(N, b["BM"]), _cdiv(d, b["BDO"]))
    mmd_grad_kernel[grid](
        Zc,
        sq,
        Cp,
        Pp,
        coef,
        out,
        N,
        d,
        Zc.stride(0),
        1.0 / coef.shape[0],
        M=coef.shape[0],
        CHAIN=chain,
        RP=_RP,
        BM=b["BM"],
        BN=b["BN"],
        BD=b["BD"],
        BDO=b["BDO"],
        IEEE=ieee,
        num_warps=b["WARPS"],
    )
    return out


def _cdiv(a: int, b: int) -> int:
    return -(-int(a) // int(b))


def _on_device(Z: Tensor) -> contextlib.AbstractContextManager:
    """Launch on ``Z``'s GPU (Triton launches on the current device)."""
    return torch.cuda.device(Z.device) if Z.device.type == "cuda" else contextlib.nullcontext()


class _FusedQuad(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, C: Tensor, lam: Tensor, coef: Tensor, Z: Tensor, chain: int) -> Tensor:  # type: ignore[override]
        Zc = (Z - Z.mean(0, keepdim=True)).contiguous()
        sq = (Zc * Zc).sum(1).contiguous()
        Cp = _pad(C)
        with _on_device(Z):
            KC = _launch_kc(Zc, sq, Cp, coef, chain, _IEEE)[:, : C.shape[1]]
        ctx.chain = chain
        ctx.save_for_backward(C, lam, coef, Zc, sq, KC)
        return ((C * KC).sum(0) * lam).sum()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, go: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        C, lam, coef, Zc, sq, KC = ctx.saved_tensors
        need_c, need_lam, _, need_z, _ = ctx.needs_input_grad
        gC = go * 2.0 * KC * lam if need_c else None
        glam = go * (C * KC).sum(0) if need_lam else None
        gZ = None
        if need_z:
            with _on_device(Zc):
                gZ = _launch_grad(Zc, sq, _pad(C), _pad(C * lam), coef, ctx.chain, _IEEE)
            gZ = gZ.mul_(4.0 * go)
        return gC, glam, None, gZ, None


def gaussian_exponents(sigma: Tensor, multipliers: Sequence[float], dtype: torch.dtype) -> Tensor:
    """``-1 / (2 (sigma m_u)^2)`` for every multiplier, largest multiplier first, detached.

    Built on ``sigma``'s device from the 0-dim ``sigma`` with Python-scalar arithmetic
    (no host-to-device copy, no synchronisation).
    """
    s = sigma.detach().to(dtype)
    ordered = sorted((float(m) for m in multipliers), reverse=True)
    return torch.stack([-0.5 / (s * m) ** 2 for m in ordered]).contiguous()


def chain_squarings(multipliers: Sequence[float]) -> int:
    """``k >= 1`` when consecutive sorted multipliers are all ``2^(k/2)`` apart, else 0.

    Then ``exp(c_(u+1) D) = exp(c_u D)^(2^k)``: the kernels square instead of calling
    ``exp`` (DAN's ``(0.25, 0.5, 1, 2, 4)`` gives ``k = 2``).
    """
    ms = sorted((float(m) for m in multipliers), reverse=True)
    if len(ms) < 2:
        return 0
    ks = set()
    for a, b in zip(ms, ms[1:]):
        k = math.log2((a / b) ** 2)
        if abs(k - round(k)) > 1e-9 or round(k) < 1:
            return 0
        ks.add(round(k))
    return ks.pop() if len(ks) == 1 else 0


@functools.cache
def fused_selftest(
    device: torch.device, dtype: torch.dtype, d: int, n_bandwidths: int, chain: int = 0
) -> str | None:
    """Compile and check both kernels once per configuration (feature dimension, number
    of bandwidths, squaring chain: the kernels' specialisations); why they fail, or ``None``.

    ``backend="auto"`` runs this before its first fused call with these block sizes, on
    a 48-row problem, against the plain autograd value and gradient in float64, and
    falls back to the torch path with a warning if the kernels do not compile (e.g. out
    of shared memory on some GPU) or disagree. Costs one compilation and one host sync
    per configuration, never per step.
    """
    try:
        # the first auto call may come under no_grad / inference_mode (evaluation)
        with torch.inference_mode(False), torch.enable_grad():
            g = torch.Generator().manual_seed(0)
            Z = torch.randn(48, d, generator=g, dtype=torch.float64)
            c = torch.cat([torch.full((30,), 1 / 30.0), torch.full((18,), -1 / 18.0)])[:, None]
            c = c.to(torch.float64)
            lam = torch.ones(1, dtype=torch.float64)
            sigma = torch.tensor(float(d) ** 0.5, dtype=torch.float64)
            ratio = 2.0 ** (chain / 2) if chain else 1.7  # the same CHAIN specialisation
            mults = tuple(ratio ** (u - n_bandwidths // 2) for u in range(n_bandwidths))
            Zr = Z.clone().requires_grad_()
            D = ((Zr[:, None, :] - Zr[None, :, :]) ** 2).sum(-1)
            K = sum(torch.exp(-D / (2 * (sigma * m) ** 2)) for m in mults) / n_bandwidths
            ref = (c * (K @ c)).sum()
            (gref,) = torch.autograd.grad(ref, Zr)
            Zd = Z.to(device=device, dtype=dtype).requires_grad_()
            out = fused_quad(
                c.to(device, dtype), lam.to(device, dtype), sigma.to(device), mults, Zd
            )
            (gout,) = torch.autograd.grad(out, Zd)
            tol = 1e-3 if dtype == torch.float32 else 1e-8
            err_v = abs(float(out.detach()) - float(ref.detach())) / abs(float(ref.detach()))
            err_g = float((gout.double().cpu() - gref).abs().max() / gref.abs().max())
            if not (err_v < tol and err_g < tol):
                return f"the fused kernel disagrees with autograd (relative errors {err_v:.1e}, {err_g:.1e})"
    except Exception as exc:  # a compilation or launch failure is a reason, not a crash
        return f"the fused kernel failed to run: {type(exc).__name__}: {str(exc)[:300]}"
    return None


def fused_quad(
    C: Tensor, lam: Tensor, sigma: Tensor, multipliers: Sequence[float], Z: Tensor
) -> Tensor:
    """``sum_r lam_r c_r^T K c_r`` with the fused kernel; differentiable in ``C``, ``lam``, ``Z``.

    Parameters
    ----------
    C : Tensor of shape (N, r)
        Coefficient columns (``r <= 16``), e.g. from :func:`.mmd.mmd_coefficients`.
    lam : Tensor of shape (r,)
        Signs / scales of the columns.
    sigma : Tensor
        0-dim base bandwidth (no gradient flows to it).
    multipliers : sequence of float
        Bandwidth multipliers (the Gaussian kernels are averaged).
    Z : Tensor of shape (N, d)
        Pooled sample, float32 or float64.

    Returns
    -------
    Tensor
        0-dim value.
    """
    if C.shape[1] > _RP:
        raise ValueError(
            f"the fused kernel takes at most {_RP} coefficient columns, got {C.shape[1]}"
        )
    coef = gaussian_exponents(sigma, multipliers, Z.dtype)
    chain = chain_squarings(multipliers)
    return _FusedQuad.apply(C.to(Z.dtype), lam.to(Z.dtype), coef, Z, chain)


@torch.compiler.disable  # the checks (and the one-time self-test) run eagerly
def use_fused(
    specs: Sequence[Any], Z: Tensor, N: int, block_size: int | None, backend: str, direct_max: int
) -> bool:
    """Whether the fused Triton kernel computes the MMD quadratic form.

    ``specs`` are the layers' :class:`.kernels.KernelSpec`, ``Z`` the pooled sample in
    the compute dtype, ``N`` its rows; ``direct_max`` the size of the direct path.

    ``"triton"``: always (an error names what it does not support); ``"auto"``: on
    float32 CUDA tensors, for one Gaussian layer above the direct size, when triton
    imports and the kernels passed :func:`fused_selftest` for this feature
    dimension (else a warning, once, and the torch path).
    """
    if backend == "torch":
        return False
    single = len(specs) == 1 and specs[0].name == "gaussian"
    if backend == "triton":
        if not single:
            raise ValueError(
                "backend='triton' supports one layer of the Gaussian kernel, got "
                f"{[s.name for s in specs]}; use backend='torch' or 'auto'"
            )
        reason = triton_unavailable_reason(Z.device, Z.dtype)
        if reason is not None:
            raise RuntimeError(f"backend='triton' cannot run: {reason}")
        return True
    if not single or Z.device.type != "cuda" or Z.dtype != torch.float32:
        return False  # float64 only when asked for: fp64 tl.dot is not on every GPU
    if N <= min(direct_max, block_size or N):
        return False
    if triton_unavailable_reason(Z.device, Z.dtype) is not None:
        return False
    mults = specs[0].multipliers
    failed = fused_selftest(Z.device, Z.dtype, Z.shape[1], len(mults), chain_squarings(mults))
    if failed is not None:
        _warn_fallback(failed)
        return False
    return True


@functools.cache
def _warn_fallback(reason: str) -> None:
    warnings.warn(
        f"ops.mmd: {reason}; using the torch tiled path (backend='torch') instead",
        RuntimeWarning,
        stacklevel=4,
    )
