"""Memory-bounded tiled kernel engine (no autograd inside; gradients computed by hand).

One routine, :func:`tiled_bilinear`, walks the tiles of the (product) kernel matrix
``K(A, B)`` (``b x b`` at a time, never the whole matrix) and returns

* ``KQ = K(A, B) @ Q`` and optionally ``KtP = K(A, B)^T @ P``,
* optionally the gradients of ``value = sum_ij K_ij (P_i . Q_j)`` with respect to
  every layer of ``A`` and ``B``.

With ``sym=True`` (``A is B`` and ``P Q^T`` symmetric) only the tiles on and above
the diagonal are visited and used twice. Per tile the squared distances come out of
one matmul of augmented matrices ``[z, |z|^2, 1] @ [-2z', 1, |z'|^2]^T``, clamped at
0; a multi-kernel Gaussian whose bandwidth ratios are powers of two needs one
``exp`` and repeated squaring. The gradient of a distance kernel is
``sum_j W_ij (a_i - b_j) = rowsum(W)_i a_i - (W B)_i``, one more matmul per tile.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from .kernels import KernelSpec


def _is_pow2(n: float) -> bool:
    if n < 1:
        return False
    k = round(math.log2(n))
    return abs(n - 2.0**k) <= 1e-12 * n


@dataclass
class _Layer:
    kind: str  # "gaussian", "laplacian", "dot"
    LA: Tensor
    RB: Tensor
    GA: Tensor
    GB: Tensor
    ZA: Tensor
    ZB: Tensor
    terms: list  # [(n, w)] ascending n
    chain: bool
    factor: Tensor | float
    neg_inv: Tensor | None = None
    coef0: float = 0.0
    degree: int = 1


def _prepare(spec: KernelSpec, A: Tensor, B: Tensor | None) -> _Layer:
    same = B is None
    if not spec.is_distance:
        Bv = A if same else B
        return _Layer(
            "dot",
            A,
            Bv * spec.gamma,
            A,
            Bv,
            A,
            Bv,
            [],
            False,
            spec.degree * spec.gamma,
            coef0=spec.coef0,
            degree=spec.degree,
        )
    dt = A.dtype
    mean = A.mean(0, keepdim=True) if same else torch.cat([A, B]).mean(0, keepdim=True)
    Ac = A - mean
    Bc = Ac if same else B - mean
    ones_a = torch.ones(Ac.shape[0], 1, dtype=dt, device=A.device)
    ones_b = ones_a if same else torch.ones(Bc.shape[0], 1, dtype=dt, device=A.device)
    sqa = (Ac * Ac).sum(1, keepdim=True)
    sqb = sqa if same else (Bc * Bc).sum(1, keepdim=True)
    mref = max(spec.multipliers)
    sigma_ref = spec.sigma.to(dt) * mref
    M = len(spec.multipliers)
    LA = torch.cat([Ac, sqa, ones_a], 1)
    RB = torch.cat([-2.0 * Bc, ones_b, sqb], 1)
    GA = torch.cat([Ac, ones_a], 1)
    GB = GA if same else torch.cat([Bc, ones_b], 1)
    if spec.name == "gaussian":
        s = 0.5 / (sigma_ref * sigma_ref)
        RB = RB * (-s)  # E = -D s directly
        ns = [(mref / m) ** 2 for m in spec.multipliers]
        factor: Tensor | float = -2.0 * s
        neg_inv = None
    else:
        ns = [mref / m for m in spec.multipliers]
        neg_inv = -1.0 / sigma_ref
        factor = neg_inv
    terms = sorted((n, 1.0 / M) for n in ns)
    chain = all(_is_pow2(n) for n, _ in terms)
    return _Layer(spec.name, LA, RB, GA, GB, Ac, Bc, terms, chain, factor, neg_inv=neg_inv)


def _tile(
    p: _Layer, ri: slice, cj: slice, diag: bool, need_deriv: bool
) -> tuple[Tensor, Tensor | None]:
    """Kernel tile K and derivative tile Kd (``None`` means all ones)."""
    E = p.LA[ri] @ p.RB[cj].T
    if p.kind == "dot":
        if p.coef0 != 0.0:
            E.add_(p.coef0)
        if p.degree == 1:
            return E, None
        if not need_deriv:
            return E.pow_(p.degree), None
        Kd = E.pow(p.degree - 1) if p.degree > 2 else E.clone()
        return E.mul_(Kd), Kd
    r = None
    if p.kind == "laplacian":
        E.clamp_min_(0.0)
        if diag:
            E.diagonal().zero_()
        r = E.sqrt_()
        X = r * p.neg_inv
    else:
        X = E.clamp_max_(0.0)  # -D s, never positive
        if diag:
            X.diagonal().zero_()
    # Keep every intermediate a normal float: denormal arithmetic is ~100x slower on
    # x86, and values below ~1e-38 (float32) are negligible next to the kernel sum.
    info = torch.finfo(X.dtype)
    lo = math.log(info.tiny) + 1.0
    K: Tensor | None = None
    Kd: Tensor | None = None
    if p.chain:
        t = X.clamp_min_(lo).exp_()
        if len(p.terms) == 1 and not need_deriv:
            return t, None
        cur = 1.0
        for n, w in p.terms:
            if cur < n:
                # squaring log2(n / cur) times: flush what would end up denormal first
                steps = round(math.log2(n / cur))
                torch.nn.functional.threshold_(t, info.tiny ** (1.0 / 2**steps), 0.0)
                for _ in range(steps):
                    t.mul_(t)
                cur = n
            K = t * w if K is None else K.add_(t, alpha=w)
            if need_deriv:
                Kd = t * (w * n) if Kd is None else Kd.add_(t, alpha=w * n)
    else:
        for n, w in p.terms:
            t = torch.exp((X * n).clamp_min_(lo))
            K = t * w if K is None else K.add_(t, alpha=w)
            if need_deriv:
                Kd = t.mul_(w * n) if Kd is None else Kd.add_(t, alpha=w * n)
    if r is not None and need_deriv:
        zero = r == 0
        Kd.div_(r).masked_fill_(zero, 0.0)
    return K, Kd


@torch.no_grad()
def tiled_bilinear(
    specs: list[KernelSpec],
    As: list[Tensor],
    Bs: list[Tensor] | None,
    P: Tensor | None,
    Q: Tensor,
    block: int,
    *,
    sym: bool = False,
    same: bool = False,
    need_grad: bool = False,
    need_ktp: bool = False,
) -> tuple[Tensor, Tensor | None, list[Tensor], list[Tensor]]:
    """Tiled ``K Q`` (and ``K^T P``, gradients) for the product kernel of ``specs``.

    ``Bs=None`` means ``B = A`` (``same``); ``sym`` additionally uses the symmetry of
    ``P Q^T`` (which the caller guarantees).
    """
    if Bs is None:
        same = True
    sym = sym and same
    layers = [
        _prepare(s, a, None if same else b)
        for s, a, b in zip(specs, As, Bs if Bs is not None else As)
    ]
    na = As[0].shape[0]
    nb = na if same else Bs[0].shape[0]  # type: ignore[index]
    dt, dev = Q.dtype, Q.device
    KQ = torch.zeros(na, Q.shape[1], dtype=dt, device=dev)
    KtP = torch.zeros(nb, P.shape[1], dtype=dt, device=dev) if (need_ktp and not sym) else None
    # rank-1 coefficient (the biased estimator): W = Kd * (p_I q_J^T) is folded into
    # the matmul operands, W @ G_J = p_I * (Kd @ (q_J * G_J)), so no coefficient tile.
    fold = need_grad and P is not None and P.shape[1] == 1
    if fold:
        qGB = [Q * p.GB for p in layers]
        pGA = [P * p.GA for p in layers]
        racc = [torch.zeros(na, p.GB.shape[1], dtype=dt, device=dev) for p in layers]
        cacc = [torch.zeros(nb, p.GA.shape[1], dtype=dt, device=dev) for p in layers]
    gA = [torch.zeros_like(p.ZA) for p in layers] if (need_grad and not fold) else []
    gB = (
        gA
        if (need_grad and sym)
        else ([torch.zeros_like(p.ZB) for p in layers] if (need_grad and not fold) else [])
    )
    L = len(layers)
    for i0 in range(0, na, block):
        ri = slice(i0, min(i0 + block, na))
        for j0 in range(i0 if sym else 0, nb, block):
            cj = slice(j0, min(j0 + block, nb))
            diag = same and i0 == j0
            tiles = [_tile(p, ri, cj, diag, need_grad) for p in layers]
            Ks = [t[0] for t in tiles]
            if L == 1:
                K = Ks[0]
            else:
                K = Ks[0] * Ks[1]
                for k in Ks[2:]:
                    K.mul_(k)
            KQ[ri].addmm_(K, Q[cj])
            if sym and not diag:
                KQ[cj].addmm_(K.T, Q[ri])
            if KtP is not None:
                KtP[cj].addmm_(K.T, P[ri])
            if not need_grad:
                continue
            col = not (sym and diag)
            Gt = None if fold else P[ri] @ Q[cj].T
            for li, (p, (_, Kd)) in enumerate(zip(layers, tiles)):
                if fold:
                    if Kd is None:
                        W = torch.ones_like(K) if L == 1 else None
                    else:
                        W = Kd
                    for lj in range(L):
                        if lj != li:
                            W = Ks[lj].clone() if W is None else W.mul_(Ks[lj])
                    racc[li][ri].addmm_(W, qGB[li][cj])
                    if col:
                        cacc[li][cj].addmm_(W.T, pGA[li][ri])
                    continue
                W = Gt.clone() if Kd is None else Kd.mul_(Gt)
                for lj in range(L):
                    if lj != li:
                        W.mul_(Ks[lj])
                if p.kind == "dot":
                    gA[li][ri].addmm_(W, p.GB[cj])
                    if col:
                        gB[li][cj].addmm_(W.T, p.GA[ri])
                else:
                    tmp = W @ p.GB[cj]
                    gA[li][ri].sub_(tmp[:, :-1]).addcmul_(tmp[:, -1:], p.ZA[ri])
                    if col:
                        tmp = W.T @ p.GA[ri]
                        gB[li][cj].sub_(tmp[:, :-1]).addcmul_(tmp[:, -1:], p.ZB[cj])
    if fold:
        for li, p in enumerate(layers):
            if p.kind == "dot":
                ga, gb = P * racc[li], Q * cacc[li]
            else:
                ga = P * (racc[li][:, -1:] * p.ZA - racc[li][:, :-1])
                gb = Q * (cacc[li][:, -1:] * p.ZB - cacc[li][:, :-1])
            if sym:
                gA.append(ga.add_(gb).mul_(p.factor * 2.0))
            else:
                gA.append(ga.mul_(p.factor))
                gB.append(gb.mul_(p.factor))
        return KQ, KtP, gA, (gA if sym else gB)
    if need_grad:
        for li, p in enumerate(layers):
            f = p.factor * 2.0 if sym else p.factor
            gA[li].mul_(f)
            if not sym:
                gB[li].mul_(p.factor)
    return KQ, KtP, gA, gB
