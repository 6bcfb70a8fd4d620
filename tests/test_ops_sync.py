"""The MMD losses never make the host wait for the device (issue #11).

A host synchronisation inside a training loss (``.item()``, ``float(t)``, a Python
``if`` on a tensor, a blocking host-to-device copy) stalls every step on a GPU. On
CUDA, :func:`torch.cuda.set_sync_debug_mode` turns each one into an error. On CPU the
same Python-level mistakes are caught by making the tensor-to-Python conversions
raise while the losses run forward and backward (with the value checks that are on
by default on CPU switched off, as they are by default on accelerators).
"""

from __future__ import annotations

import contextlib
import importlib.util

import pytest
import torch

from domainadapt.ops import (
    DAN_MULTIPLIERS,
    JointMMDLoss,
    MMDLoss,
    bandwidth_heuristic,
    class_discrepancy_matrix,
    contrastive_domain_discrepancy,
    mmd,
)
from domainadapt.ops import _validation as validation_module
from domainadapt.ops import kernels as kernels_module
from domainadapt.ops import relation_losses as relation_module
from domainadapt.ops.kernels import make_kernel

_CONVERSIONS = ("__bool__", "__float__", "__int__", "__index__", "item", "tolist", "numpy", "cpu")


@contextlib.contextmanager
def no_tensor_to_python(monkeypatch):
    """Every tensor -> Python conversion raises inside the block."""
    with monkeypatch.context() as mp:
        for name in _CONVERSIONS:

            def boom(self, *args, _name=name, **kwargs):
                raise AssertionError(f"host sync: Tensor.{_name} called inside the loss")

            mp.setattr(torch.Tensor, name, boom)
        yield


def _cases(device: str, backends: tuple[str, ...] = ("auto", "torch")):
    """(name, loss callable) pairs covering the ops-level MMD losses' code paths."""
    g = torch.Generator().manual_seed(0)

    def data(n, m, d):
        X = torch.randn(n, d, generator=g).to(device).requires_grad_()
        Y = (torch.randn(m, d, generator=g) + 0.3).to(device).requires_grad_()
        return X, Y

    w = (torch.rand(256, generator=g) + 0.5).to(device)
    cases = []
    for backend in backends:
        kw = {"check_finite": False, "backend": backend}
        cases += [
            (
                f"{backend}: DAN's loss, 256 + 256 rows, median heuristic",
                data(256, 256, 32),
                lambda X, Y, kw=kw: MMDLoss(multipliers=DAN_MULTIPLIERS, **kw)(
                    [X, X[:, :5]], [Y, Y[:, :5]]
                ),
            ),
            (
                f"{backend}: unbiased, weighted, float bandwidth",
                data(256, 200, 16),
                lambda X, Y, kw=kw: mmd(
                    X,
                    Y,
                    bandwidth=2.0,
                    estimator="unbiased",
                    multipliers=(0.5, 1.0, 3.0),
                    x_weights=w,
                    **kw,
                ),
            ),
            (
                f"{backend}: median heuristic on a subsample (n + m > 1024)",
                data(700, 600, 8),
                lambda X, Y, kw=kw: mmd(X, Y, multipliers=(0.5, 1, 2), **kw),
            ),
            (
                f"{backend}: direct path (n + m <= 128)",
                data(40, 30, 8),
                lambda X, Y, kw=kw: mmd(X, Y, bandwidth="mean", **kw),
            ),
        ]
    cases += [
        (
            "JAN's loss",
            data(128, 128, 16),
            lambda X, Y: JointMMDLoss(multipliers=[(0.5, 1.0, 2.0), (1.0,)], check_finite=False)(
                [X, X[:, :4].softmax(1)], [Y, Y[:, :4].softmax(1)]
            ),
        ),
        (
            "linear-time estimator",
            data(256, 256, 16),
            lambda X, Y: mmd(X, Y, estimator="linear", check_finite=False),
        ),
        (
            "CAN's contrastive domain discrepancy",
            data(120, 100, 8),
            lambda X, Y: contrastive_domain_discrepancy(
                X, Y, torch.arange(120, device=X.device) % 3, (Y[:, :3] * 4).softmax(1), 3
            ),
        ),
    ]
    return cases


@pytest.mark.parametrize("case", range(len(_cases("cpu"))))
def test_losses_make_no_tensor_to_python_conversion(monkeypatch, case):
    name, (X, Y), loss = _cases("cpu")[case]
    # the value checks run by default on CPU only: off here, as on accelerators
    for module in (validation_module, kernels_module, relation_module):
        monkeypatch.setattr(module, "want_value_checks", lambda t, check: bool(check))
    with no_tensor_to_python(monkeypatch):
        value = loss(X, Y)
        value.backward()
    assert torch.isfinite(value.detach()).all(), name
    assert X.grad is not None and torch.isfinite(X.grad).all(), name


def test_heuristic_and_float_bandwidth_stay_on_device_tensors(monkeypatch):
    X = torch.randn(1500, 4)
    with no_tensor_to_python(monkeypatch):
        sigma = bandwidth_heuristic(X)
        spec = make_kernel("gaussian", 1.5, data=[X.half()])
    assert isinstance(sigma, torch.Tensor) and sigma.dim() == 0
    # a float bandwidth is made in the data's compute dtype, on its device
    assert spec.sigma.dtype == torch.float32 and float(spec.sigma) == 1.5


def test_conversion_guard_catches_a_sync(monkeypatch):
    """The guard itself works: a loss that calls ``.item()`` is caught."""
    X = torch.randn(10, 3)
    with no_tensor_to_python(monkeypatch), pytest.raises(AssertionError, match="host sync"):
        X.sum().item()
    with no_tensor_to_python(monkeypatch), pytest.raises(AssertionError, match="host sync"):
        if X.sum() > 0:
            pass


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("triton", [False, True])
def test_cuda_losses_never_synchronise(triton):
    """Forward and backward of every case under ``set_sync_debug_mode("error")``."""
    if triton and importlib.util.find_spec("triton") is None:
        pytest.skip("triton is not installed")
    # "auto" is what DAN trains with: the fused kernel when triton imports, else torch
    backends = ("auto", "triton", "torch") if triton else ("auto", "torch")
    cases = _cases("cuda", backends)
    for _, (X, Y), loss in cases:  # warm-up: compile kernels, fill the caching allocators
        loss(X, Y).backward()
    torch.cuda.synchronize()
    previous = torch.cuda.get_sync_debug_mode()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for name, (X, Y), loss in cases:
            X.grad = Y.grad = None
            try:
                loss(X, Y).backward()
            except RuntimeError as exc:
                raise AssertionError(f"{name}: {exc}") from exc
    finally:
        torch.cuda.set_sync_debug_mode(previous)
    torch.cuda.synchronize()


@pytest.mark.parametrize("present", [(0, 1, 2), (1, 2), (2,), ()])
@pytest.mark.parametrize("contrastive", [True, False])
def test_cdd_without_host_counts_matches_a_loop_over_shared_classes(present, contrastive):
    """CDD written with weights (no class count read back) equals its definition."""
    g = torch.Generator().manual_seed(len(present))
    S = torch.randn(40, 5, generator=g, dtype=torch.float64, requires_grad=True)
    T = torch.randn(30, 5, generator=g, dtype=torch.float64) + 0.3
    ys = torch.arange(40) % 3
    yt = torch.tensor([present[i % len(present)] if present else 0 for i in range(30)])
    if not present:  # no class in both domains
        ys = torch.zeros(40, dtype=torch.long)
        yt = torch.ones(30, dtype=torch.long)
    out = contrastive_domain_discrepancy(S, T, ys, yt, 3, contrastive=contrastive, bandwidth=1.5)
    D, both = class_discrepancy_matrix(S, T, ys, yt, 3, bandwidth=1.5)
    shared = [c for c in range(3) if both[c, c]]
    M = len(shared)
    ref = sum(D[c, c] for c in shared) / M if M else S.sum() * 0.0
    if contrastive and M >= 2:
        ref = ref - sum(D[c, k] for c in shared for k in shared if c != k) / (M * (M - 1))
    assert float(out.detach()) == pytest.approx(float(ref.detach()), rel=1e-12, abs=1e-15)
    (g_out,) = torch.autograd.grad(out, S)
    (g_ref,) = torch.autograd.grad(ref, S)
    torch.testing.assert_close(g_out, g_ref, rtol=1e-10, atol=1e-14)
