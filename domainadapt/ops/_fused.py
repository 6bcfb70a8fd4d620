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
import os
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

__all__ = ["BACKENDS", "fused_quad", "triton_unavailable_reason"]

#: Values of the ``backend`` option of the MMD functions.
BACKENDS = ("auto", "torch", "triton")
#: Columns of the zero-padded coefficient matrices (``tl.dot`` needs >= 16).
_RP = 16
#: Full-precision ``tl.dot`` (no TF32): the distances cancel in ``|x|^2 + |y|^2 - 2 x.y``.
_IEEE = True


@functools.lru_cache(maxsize=1)
def _import_error() -> str | None:
    try:
        from . import _fused_kernels  # noqa: F401
    except ImportError as exc:  # triton missing or broken
        return f"triton cannot be imported ({exc}); install it with `pip install domainadapt[cuda]`"
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


def _blocks(d: int, interpret: bool) -> dict[str, int]:
    pow2 = 1 << max(int(d) - 1, 0).bit_length()
    bd = min(max(pow2, 16), 32 if interpret else 64)
    return {
        "BM": 32 if interpret else 64,
        "BN": 32 if interpret else 64,
        "BD": bd,
        "BDO": min(max(pow2, 16), 128),
    }


def _pad(C: Tensor) -> Tensor:
    out = C.new_zeros(C.shape[0], _RP)
    out[:, : C.shape[1]] = C
    return out


def _launch_kc(Zc: Tensor, sq: Tensor, Cp: Tensor, coef: Tensor, ieee: bool) -> Tensor:
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
        RP=_RP,
        BM=b["BM"],
        BN=b["BN"],
        BD=b["BD"],
        IEEE=ieee,
    )
    return out


def _launch_grad(
    Zc: Tensor, sq: Tensor, Cp: Tensor, Pp: Tensor, coef: Tensor, ieee: bool
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
        RP=_RP,
        BM=b["BM"],
        BN=b["BN"],
        BD=b["BD"],
        BDO=b["BDO"],
        IEEE=ieee,
    )
    return out


def _cdiv(a: int, b: int) -> int:
    return -(-int(a) // int(b))


def _on_device(Z: Tensor) -> contextlib.AbstractContextManager:
    """Launch on ``Z``'s GPU (Triton launches on the current device)."""
    return torch.cuda.device(Z.device) if Z.device.type == "cuda" else contextlib.nullcontext()


class _FusedQuad(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, C: Tensor, lam: Tensor, coef: Tensor, Z: Tensor) -> Tensor:  # type: ignore[override]
        Zc = (Z - Z.mean(0, keepdim=True)).contiguous()
        sq = (Zc * Zc).sum(1).contiguous()
        Cp = _pad(C)
        with _on_device(Z):
            KC = _launch_kc(Zc, sq, Cp, coef, _IEEE)[:, : C.shape[1]]
        ctx.save_for_backward(C, lam, coef, Zc, sq, KC)
        return ((C * KC).sum(0) * lam).sum()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, go: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        C, lam, coef, Zc, sq, KC = ctx.saved_tensors
        need_c, need_lam, _, need_z = ctx.needs_input_grad
        gC = go * 2.0 * KC * lam if need_c else None
        glam = go * (C * KC).sum(0) if need_lam else None
        gZ = None
        if need_z:
            with _on_device(Zc):
                gZ = _launch_grad(Zc, sq, _pad(C), _pad(C * lam), coef, _IEEE)
            gZ = gZ.mul_(4.0 * go)
        return gC, glam, None, gZ


def gaussian_exponents(sigma: Tensor, multipliers: Sequence[float], dtype: torch.dtype) -> Tensor:
    """``-1 / (2 (sigma m_u)^2)`` for every multiplier, on ``sigma``'s device, detached.

    Built from the 0-dim ``sigma`` with Python-scalar arithmetic (no host-to-device
    copy, no synchronisation).
    """
    s = sigma.detach().to(dtype)
    return torch.stack([-0.5 / (s * float(m)) ** 2 for m in multipliers]).contiguous()


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
    return _FusedQuad.apply(C.to(Z.dtype), lam.to(Z.dtype), coef, Z)
