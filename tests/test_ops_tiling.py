"""The default tile edge: chosen from the device and the problem; ``block_size=`` wins."""

from __future__ import annotations

import sys

import pytest
import torch

from domainadapt.ops import _tiling, mmd
from domainadapt.ops._tiling import auto_block_size, tile_buffers

MMD_MODULE = sys.modules["domainadapt.ops.mmd"]


@pytest.mark.parametrize(
    ("N", "expected"), [(1, 1), (100, 100), (256, 128), (257, 256), (10**6, 256)]
)
def test_cpu_rule(N, expected):
    assert auto_block_size("cpu", N, 64, n_bandwidths=5) == expected


@pytest.mark.parametrize("free_gib", [0.05, 0.25, 1.0, 4.0, 16.0, 140.0])
@pytest.mark.parametrize(
    ("layers", "chain", "itemsize"), [(1, True, 4), (2, False, 4), (1, True, 8)]
)
def test_cuda_rule_fits_the_memory_budget(free_gib, layers, chain, itemsize):
    free = int(free_gib * 2**30)
    b = auto_block_size(
        "cuda",
        10**6,
        64,
        n_bandwidths=5,
        n_layers=layers,
        chain=chain,
        itemsize=itemsize,
        free_bytes=free,
    )
    assert _tiling.CUDA_MIN_BLOCK <= b <= _tiling.CUDA_MAX_BLOCK
    assert b % _tiling.CUDA_MIN_BLOCK == 0
    working_set = b * b * itemsize * tile_buffers(layers, 5, chain)
    budget = min(_tiling.CUDA_MEMORY_FRACTION * free, _tiling.CUDA_MEMORY_CAP)
    assert b == _tiling.CUDA_MIN_BLOCK or working_set <= budget
    # the largest such edge: one step more would not fit (or is past the cap)
    nxt = b + _tiling.CUDA_MIN_BLOCK
    assert (
        b == _tiling.CUDA_MAX_BLOCK
        or nxt * nxt * itemsize * tile_buffers(layers, 5, chain) > budget
    )


def test_cuda_rule_is_monotone_and_capped_by_the_problem():
    edges = [
        auto_block_size("cuda", 10**6, free_bytes=f << 20) for f in (64, 256, 1024, 4096, 65536)
    ]
    assert edges == sorted(edges) and edges[-1] == _tiling.CUDA_MAX_BLOCK
    assert auto_block_size("cuda", 3000, free_bytes=64 << 30) == 3000
    assert auto_block_size("mps", 10**6) == _tiling.OTHER_BLOCK


def test_mmd_uses_the_rule_unless_block_size_is_given(monkeypatch):
    calls = []
    real = MMD_MODULE.auto_block_size

    def spy(*args, **kwargs):
        calls.append((args, kwargs))
        return real(*args, **kwargs)

    monkeypatch.setattr(MMD_MODULE, "auto_block_size", spy)
    X, Y = torch.randn(300, 7), torch.randn(200, 7)
    a = mmd(X, Y, multipliers=(0.5, 1.0, 3.0))
    assert len(calls) == 1
    args, kwargs = calls[0]
    assert args[0] == X.device and args[1] == 500 and args[2] == 7
    assert kwargs["n_bandwidths"] == 3 and kwargs["chain"] is False and kwargs["itemsize"] == 4
    b = mmd(X, Y, multipliers=(0.5, 1.0, 3.0), block_size=64)
    assert len(calls) == 1
    assert float(a) == pytest.approx(float(b), rel=1e-5)


@pytest.mark.parametrize("N", [100, 200, 600])
def test_default_tile_matches_the_float64_direct_value_and_gradient(N):
    g = torch.Generator().manual_seed(N)
    X = torch.randn(N // 2, 6, generator=g, dtype=torch.float64, requires_grad=True)
    Y = (torch.randn(N - N // 2, 6, generator=g, dtype=torch.float64) + 0.4).requires_grad_()
    ref = mmd(X, Y, multipliers=(0.5, 1, 2), estimator="unbiased", block_size=10**6)
    gref = torch.autograd.grad(ref, (X, Y))
    out = mmd(X, Y, multipliers=(0.5, 1, 2), estimator="unbiased")
    gout = torch.autograd.grad(out, (X, Y))
    assert float(out.detach()) == pytest.approx(float(ref.detach()), rel=1e-10)
    for a, b in zip(gout, gref):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)
