"""Tests of domainadapt.ops: kernels, MMD estimators (direct and tiled), mmd_test."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from domainadapt.ops import (
    JointMMDLoss,
    MMDLoss,
    bandwidth_heuristic,
    joint_mmd,
    kernel_matrix,
    kernel_matvec,
    mmd,
    mmd_test,
    pairwise_sq_dists,
)

MULTS = (0.25, 0.5, 1.0, 2.0, 4.0)
KERNELS = ["gaussian", "laplacian", "linear", "polynomial"]
ESTIMATORS = ["biased", "unbiased", "linear"]


# ----------------------------------------------------------------------------- reference
def ref_kernel(kernel, A, B, sigma=1.3, mults=MULTS, degree=2, gamma=None, coef0=1.0):
    """Float64 reference kernel matrix from torch.cdist (independent of the ops code)."""
    A, B = A.double(), B.double()
    if kernel == "linear":
        return A @ B.T
    if kernel == "polynomial":
        g = 1.0 / A.shape[1] if gamma is None else gamma
        return (g * (A @ B.T) + coef0) ** degree
    dist = torch.cdist(A, B, compute_mode="donot_use_mm_for_euclid_dist")
    if kernel == "gaussian":
        return sum(torch.exp(-(dist**2) / (2 * (sigma * m) ** 2)) for m in mults) / len(mults)
    return sum(torch.exp(-dist / (sigma * m)) for m in mults) / len(mults)


def ref_mmd(X, Y, estimator, kernel="gaussian", wx=None, wy=None, kfun=None, **kw):
    """MMD^2 from its definition (weighted means of the three kernel blocks)."""
    kfun = kfun or (lambda A, B: ref_kernel(kernel, A, B, **kw))
    X, Y = X.double(), Y.double()
    n, m = len(X), len(Y)
    wx = torch.ones(n, dtype=torch.float64) if wx is None else wx.double()
    wy = torch.ones(m, dtype=torch.float64) if wy is None else wy.double()
    if estimator == "linear":
        p = min(n, m) // 2
        a, b = slice(0, 2 * p, 2), slice(1, 2 * p, 2)

        def kp(U, V):
            return torch.stack([kfun(U[i : i + 1], V[i : i + 1])[0, 0] for i in range(p)])

        kxx, kyy = kp(X[a], X[b]), kp(Y[a], Y[b])
        kxy, kyx = kp(X[a], Y[b]), kp(X[b], Y[a])
        pxx, pyy, pxy, pyx = wx[a] * wx[b], wy[a] * wy[b], wx[a] * wy[b], wx[b] * wy[a]
        return (
            (pxx * kxx).sum() / pxx.sum()
            + (pyy * kyy).sum() / pyy.sum()
            - 2 * ((pxy * kxy).sum() + (pyx * kyx).sum()) / (pxy.sum() + pyx.sum())
        )
    Kxx, Kyy, Kxy = kfun(X, X), kfun(Y, Y), kfun(X, Y)
    Wxx, Wyy = torch.outer(wx, wx), torch.outer(wy, wy)
    if estimator == "unbiased":
        Wxx = Wxx * (1 - torch.eye(n, dtype=torch.float64))
        Wyy = Wyy * (1 - torch.eye(m, dtype=torch.float64))
    return (
        (Wxx * Kxx).sum() / Wxx.sum()
        + (Wyy * Kyy).sum() / Wyy.sum()
        - 2 * (torch.outer(wx, wy) * Kxy).sum() / (wx.sum() * wy.sum())
    )


def data(n=37, m=29, d=5, shift=0.7, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    Y = torch.randn(m, d, generator=g, dtype=torch.float64) * 1.2 + shift
    wx = torch.rand(n, generator=g, dtype=torch.float64) + 0.1
    wy = torch.rand(m, generator=g, dtype=torch.float64) + 0.1
    return X.to(dtype), Y.to(dtype), wx.to(dtype), wy.to(dtype)


# ----------------------------------------------------------------------------- agreement
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("estimator", ESTIMATORS)
@pytest.mark.parametrize("kernel", KERNELS)
def test_agreement_with_reference(kernel, estimator, weighted, dtype):
    X, Y, wx, wy = data(dtype=dtype)  # n=37, m=29: N=66 is not a multiple of 8
    wkw = {"x_weights": wx, "y_weights": wy} if weighted else {}
    ref = ref_mmd(X, Y, estimator, kernel, wx if weighted else None, wy if weighted else None)
    tol = 1e-6 if dtype == torch.float64 else 1e-4
    for block in (None, 8, 64):  # direct, tiled (odd last tile), one 64 tile + remainder
        out = mmd(
            X,
            Y,
            kernel=kernel,
            bandwidth=1.3,
            multipliers=MULTS,
            estimator=estimator,
            block_size=block,
            **wkw,
        )
        assert out.dim() == 0 and out.dtype == dtype
        assert abs(float(out) - float(ref)) <= tol * abs(float(ref)), (
            block,
            float(out),
            float(ref),
        )


@pytest.mark.parametrize("mults", [(1.0,), (0.7, 1.3), MULTS])
@pytest.mark.parametrize("kernel", ["gaussian", "laplacian"])
def test_multiplier_sets_tiled(kernel, mults):
    # powers of two use the repeated-squaring path, other ratios one exp per kernel
    X, Y, _, _ = data(n=41, m=23)
    ref = ref_mmd(X, Y, "biased", kernel, sigma=0.9, mults=mults)
    for dtype, tol in ((torch.float64, 1e-7), (torch.float32, 1e-4)):
        out = mmd(
            X.to(dtype), Y.to(dtype), kernel=kernel, bandwidth=0.9, multipliers=mults, block_size=16
        )
        assert abs(float(out) - float(ref)) <= tol * float(ref)


def test_polynomial_parameters():
    X, Y, _, _ = data()
    ref = ref_mmd(X, Y, "unbiased", "polynomial", degree=3, gamma=0.3, coef0=0.5)
    for block in (None, 8):
        out = mmd(
            X,
            Y,
            kernel="polynomial",
            degree=3,
            gamma=0.3,
            coef0=0.5,
            estimator="unbiased",
            block_size=block,
        )
        assert float(out) == pytest.approx(float(ref), rel=1e-9)


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_joint_mmd_agreement(estimator):
    X, Y, wx, wy = data(n=33, m=26)
    g = torch.Generator().manual_seed(5)
    X2 = torch.softmax(torch.randn(33, 4, generator=g, dtype=torch.float64), 1)
    Y2 = torch.softmax(torch.randn(26, 4, generator=g, dtype=torch.float64) + 0.5, 1)

    def kfun_factory():
        cache = {}

        def kfun(A, B):
            # A, B are row-subsets of the stacked [layer1 | layer2] features
            k1 = ref_kernel("gaussian", A[:, :5], B[:, :5], sigma=1.1, mults=(0.5, 1.0, 2.0))
            k2 = ref_kernel("laplacian", A[:, 5:], B[:, 5:], sigma=0.4, mults=(1.0,))
            return k1 * k2

        return kfun, cache

    kfun, _ = kfun_factory()
    ref = ref_mmd(torch.cat([X, X2], 1), torch.cat([Y, Y2], 1), estimator, wx=wx, wy=wy, kfun=kfun)
    for block in (None, 7):
        out = joint_mmd(
            [X, X2],
            [Y, Y2],
            kernel=["gaussian", "laplacian"],
            bandwidth=[1.1, 0.4],
            multipliers=[(0.5, 1.0, 2.0), (1.0,)],
            estimator=estimator,
            x_weights=wx,
            y_weights=wy,
            block_size=block,
        )
        assert float(out) == pytest.approx(float(ref), rel=1e-7)
    # one layer: joint_mmd == mmd
    a = joint_mmd([X], [Y], multipliers=MULTS, estimator=estimator)
    b = mmd(X, Y, multipliers=MULTS, estimator=estimator)
    assert float(a) == pytest.approx(float(b), rel=1e-12)


def test_tiled_gradients_match_direct_float32():
    X, Y, wx, wy = data(n=70, m=45, d=6, dtype=torch.float32)
    for est in ("biased", "unbiased"):
        gs = []
        for block in (None, 16):
            Xr, Yr = X.clone().requires_grad_(), Y.clone().requires_grad_()
            v = mmd(
                Xr,
                Yr,
                multipliers=MULTS,
                estimator=est,
                x_weights=wx,
                y_weights=wy,
                block_size=block,
            )
            gs.append((v.detach(), *torch.autograd.grad(v, (Xr, Yr))))
        (v1, gx1, gy1), (v2, gx2, gy2) = gs
        assert float(v1) == pytest.approx(float(v2), rel=1e-4)
        assert torch.allclose(gx1, gx2, rtol=1e-3, atol=1e-4 * gx1.abs().max())
        assert torch.allclose(gy1, gy2, rtol=1e-3, atol=1e-4 * gy1.abs().max())


# ----------------------------------------------------------------------------- gradcheck
@pytest.mark.parametrize("block", [None, 4])
@pytest.mark.parametrize("estimator", ESTIMATORS)
@pytest.mark.parametrize("kernel", ["gaussian", "laplacian", "polynomial"])
def test_gradcheck(kernel, estimator, block):
    X, Y, wx, wy = data(n=9, m=7, d=3)
    inputs = tuple(t.clone().requires_grad_() for t in (X, Y, wx, wy))

    def f(X, Y, wx, wy):
        return mmd(
            X,
            Y,
            kernel=kernel,
            bandwidth=1.1,
            multipliers=(0.5, 1.0, 2.0),
            estimator=estimator,
            x_weights=wx,
            y_weights=wy,
            block_size=block,
        )

    assert torch.autograd.gradcheck(f, inputs, eps=1e-6, atol=1e-7)


def test_gradcheck_joint_tiled():
    X, Y, wx, _ = data(n=9, m=7, d=3)
    X2, Y2, _, _ = data(n=9, m=7, d=2, seed=3)
    inputs = tuple(t.clone().requires_grad_() for t in (X, Y, X2, Y2, wx))

    def f(X, Y, X2, Y2, wx):
        return joint_mmd(
            [X, X2],
            [Y, Y2],
            kernel=["gaussian", "polynomial"],
            bandwidth=1.2,
            multipliers=(0.5, 1.0, 2.0),
            estimator="unbiased",
            x_weights=wx,
            block_size=5,
        )

    assert torch.autograd.gradcheck(f, inputs, eps=1e-6, atol=1e-7)


def test_gradcheck_kernel_matvec():
    X, Y, _, _ = data(n=9, m=7, d=3)
    v = torch.randn(7, 2, dtype=torch.float64)
    inputs = tuple(t.clone().requires_grad_() for t in (X, Y, v))
    assert torch.autograd.gradcheck(
        lambda X, Y, v: kernel_matvec(X, Y, v, bandwidth=0.8, multipliers=(0.5, 1.0), block_size=4),
        inputs,
    )
    Xs = X.clone().requires_grad_()
    vs = torch.randn(9, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda X, v: kernel_matvec(X, None, v, kernel="laplacian", bandwidth=1.5, block_size=4),
        (Xs, vs),
    )


# ----------------------------------------------------------------------------- numerics
def test_no_nan_gradient_at_identical_points():
    X = torch.randn(6, 3, dtype=torch.float64)
    X = torch.cat([X, X, X[:2]])  # duplicated rows
    Y = X.clone()  # MMD between identical samples
    for kernel in ("gaussian", "laplacian", "polynomial"):
        for block in (None, 4):
            Xr, Yr = X.clone().requires_grad_(), Y.clone().requires_grad_()
            v = mmd(Xr, Yr, kernel=kernel, multipliers=MULTS, block_size=block)
            gx, gy = torch.autograd.grad(v, (Xr, Yr))
            # the Laplacian's sqrt turns rounding of ~1e-16 in D into ~1e-8 in the distance
            assert torch.isfinite(v) and abs(v.item()) < (1e-7 if kernel == "laplacian" else 1e-10)
            assert torch.isfinite(gx).all() and torch.isfinite(gy).all()
            assert gx.abs().max() < 1e-6


def test_pairwise_sq_dists_nonnegative_and_exact_diagonal():
    g = torch.Generator().manual_seed(0)
    X = 1e4 + 1e-3 * torch.randn(50, 8, generator=g)  # large offset, tiny spread: cancellation
    D = pairwise_sq_dists(X)
    assert (D >= 0).all() and (D.diagonal() == 0).all()
    ref = torch.cdist(X.double(), X.double()) ** 2
    assert torch.allclose(D.double(), ref, rtol=1e-3, atol=1e-9)
    D2 = pairwise_sq_dists(X, X[:7])
    assert (D2 >= 0).all() and D2.shape == (50, 7)


def test_far_offset_float32_tiled():
    X, Y, _, _ = data(n=40, m=30, d=4)
    ref = ref_mmd(X, Y, "biased", sigma=1.3)
    off = 1e3
    out = mmd((X + off).float(), (Y + off).float(), bandwidth=1.3, multipliers=MULTS, block_size=16)
    assert float(out) == pytest.approx(float(ref), rel=1e-3)


def test_autocast_distances_in_float32():
    X, Y, _, _ = data(n=40, m=30, d=8, dtype=torch.float32)
    ref = mmd(X, Y, multipliers=MULTS)
    for block in (None, 16):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = mmd(X, Y, multipliers=MULTS, block_size=block)
        assert out.dtype == torch.float32
        assert float(out) == pytest.approx(float(ref), rel=1e-5)
    out = mmd(X.bfloat16(), Y.bfloat16(), multipliers=MULTS)
    assert out.dtype == torch.float32


def test_deterministic():
    X, Y, wx, wy = data(n=300, m=250, d=16, dtype=torch.float32)
    outs = []
    for _ in range(2):
        Xr = X.clone().requires_grad_()
        v = mmd(Xr, Y, multipliers=MULTS, x_weights=wx, block_size=128)
        (g,) = torch.autograd.grad(v, Xr)
        outs.append((v, g))
    assert torch.equal(outs[0][0], outs[1][0]) and torch.equal(outs[0][1], outs[1][1])


@pytest.mark.parametrize("block", [None, 16])
def test_torch_compile(block):
    X, Y, _, _ = data(n=40, m=30, d=4, dtype=torch.float32)

    def loss(X, Y):
        return mmd(X, Y, bandwidth=1.0, multipliers=MULTS, block_size=block)

    compiled = torch.compile(loss, backend="aot_eager", fullgraph=False)
    Xe, Xc = X.clone().requires_grad_(), X.clone().requires_grad_()
    ve, vc = loss(Xe, Y), compiled(Xc, Y)
    (ge,), (gc,) = torch.autograd.grad(ve, Xe), torch.autograd.grad(vc, Xc)
    assert float(vc) == pytest.approx(float(ve), rel=1e-5)
    assert torch.allclose(ge, gc, rtol=1e-4, atol=1e-7)


def test_torch_compile_inductor_direct():
    pytest.importorskip("torch._inductor")
    X, Y, _, _ = data(n=24, m=20, d=4, dtype=torch.float32)

    def loss(X, Y):
        return mmd(X, Y, bandwidth=1.0, multipliers=MULTS)

    try:
        compiled = torch.compile(loss)
        vc = compiled(X, Y)
    except Exception as exc:  # no C++ toolchain for inductor on this machine
        if "compiler" in str(exc).lower() or "cpp" in str(exc).lower():
            pytest.skip(f"inductor unavailable: {exc}")
        raise
    assert float(vc) == pytest.approx(float(loss(X, Y)), rel=1e-5)


# ----------------------------------------------------------------------------- kernels
def test_kernel_matrix_and_matvec():
    X, Y, _, _ = data(n=37, m=29)
    for kernel in KERNELS:
        K = kernel_matrix(X, Y, kernel=kernel, bandwidth=1.3, multipliers=MULTS)
        assert torch.allclose(K, ref_kernel(kernel, X, Y), rtol=1e-8, atol=1e-10)
        v = torch.randn(29, 3, dtype=torch.float64)
        kv = kernel_matvec(X, Y, v, kernel=kernel, bandwidth=1.3, multipliers=MULTS, block_size=8)
        assert torch.allclose(kv, K @ v, rtol=1e-8, atol=1e-8)
        u = torch.randn(37, dtype=torch.float64)
        ku = kernel_matvec(
            X, None, u, kernel=kernel, bandwidth=1.3, multipliers=MULTS, block_size=8
        )
        assert torch.allclose(ku, ref_kernel(kernel, X, X) @ u, rtol=1e-8, atol=1e-8)


def test_bandwidth_heuristic():
    X, Y, _, _ = data(n=30, m=20)
    Z = torch.cat([X, Y]).numpy()
    diff = Z[:, None, :] - Z[None, :, :]
    dist = np.sqrt((diff**2).sum(-1))[np.triu_indices(50, 1)]
    med = bandwidth_heuristic(X, Y, method="median")
    assert float(med) == pytest.approx(float(np.sort(dist)[(len(dist) - 1) // 2]), rel=1e-10)
    mean = bandwidth_heuristic(X, Y, method="mean")
    assert float(mean) == pytest.approx(math.sqrt(float((dist**2).mean())), rel=1e-10)
    # bounded subsample: deterministic and close to the full median
    big = torch.randn(5000, 3, generator=torch.Generator().manual_seed(1))
    a = bandwidth_heuristic(big, max_samples=500, seed=3)
    b = bandwidth_heuristic(big, max_samples=500, seed=3)
    full = bandwidth_heuristic(big[:2000], max_samples=2000)
    assert float(a) == float(b) and float(a) == pytest.approx(float(full), rel=0.05)
    # detached by default, attached on request
    Xr = X.clone().requires_grad_()
    assert not bandwidth_heuristic(Xr).requires_grad
    assert bandwidth_heuristic(Xr, detach=False).requires_grad
    # mmd(bandwidth=None) uses the median heuristic
    assert float(mmd(X, Y)) == pytest.approx(float(mmd(X, Y, bandwidth=float(med))), rel=1e-12)
    assert float(mmd(X, Y, bandwidth="mean")) == pytest.approx(
        float(mmd(X, Y, bandwidth=float(mean))), rel=1e-12
    )


def test_modules():
    X, Y, wx, _ = data()
    loss = MMDLoss(multipliers=MULTS, estimator="unbiased")
    assert float(loss(X, Y, x_weights=wx)) == pytest.approx(
        float(mmd(X, Y, multipliers=MULTS, estimator="unbiased", x_weights=wx))
    )
    jl = JointMMDLoss(multipliers=MULTS)
    assert float(jl([X], [Y])) == pytest.approx(float(mmd(X, Y, multipliers=MULTS)))
    with pytest.raises(TypeError, match="kernal"):
        MMDLoss(kernal="gaussian")


# ----------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"X": torch.randn(5)}, ValueError, "X must be 2-D"),
        ({"Y": torch.randn(5, 4)}, ValueError, "same number of features"),
        ({"X": torch.randn(0, 3)}, ValueError, "X is empty"),
        ({"X": torch.tensor([[float("nan")] * 3] * 4)}, ValueError, "X contains NaN"),
        ({"Y": torch.ones(4, 3, dtype=torch.int64)}, TypeError, "Y must have a floating dtype"),
        ({"X": [[1.0, 2.0, 3.0]]}, TypeError, "X must be a torch.Tensor"),
        ({"kernel": "rbf"}, ValueError, "kernel must be one of"),
        ({"estimator": "quadratic"}, ValueError, "estimator must be one of"),
        ({"bandwidth": -1.0}, ValueError, "bandwidth must be positive"),
        ({"bandwidth": torch.tensor(-2.0)}, ValueError, "bandwidth must be positive"),
        ({"bandwidth": "mode"}, ValueError, "bandwidth must be one of"),
        ({"multipliers": ()}, ValueError, "multipliers must not be empty"),
        ({"multipliers": (1.0, -2.0)}, ValueError, "multipliers must be positive"),
        ({"x_weights": torch.ones(3)}, ValueError, "x_weights must be 1-D of length 4"),
        ({"y_weights": -torch.ones(6)}, ValueError, "y_weights must be non-negative"),
        ({"x_weights": torch.zeros(4)}, ValueError, "x_weights must not be all zero"),
        ({"X": torch.randn(1, 3), "estimator": "unbiased"}, ValueError, "at least 2 samples"),
        ({"Y": torch.randn(1, 3), "estimator": "linear"}, ValueError, "at least 2 samples"),
        ({"block_size": 0}, ValueError, "block_size must be a positive int"),
        ({"block_size": 2.5}, TypeError, "block_size must be a positive int"),
        ({"kernel": "polynomial", "degree": 0}, ValueError, "degree must be a positive int"),
    ],
)
def test_validation_errors(kwargs, exc, match):
    args = {"X": torch.randn(4, 3), "Y": torch.randn(6, 3)}
    args.update(kwargs)
    X, Y = args.pop("X"), args.pop("Y")
    with pytest.raises(exc, match=match):
        mmd(X, Y, **args)


def test_validation_other_entry_points():
    with pytest.raises(TypeError, match="sequences of tensors"):
        joint_mmd(torch.randn(3, 2), torch.randn(3, 2))
    with pytest.raises(ValueError, match="one tensor per layer"):
        joint_mmd([torch.randn(3, 2)], [])
    with pytest.raises(ValueError, match="same number of rows"):
        joint_mmd([torch.randn(3, 2), torch.randn(4, 2)], [torch.randn(3, 2), torch.randn(3, 2)])
    with pytest.raises(ValueError, match="kernel must be one value or one per layer"):
        joint_mmd([torch.randn(3, 2)] * 2, [torch.randn(3, 2)] * 2, kernel=["gaussian"] * 3)
    with pytest.raises(ValueError, match="v must have shape"):
        kernel_matvec(torch.randn(4, 2), torch.randn(5, 2), torch.randn(4))
    with pytest.raises(ValueError, match="n_permutations"):
        mmd_test(torch.randn(4, 2), torch.randn(5, 2), n_permutations=0)
    with pytest.raises(ValueError, match="method must be one of"):
        bandwidth_heuristic(torch.randn(4, 2), method="max")
    with pytest.raises(ValueError, match="group was given"):
        mmd(torch.randn(4, 2), torch.randn(5, 2), group=object())


# ----------------------------------------------------------------------------- statistics
def test_unbiased_estimator_averages_zero_under_null():
    g = torch.Generator().manual_seed(0)
    reps, n = 200, 40
    X = torch.randn(reps, n, 3, generator=g, dtype=torch.float64)
    Y = torch.randn(reps, n + 7, 3, generator=g, dtype=torch.float64)
    u = torch.stack([mmd(X[i], Y[i], bandwidth=1.5, estimator="unbiased") for i in range(reps)])
    b = torch.stack([mmd(X[i], Y[i], bandwidth=1.5, estimator="biased") for i in range(reps)])
    se = float(u.std()) / math.sqrt(reps)
    assert abs(float(u.mean())) < 3 * se  # unbiased: mean ~ 0
    assert float(b.mean()) > 10 * se  # biased: positive offset
    lin = torch.stack([mmd(X[i], Y[i], bandwidth=1.5, estimator="linear") for i in range(reps)])
    assert abs(float(lin.mean())) < 3 * float(lin.std()) / math.sqrt(reps)


def test_mmd_test_detects_shift():
    g = torch.Generator().manual_seed(1)
    X = torch.randn(80, 4, generator=g)
    Y = torch.randn(60, 4, generator=g) + torch.tensor([0.8, 0, 0, 0])
    for est in ("biased", "unbiased"):
        res = mmd_test(X, Y, estimator=est, multipliers=MULTS, n_permutations=200)
        assert res.p_value < 0.01 and res.statistic > 0
        assert res.null_distribution.shape == (200,)
    res = mmd_test(X, Y, estimator="linear", n_permutations=100)
    assert 0 < res.p_value <= 1


def test_mmd_test_level_under_null():
    g = torch.Generator().manual_seed(2)
    reps, rejections, pvals = 100, 0, []
    for r in range(reps):
        X = torch.randn(25, 2, generator=g, dtype=torch.float64)
        Y = torch.randn(30, 2, generator=g, dtype=torch.float64)
        p = mmd_test(
            X, Y, n_permutations=199, seed=r, estimator="unbiased" if r % 2 else "biased"
        ).p_value
        pvals.append(p)
        rejections += p <= 0.05
    assert rejections / reps <= 0.12  # nominal 5 %, 100 reps: ~3 binomial s.e.
    assert 0.35 < float(np.mean(pvals)) < 0.65  # roughly uniform p-values


def test_mmd_test_tiled_matches_full(monkeypatch):
    import domainadapt.ops.testing as testing

    X, Y, wx, wy = data(n=30, m=25)
    kw = dict(
        n_permutations=50, seed=4, multipliers=MULTS, x_weights=wx, y_weights=wy, block_size=8
    )
    for est in ("biased", "unbiased"):
        full = mmd_test(X, Y, estimator=est, **kw)
        monkeypatch.setattr(testing, "_FULL_MATRIX_MAX", 0)
        tiled = mmd_test(X, Y, estimator=est, **kw)
        monkeypatch.undo()
        assert full.statistic == pytest.approx(tiled.statistic, rel=1e-10)
        assert torch.allclose(
            full.null_distribution, tiled.null_distribution, rtol=1e-9, atol=1e-12
        )
        assert full.p_value == tiled.p_value
        assert full.statistic == pytest.approx(
            float(mmd(X, Y, estimator=est, multipliers=MULTS, x_weights=wx, y_weights=wy)),
            rel=1e-10,
        )


# ----------------------------------------------------------------------------- cuda
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.cuda
@cuda
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cuda_matches_cpu(dtype):
    X, Y, wx, wy = data(n=300, m=211, d=16, dtype=dtype)
    for est in ESTIMATORS:
        for block in (None, 64):
            cpu = mmd(
                X, Y, multipliers=MULTS, estimator=est, x_weights=wx, y_weights=wy, block_size=block
            )
            Xg = X.cuda().requires_grad_()
            gpu = mmd(
                Xg,
                Y.cuda(),
                multipliers=MULTS,
                estimator=est,
                x_weights=wx.cuda(),
                y_weights=wy.cuda(),
                block_size=block,
            )
            gpu.backward()
            assert torch.isfinite(Xg.grad).all()
            tol = 1e-9 if dtype == torch.float64 else 1e-4
            assert float(gpu) == pytest.approx(float(cpu), rel=tol)


@pytest.mark.cuda
@cuda
def test_cuda_autocast_and_compile():
    X, Y, _, _ = data(n=500, m=400, d=32, dtype=torch.float32)
    X, Y = X.cuda(), Y.cuda()
    ref = mmd(X, Y, multipliers=MULTS, block_size=128)
    with torch.autocast("cuda", dtype=torch.float16):
        out = mmd(X, Y, multipliers=MULTS, block_size=128)
    assert out.dtype == torch.float32 and float(out) == pytest.approx(float(ref), rel=1e-4)
    compiled = torch.compile(lambda a, b: mmd(a, b, bandwidth=1.0, multipliers=MULTS))
    assert float(compiled(X[:100], Y[:100])) == pytest.approx(
        float(mmd(X[:100], Y[:100], bandwidth=1.0, multipliers=MULTS)), rel=1e-4
    )


# ----------------------------------------------------------------------------- heuristic gradient
@pytest.mark.parametrize("block", [None, 8])
@pytest.mark.parametrize("estimator", ["biased", "unbiased", "linear"])
@pytest.mark.parametrize("bandwidth", [None, "mean"])
def test_gradcheck_through_heuristic_bandwidth(bandwidth, estimator, block):
    """With a heuristic bandwidth the gradient is the gradient of the returned value
    (finite differences agree), on the direct and the tiled path; holding the bandwidth
    constant (``detach_bandwidth=True``) gives a different, wrong one."""
    X, Y, _, _ = data(n=9, m=7, d=3)
    inputs = tuple(t.clone().requires_grad_() for t in (X, Y))
    kw = dict(bandwidth=bandwidth, multipliers=(0.5, 1.0, 2.0), estimator=estimator,
              block_size=block)
    assert torch.autograd.gradcheck(lambda X, Y: mmd(X, Y, **kw), inputs, eps=1e-6, atol=1e-7)
    with pytest.raises(RuntimeError, match="Jacobian mismatch"):
        torch.autograd.gradcheck(
            lambda X, Y: mmd(X, Y, detach_bandwidth=True, **kw), inputs, eps=1e-6, atol=1e-7
        )


def test_gradcheck_joint_through_heuristic_bandwidth():
    X, Y, _, _ = data(n=9, m=7, d=3)
    X2, Y2, _, _ = data(n=9, m=7, d=2, seed=3)
    inputs = tuple(t.clone().requires_grad_() for t in (X, Y, X2, Y2))

    def f(X, Y, X2, Y2):  # a heuristic on the first layer, a fixed bandwidth on the second
        return joint_mmd([X, X2], [Y, Y2], bandwidth=[None, 1.2], multipliers=(0.5, 1.0, 2.0),
                         block_size=5)

    assert torch.autograd.gradcheck(f, inputs, eps=1e-6, atol=1e-7)


@pytest.mark.parametrize("kernel", ["gaussian", "laplacian"])
def test_heuristic_mmd_is_scale_invariant_with_no_radial_gradient(kernel):
    """MMD(cX, cY) with the median-heuristic bandwidth does not depend on c, so (Euler) the
    gradient is orthogonal to (X, Y). Held constant, the bandwidth leaves a gradient
    component that lowers the loss by shrinking both samples."""
    X, Y, _, _ = data(n=40, m=30, d=4)
    v = mmd(X, Y, kernel=kernel, multipliers=MULTS)
    assert float(mmd(3.7 * X, 3.7 * Y, kernel=kernel, multipliers=MULTS)) == pytest.approx(
        float(v), rel=1e-10
    )

    def radial(**kw):
        Xr, Yr = X.clone().requires_grad_(), Y.clone().requires_grad_()
        gx, gy = torch.autograd.grad(mmd(Xr, Yr, kernel=kernel, multipliers=MULTS, **kw), (Xr, Yr))
        # d/dc MMD(cX, cY) at c = 1, relative to the gradient's size
        return float((gx * X).sum() + (gy * Y).sum()) / float(torch.cat([gx, gy]).norm())

    assert abs(radial()) < 1e-10
    assert radial(detach_bandwidth=True) > 0.05  # shrinking (c < 1) lowers the loss


def test_heuristic_mmd_training_does_not_shrink_features():
    """Minimising the MMD between two linear maps ``W`` of shifted samples. Through the
    heuristic the loss is invariant to the scale of ``W``, so each gradient is orthogonal
    to ``W`` and a plain gradient step can only grow its norm
    (``|W - lr g|^2 = |W|^2 + lr^2 |g|^2``). Held constant, the bandwidth lets the loss fall
    by shrinking ``W``: the features collapse towards zero (the DAN collapse)."""
    g = torch.Generator().manual_seed(0)
    source = torch.randn(64, 5, generator=g, dtype=torch.float64)
    target = torch.randn(64, 5, generator=g, dtype=torch.float64) + 1.0

    def norms(**kw):
        W = torch.eye(5, dtype=torch.float64).requires_grad_()
        opt = torch.optim.SGD([W], lr=2.0)
        out = [float(W.norm())]
        for _ in range(100):
            opt.zero_grad()
            mmd(source @ W, target @ W, multipliers=MULTS, **kw).backward()
            opt.step()
            out.append(float(W.norm()))
        return np.array(out)

    live = norms()
    assert np.all(np.diff(live) >= -1e-12)
    assert norms(detach_bandwidth=True)[-1] < 0.7 * live[0]


def test_heuristic_bandwidth_value_unchanged_with_gradient():
    """The value is the same whether or not the bandwidth is in the graph."""
    X, Y, _, _ = data(n=150, m=120, d=6)
    Xr = X.clone().requires_grad_()
    for est in ESTIMATORS:
        a = mmd(Xr, Y, multipliers=MULTS, estimator=est)
        b = mmd(X, Y, multipliers=MULTS, estimator=est)
        c = mmd(Xr, Y, multipliers=MULTS, estimator=est, detach_bandwidth=True)
        assert float(a.detach()) == pytest.approx(float(b), rel=1e-10)
        assert float(c.detach()) == pytest.approx(float(b), rel=1e-10)


def test_heuristic_bandwidth_invalid_name_names_bandwidth():
    X = torch.randn(5, 2, requires_grad=True)
    with pytest.raises(ValueError, match="bandwidth"):
        mmd(X, torch.randn(4, 2), bandwidth="max")
