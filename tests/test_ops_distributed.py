"""MMD over a torch.distributed group: 2 CPU processes on gloo."""

from __future__ import annotations

import os
import socket
import sys

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from domainadapt.ops import mmd

pytestmark = pytest.mark.skipif(
    not dist.is_available() or sys.platform == "win32", reason="needs torch.distributed with gloo"
)

WORLD = 2


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _full_data():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(23, 4, generator=g, dtype=torch.float64)  # uneven split: 12 + 11
    Y = torch.randn(18, 4, generator=g, dtype=torch.float64) + 0.5
    wx = torch.rand(23, generator=g, dtype=torch.float64) + 0.5
    return X, Y, wx


def _splits(n: int) -> list[slice]:
    h = (n + 1) // 2
    return [slice(0, h), slice(h, n)]


def _worker(rank: int, port: int, out_dir: str) -> None:
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    try:
        X, Y, wx = _full_data()
        sx, sy = _splits(len(X))[rank], _splits(len(Y))[rank]
        results = {}
        for block in (None, 8):
            for est in ("biased", "unbiased"):
                Xl = X[sx].clone().requires_grad_()
                Yl = Y[sy].clone().requires_grad_()
                v = mmd(
                    Xl,
                    Yl,
                    bandwidth=1.2,
                    multipliers=(0.5, 1.0, 2.0),
                    estimator=est,
                    x_weights=wx[sx],
                    block_size=block,
                    group=dist.group.WORLD,
                )
                v.backward()
                results[(block, est)] = (v.detach(), Xl.grad, Yl.grad)
        torch.save(results, os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def test_mmd_over_gloo_group(tmp_path):
    port = _free_port()
    mp.start_processes(
        _worker, args=(port, str(tmp_path)), nprocs=WORLD, join=True, start_method="spawn"
    )
    X, Y, wx = _full_data()
    res = [torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD)]
    for block in (None, 8):
        for est in ("biased", "unbiased"):
            Xf, Yf = X.clone().requires_grad_(), Y.clone().requires_grad_()
            v = mmd(Xf, Yf, bandwidth=1.2, multipliers=(0.5, 1.0, 2.0), estimator=est, x_weights=wx)
            v.backward()
            for r in range(WORLD):
                vr, gx, gy = res[r][(block, est)]
                assert float(vr) == pytest.approx(v.item(), rel=1e-10)
                # every rank computes the global loss; the all-gather backward sums the
                # ranks' gradients, i.e. WORLD x the global gradient (DDP then averages)
                sx, sy = _splits(len(X))[r], _splits(len(Y))[r]
                assert torch.allclose(gx, WORLD * Xf.grad[sx], rtol=1e-8, atol=1e-12)
                assert torch.allclose(gy, WORLD * Yf.grad[sy], rtol=1e-8, atol=1e-12)
