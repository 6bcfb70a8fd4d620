"""Benchmark of ``domainadapt.ops.mmd`` (tiled) against a direct full-matrix MMD.

Multi-kernel Gaussian MMD² (5 bandwidths, multipliers 2^-2..2^2, biased estimator,
fixed base bandwidth from the median heuristic), forward + backward w.r.t. X and Y,
float32, n = m.

Every measurement runs in a fresh subprocess, so the peak memory of one case is not
polluted by another: on CPU the peak extra memory is ``ru_maxrss`` (peak resident set
of the process) minus the resident set measured after the inputs were created; on
CUDA it is ``torch.cuda.max_memory_allocated`` minus the allocation before the run.

The achieved GFLOP/s counts the matmul FLOPs the tiled algorithm executes,
``3 N^2 (d + 1)`` with ``N = n + m`` (Gram tiles on and above the diagonal
``N^2 (d + 2)``, gradient products ``2 N^2 (d + 1)``), over the median time; the
roofline ratio divides it by the GFLOP/s of ``torch.mm`` on the Gram shape
``(N', d) @ (d, N')`` with ``N' = min(N, 8192)`` measured on the same machine.

Usage::

    python benchmarks/ops_mmd.py                      # n in {1024, 4096, 16384, 65536}, d in {64, 512}
    python benchmarks/ops_mmd.py --quick              # n in {1024, 4096}, d = 64, 1 repeat
    python benchmarks/ops_mmd.py --sizes 1024 4096 --dims 64 --device cpu --repeats 3
    python benchmarks/ops_mmd.py --device cuda --backend torch   # the torch tiled path on a GPU
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from _common import command_line, machine_info, provenance, table_header, write_report

MULTIPLIERS = (0.25, 0.5, 1.0, 2.0, 4.0)
RESULTS = Path(__file__).resolve().parent / "results" / "ops_mmd.md"


# ----------------------------------------------------------------------------- one case
def _rss_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def _direct_mmd(X, Y, sigma, multipliers):
    """Plain full-matrix MMD² (what a careful direct implementation does, autograd backward)."""
    import torch

    Z = torch.cat([X, Y])
    n, m = X.shape[0], Y.shape[0]
    sq = (Z * Z).sum(1)
    D = (sq[:, None] + sq[None, :] - 2.0 * (Z @ Z.T)).clamp_min(0.0)
    K = sum(torch.exp(-D / (2.0 * (sigma * mu) ** 2)) for mu in multipliers) / len(multipliers)
    c = torch.cat(
        [torch.full((n,), 1.0 / n, dtype=Z.dtype), torch.full((m,), -1.0 / m, dtype=Z.dtype)]
    ).to(Z.device)
    return c @ (K @ c)


def chosen_tile(n: int, d: int, device: str, block: int | None, backend: str) -> str:
    """What ``mmd`` runs for this case: ``"fused"``, ``"direct"`` or the tile edge."""
    import torch

    N = 2 * n
    try:
        from domainadapt.ops import _fused, _tiling
        from domainadapt.ops.mmd import DIRECT_MAX
    except ImportError:  # a version before the automatic tile: 512, direct up to 256
        b = block or 512
        return "direct" if N <= min(256, b) else str(b)
    if backend == "triton" or (
        backend == "auto"
        and device == "cuda"
        and N > min(DIRECT_MAX, block or N)
        and _fused.triton_unavailable_reason(torch.device(device), torch.float32) is None
    ):
        return "fused"
    b = block or _tiling.auto_block_size(device, N, d, n_bandwidths=len(MULTIPLIERS))
    return "direct" if N <= min(DIRECT_MAX, b) else str(b)


def run_case(
    kind: str,
    n: int,
    d: int,
    device: str,
    repeats: int,
    block: int | None,
    warmup: bool = True,
    backend: str = "auto",
) -> dict:
    import torch

    from domainadapt.ops import bandwidth_heuristic, mmd

    torch.manual_seed(0)
    dev = torch.device(device)
    cuda = dev.type == "cuda"
    X = torch.randn(n, d, device=dev)
    Y = torch.randn(n, d, device=dev) + 0.1
    sigma = bandwidth_heuristic(X, Y)
    N = 2 * n

    def sync():
        if cuda:
            torch.cuda.synchronize()

    if kind == "mm":
        Np = min(N, 8192)
        A = torch.randn(Np, d, device=dev)
        torch.mm(A, A.T)
        ts = []
        for _ in range(max(repeats, 5)):
            sync()
            t0 = time.perf_counter()
            torch.mm(A, A.T)
            sync()
            ts.append(time.perf_counter() - t0)
        t = sorted(ts)[len(ts) // 2]
        return {"time": t, "gflops": 2.0 * Np * Np * d / t / 1e9, "shape": f"({Np}x{d})@({d}x{Np})"}

    Xr, Yr = X.clone().requires_grad_(), Y.clone().requires_grad_()
    tile = None
    if kind == "ours":
        tile = chosen_tile(n, d, device, block, backend)
        opts = {} if backend == "auto" else {"backend": backend}

        def f():
            return mmd(Xr, Yr, bandwidth=sigma, multipliers=MULTIPLIERS, block_size=block, **opts)
    else:

        def f():
            return _direct_mmd(Xr, Yr, sigma, MULTIPLIERS)

    sync()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        base = _rss_bytes()
    if warmup:  # untimed; the same computation, so it does not raise the peak
        f().backward()
    ts = []
    value = None
    for _ in range(repeats):
        Xr.grad = Yr.grad = None
        sync()
        t0 = time.perf_counter()
        v = f()
        v.backward()
        sync()
        ts.append(time.perf_counter() - t0)
        value = float(v)
    if cuda:
        peak = torch.cuda.max_memory_allocated() - base
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base
    return {
        "time": sorted(ts)[len(ts) // 2],
        "times": ts,
        "peak": max(peak, 0),
        "value": value,
        "tile": tile,
    }


# ----------------------------------------------------------------------------- driver
def _meminfo_available() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 8 << 30


def _spawn(kind, n, d, device, repeats, block, timeout, backend="auto") -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--_case",
        kind,
        str(n),
        str(d),
        device,
        str(repeats),
        str(block or 0),
        backend,
    ]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {timeout} s"}
    if out.returncode != 0:
        tail = (out.stderr or out.stdout).strip().splitlines()[-1:] or ["?"]
        return {"error": f"exit {out.returncode}: {tail[0][:120]}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--sizes", type=int, nargs="+", default=[1024, 4096, 16384, 65536], help="n = m values"
    )
    ap.add_argument("--dims", type=int, nargs="+", default=[64, 512], help="feature dimensions d")
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per case (median reported)")
    ap.add_argument("--quick", action="store_true", help="n in {1024, 4096}, d = 64, 1 repeat")
    ap.add_argument(
        "--block-size", type=int, default=None, help="tile edge of ours (default: library default)"
    )
    ap.add_argument(
        "--direct-max-n", type=int, default=4096, help="largest n for the direct implementation"
    )
    ap.add_argument("--big-repeats", type=int, default=1, help="repeats for n >= 16384")
    ap.add_argument("--timeout", type=int, default=1200, help="seconds per case")
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads in each case")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument(
        "--backend",
        choices=["auto", "torch", "triton"],
        default="auto",
        help="engine of ours (auto: fused Triton kernel on CUDA when triton imports)",
    )
    ap.add_argument("--_case", nargs=7, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.threads:
        os.environ["OMP_NUM_THREADS"] = str(a.threads)  # inherited by the case subprocesses
    if a._case:
        kind, n, d, device, repeats, block, backend = a._case
        big = int(n) >= 16384 and device == "cpu"  # no warm-up for the long CPU cases
        print(
            json.dumps(
                run_case(
                    kind,
                    int(n),
                    int(d),
                    device,
                    int(repeats),
                    int(block) or None,
                    warmup=not big,
                    backend=backend,
                )
            )
        )
        return 0
    if a.quick:
        a.sizes, a.dims, a.repeats = [1024, 4096], [64], 1
    load0 = os.getloadavg()
    started = time.time()
    rows = []
    header = table_header(
        ["n = m", "d", "ours tile", "ours median (s)", "ours peak extra (MiB)", "direct median (s)",
         "direct peak extra (MiB)", "speedup", "ours GFLOP/s", "torch.mm GFLOP/s",
         "roofline ratio"]
    )
    print(*header, sep="\n")
    for d in a.dims:
        mm = _spawn("mm", max(a.sizes), d, a.device, a.repeats, None, a.timeout)
        mm_small = {}
        for n in a.sizes:
            N = 2 * n
            reps = a.big_repeats if n >= 16384 else a.repeats
            if N < 8192:
                mm_small[n] = _spawn("mm", n, d, a.device, a.repeats, None, a.timeout)
            mmr = mm_small.get(n, mm)
            ours = _spawn("ours", n, d, a.device, reps, a.block_size, a.timeout, a.backend)
            est_bytes = 8 * N * N * 4  # D, 5 exp results, K and their autograd buffers
            if n > a.direct_max_n or est_bytes > 0.6 * _meminfo_available():
                direct = {"skip": f"skipped (needs ~{est_bytes / 2**30:.0f} GiB / too slow)"}
            else:
                direct = _spawn("direct", n, d, a.device, reps, None, a.timeout)
            cells = [str(n), str(d), str(ours.get("tile", "-"))]
            if "error" in ours:
                cells += [ours["error"], "-"]
            else:
                cells += [f"{ours['time']:.4g}", f"{ours['peak'] / 2**20:.0f}"]
            if "time" in direct:
                cells += [f"{direct['time']:.4g}", f"{direct['peak'] / 2**20:.0f}"]
                sp = direct["time"] / ours["time"] if "time" in ours else float("nan")
                cells.append(f"{sp:.2f}x")
            else:
                cells += [direct.get("skip", direct.get("error", "?")), "-", "-"]
            if "time" in ours and "gflops" in mmr:
                flops = 3.0 * N * N * (d + 1)
                g = flops / ours["time"] / 1e9
                cells += [f"{g:.1f}", f"{mmr['gflops']:.1f}", f"{g / mmr['gflops']:.2f}"]
            else:
                cells += ["-", "-", "-"]
            row = "| " + " | ".join(cells) + " |"
            rows.append(row)
            print(row, flush=True)
    load1 = os.getloadavg()
    elapsed = time.time() - started
    write_report(
        a.out,
        "`domainadapt.ops.mmd` benchmark",
        [
            provenance(command_line(__file__, argv), seconds=elapsed),
            "",
            f"- Machine: {machine_info(a.device)}; device `{a.device}`.",
            f"- Load average at start / end: {load0[0]:.1f} / {load1[0]:.1f} (the machine is shared; "
            "timings under load are noisy).",
            "- Workload: MMD² with a multi-kernel Gaussian (5 bandwidths, multipliers 2^-2..2^2, fixed base "
            "bandwidth), biased estimator, float32, n = m, forward + backward (gradients w.r.t. X and Y). "
            f"Median of {a.repeats} runs after one untimed warm-up run ({a.big_repeats} run(s), no warm-up, for n >= 16384).",
            "- *ours*: `domainadapt.ops.mmd` (backend "
            f"`{a.backend}`, block {a.block_size or 'default: chosen per device and size'}); the *ours tile* "
            "column says what ran: the tile edge, `direct` (full matrix, n + m at most the direct size) or "
            "`fused` (the Triton kernel); *direct*: full (N x N) matrix, matmul distances, autograd "
            "backward (a careful direct implementation, N = n + m).",
            "- Peak extra memory: each case runs in a fresh subprocess; CPU: `ru_maxrss` (peak RSS) minus the RSS "
            "after the inputs were created; CUDA: `torch.cuda.max_memory_allocated` minus the allocation before.",
            "- GFLOP/s: executed matmul FLOPs of the tiled algorithm, 3 N² (d + 1), over the median time; "
            "torch.mm GFLOP/s on (N' x d) @ (d x N'), N' = min(N, 8192), same machine; roofline ratio = ours / mm.",
            "",
            *header,
            *rows,
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
