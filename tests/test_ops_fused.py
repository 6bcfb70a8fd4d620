"""The fused Triton Gaussian MMD (``backend="triton"``) against the float64 reference.

On a CUDA machine the kernels run on the GPU. Elsewhere they run on CPU tensors under
Triton's interpreter, which must be switched on before triton is first imported (and
``import domainadapt.ops`` imports it, through ``torch._dynamo``): so without a GPU,
:func:`test_fused_kernels_under_interpreter` reruns this file's kernel tests in a
subprocess with ``TRITON_INTERPRET=1`` (or run ``TRITON_INTERPRET=1 pytest
tests/test_ops_fused.py`` directly). Without triton they skip with the reason; the
option checks at the end need no triton.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from domainadapt.ops import _fused, joint_mmd, mmd

MMD_MODULE = sys.modules["domainadapt.ops.mmd"]
HAS_TRITON = _fused._import_error() is None  # tries to import triton, once
HAS_CUDA = torch.cuda.is_available()
DEVICE = "cuda" if HAS_CUDA else "cpu"
INTERPRETING = os.environ.get("TRITON_INTERPRET", "0").lower() in ("1", "true", "on", "yes")
needs_triton = pytest.mark.skipif(
    not HAS_TRITON, reason="triton is not installed (pip install domainadapt[cuda])"
)
#: The kernel tests: on a GPU, or in a process started with TRITON_INTERPRET=1.
kernel_test = pytest.mark.skipif(
    not HAS_TRITON or not (HAS_CUDA or INTERPRETING),
    reason="triton is not installed"
    if not HAS_TRITON
    else "no GPU: runs in the TRITON_INTERPRET=1 subprocess of test_fused_kernels_under_interpreter",
)
DAN = (0.25, 0.5, 1.0, 2.0, 4.0)


def _reference(X, Y, wx, wy, mults, estimator, sigma):
    """Float64 MMD² from the full matrix, written independently of the library."""
    X, Y = X.double(), Y.double()
    Z = torch.cat([X, Y])
    D = ((Z[:, None, :] - Z[None, :, :]) ** 2).sum(-1)
    K = sum(torch.exp(-D / (2.0 * (float(sigma) * m) ** 2)) for m in mults) / len(mults)
    n, m = X.shape[0], Y.shape[0]
    wx = torch.ones(n, dtype=torch.float64) if wx is None else wx.double()
    wy = torch.ones(m, dtype=torch.float64) if wy is None else wy.double()
    Kxx, Kyy, Kxy = K[:n, :n], K[n:, n:], K[:n, n:]
    if estimator == "biased":
        return (
            wx @ Kxx @ wx / wx.sum() ** 2
            + wy @ Kyy @ wy / wy.sum() ** 2
            - 2.0 * wx @ Kxy @ wy / (wx.sum() * wy.sum())
        )
    off = lambda k, w: (w @ k @ w - (w * w * k.diagonal()).sum()) / (w.sum() ** 2 - (w * w).sum())  # noqa: E731
    return off(Kxx, wx) + off(Kyy, wy) - 2.0 * wx @ Kxy @ wy / (wx.sum() * wy.sum())


@kernel_test
@pytest.mark.parametrize(
    ("n", "m", "d", "mults", "estimator", "weighted"),
    [
        (40, 29, 5, DAN, "biased", False),
        (33, 50, 70, (0.5, 1.0, 3.0), "unbiased", True),  # ratios not powers of two
        (70, 70, 17, (1.0,), "biased", True),
        (21, 26, 40, DAN, "unbiased", False),
        (20, 17, 200, DAN, "biased", True),  # d > 128: the widest backward chunk (256)
    ],
)
def test_fused_matches_float64_reference(n, m, d, mults, estimator, weighted):
    g = torch.Generator().manual_seed(n + m + d)
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    Y = torch.randn(m, d, generator=g, dtype=torch.float64) * 1.2 + 0.3
    wx = torch.rand(n, generator=g, dtype=torch.float64) + 0.2 if weighted else None
    wy = torch.rand(m, generator=g, dtype=torch.float64) + 0.2 if weighted else None
    sigma = 1.3 * d**0.5
    leaves64 = [t.clone().requires_grad_() for t in (X, Y) + ((wx, wy) if weighted else ())]
    ref = _reference(*leaves64[:2], *(leaves64[2:] or [None, None]), mults, estimator, sigma)
    ref_grads = torch.autograd.grad(ref, leaves64)
    leaves = [t.float().to(DEVICE).requires_grad_() for t in leaves64]
    wkw = {"x_weights": leaves[2], "y_weights": leaves[3]} if weighted else {}
    out = mmd(
        leaves[0],
        leaves[1],
        bandwidth=sigma,
        multipliers=mults,
        estimator=estimator,
        backend="triton",
        **wkw,
    )
    grads = torch.autograd.grad(out, leaves)
    assert out.dtype == torch.float32
    assert float(out.detach()) == pytest.approx(float(ref.detach()), rel=2e-4, abs=1e-6)
    for g32, g64 in zip(grads, ref_grads):
        err = (g32.double().cpu() - g64).abs().max() / g64.abs().max()
        assert err < 2e-4, err


@kernel_test
def test_fused_gradcheck_float64():
    """Finite differences of the fused kernel in float64 (X, Y and the weights)."""
    g = torch.Generator().manual_seed(3)
    X = torch.randn(7, 3, generator=g, dtype=torch.float64).to(DEVICE).requires_grad_()
    Y = (torch.randn(6, 3, generator=g, dtype=torch.float64) + 0.5).to(DEVICE).requires_grad_()
    wx = (torch.rand(7, generator=g, dtype=torch.float64) + 0.5).to(DEVICE).requires_grad_()

    def f(X, Y, wx):
        return mmd(
            X,
            Y,
            x_weights=wx,
            bandwidth=1.1,
            multipliers=(0.5, 1.0, 2.0),
            estimator="unbiased",
            backend="triton",
        )

    assert torch.autograd.gradcheck(f, (X, Y, wx), eps=1e-6, atol=1e-7, rtol=1e-5)


@kernel_test
def test_fused_agrees_with_torch_path_and_median_heuristic():
    g = torch.Generator().manual_seed(5)
    X = torch.randn(90, 12, generator=g).to(DEVICE)
    Y = (torch.randn(80, 12, generator=g) + 0.2).to(DEVICE)
    a = mmd(X, Y, multipliers=DAN, backend="triton")
    b = mmd(X, Y, multipliers=DAN, backend="torch")
    assert float(a) == pytest.approx(float(b), rel=1e-4)


@kernel_test
def test_fused_gradient_through_median_heuristic():
    """The default bandwidth is differentiated through on the fused path too (the rows are
    divided by it before the kernel): the same gradient as the torch path, whose gradient
    the direct-path gradcheck of ``test_ops_mmd`` checks."""
    g = torch.Generator().manual_seed(6)
    X = torch.randn(90, 12, generator=g, dtype=torch.float64).to(DEVICE)
    Y = (torch.randn(80, 12, generator=g, dtype=torch.float64) + 0.3).to(DEVICE)
    grads = {}
    for backend in ("triton", "torch"):
        Xr, Yr = X.clone().requires_grad_(), Y.clone().requires_grad_()
        value = mmd(Xr, Yr, multipliers=DAN, backend=backend)
        grads[backend] = torch.autograd.grad(value, (Xr, Yr))
    for a, b in zip(grads["triton"], grads["torch"]):
        assert torch.allclose(a, b, rtol=1e-6, atol=1e-9 * float(b.abs().max()))
    # no component along a common rescaling of X and Y (the loss is scale-invariant)
    gx, gy = grads["triton"]
    radial = float((gx * X).sum() + (gy * Y).sum())
    assert abs(radial) < 1e-8 * float(torch.cat([gx, gy]).norm() * torch.cat([X, Y]).norm())


@kernel_test
def test_selftest_passes_and_reports_failures(monkeypatch):
    """The check ``backend="auto"`` runs before trusting the kernels on a new configuration."""
    dev = torch.device(DEVICE)
    _fused.fused_selftest.cache_clear()
    try:
        assert _fused.fused_selftest(dev, torch.float32, 20, 5, 2) is None  # DAN's chain
        assert _fused.fused_selftest(dev, torch.float64, 7, 3, 0) is None  # exp per bandwidth
        _fused.fused_selftest.cache_clear()
        with torch.inference_mode():  # the first auto call may come while evaluating
            assert _fused.fused_selftest(dev, torch.float32, 20, 5) is None

        def broken(*args, **kwargs):
            raise RuntimeError("out of resources: shared memory")

        monkeypatch.setattr(_fused, "_launch_grad", broken)
        _fused.fused_selftest.cache_clear()
        assert "out of resources" in _fused.fused_selftest(dev, torch.float32, 20, 5)
        monkeypatch.undo()
        real = _fused._launch_kc
        monkeypatch.setattr(_fused, "_launch_kc", lambda *a: real(*a) * 1.01)
        _fused.fused_selftest.cache_clear()
        assert "disagrees" in _fused.fused_selftest(dev, torch.float32, 20, 5)
    finally:
        monkeypatch.undo()
        _fused.fused_selftest.cache_clear()


@needs_triton
@pytest.mark.skipif(HAS_CUDA or INTERPRETING, reason="the kernel tests run in this process")
def test_fused_kernels_under_interpreter():
    """Without a GPU: this file's kernel tests, in a process started with TRITON_INTERPRET=1."""
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        __file__,
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:xdist",
        "-k",
        "fused_matches or gradcheck or agrees or selftest",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, check=False)
    tail = out.stdout[-3000:] + out.stderr[-2000:]
    assert out.returncode == 0, tail
    assert " passed" in out.stdout and "skipped" not in out.stdout.splitlines()[-1], tail


def test_import_needs_no_triton():
    """With triton unimportable, ``domainadapt`` imports, CPU ``mmd`` runs, and
    ``backend="triton"`` explains how to install it."""
    code = (
        "import sys\n"
        "sys.modules['triton'] = None\n"
        "import torch, domainadapt\n"
        "from domainadapt.ops import mmd\n"
        "assert 'domainadapt.ops._fused_kernels' not in sys.modules\n"
        "print(mmd(torch.randn(300, 3), torch.randn(200, 3)).item() > 0)\n"
        "try:\n"
        "    mmd(torch.randn(30, 3), torch.randn(20, 3), backend='triton')\n"
        "except RuntimeError as e:\n"
        "    print(e)\n"
    )
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=300,
    )
    lines = out.stdout.strip().splitlines()
    assert lines[0] == "True"
    assert "domainadapt[cuda]" in lines[-1], out.stdout


# ----------------------------------------------------------------------------- options
def test_backend_option_is_checked():
    X, Y = torch.randn(10, 3), torch.randn(12, 3)
    with pytest.raises(ValueError, match="backend must be one of"):
        mmd(X, Y, backend="cuda")
    with pytest.raises(ValueError, match="Gaussian kernel"):
        mmd(X, Y, kernel="laplacian", backend="triton")
    with pytest.raises(ValueError, match="one layer"):
        joint_mmd([X, X], [Y, Y], backend="triton")


def test_backend_triton_without_triton_says_why(monkeypatch):
    monkeypatch.setattr(_fused, "triton_unavailable_reason", lambda dev, dt: "no triton here")
    with pytest.raises(RuntimeError, match="no triton here"):
        mmd(torch.randn(10, 3), torch.randn(12, 3), backend="triton")


def test_auto_never_picks_fused_on_cpu(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("fused kernel chosen on CPU")

    monkeypatch.setattr(MMD_MODULE, "_fused_apply", boom)
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    X, Y = torch.randn(400, 3), torch.randn(300, 3)
    assert torch.isfinite(mmd(X, Y, multipliers=DAN))


@pytest.mark.cuda
@needs_triton
def test_auto_picks_fused_on_cuda(monkeypatch):
    calls = []
    real = MMD_MODULE._fused_apply
    monkeypatch.setattr(MMD_MODULE, "_fused_apply", lambda *a: calls.append(1) or real(*a))
    X, Y = torch.randn(400, 8, device="cuda"), torch.randn(300, 8, device="cuda")
    a = mmd(X, Y, multipliers=DAN)
    b = mmd(X, Y, multipliers=DAN, backend="torch")
    assert calls and float(a) == pytest.approx(float(b), rel=1e-4)


@pytest.mark.parametrize(
    ("mults", "k"),
    [
        ((0.25, 0.5, 1.0, 2.0, 4.0), 2),
        ((4.0, 1.0, 0.5), 0),
        ((1.0, 2**0.5, 2.0), 1),
        ((1.0, 4.0, 16.0), 4),
        ((0.5, 1.0, 3.0), 0),
        ((1.0,), 0),
        ((1.0, 2.0, 8.0), 0),
    ],
)
def test_chain_squarings(mults, k):
    """Squaring replaces exp only when every sorted ratio is the same power 2^(k/2)."""
    assert _fused.chain_squarings(mults) == k
