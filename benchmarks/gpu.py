"""GPU checks of issue #11 in one command: MMD speed / memory, deep training-step times,
and the fit times of the shallow strategies that take ``device=``.

Writes ``benchmarks/results/gpu.md`` with three tables:

1. **MMD** -- multi-kernel Gaussian MMD² (5 bandwidths, multipliers 2^-2..2^2, fixed
   base bandwidth, biased estimator, float32, n = m), forward + backward w.r.t. X and
   Y, for three engines: *tiled* (``backend="torch"``, the automatic tile edge, printed),
   *fused* (``backend="triton"``, the Triton kernel; needs triton) and *direct* (the full
   N x N matrix with autograd, N = n + m; skipped where it would not fit). Median time,
   peak extra memory (``torch.cuda.max_memory_allocated`` minus the allocation before),
   and at d = 512 the roofline ratio: ``3 N² (d + 1)`` matmul FLOPs (those of the tiled
   algorithm, as in ``benchmarks/ops_mmd.py``) over the time, divided by the FLOP/s of
   ``torch.mm`` on ``(8192 x d) @ (d x 8192)`` in float32 measured in the same run.
2. **Deep methods** -- the training-step time of every deep strategy of
   :mod:`domainadapt.model`, called through its public API (``fit`` on generated data,
   batch 256 + 256, MLP 256-256), relative to DANN: the median over epochs (the first
   dropped) of ``history_[k]["time"]`` divided by the epoch's steps.
3. **Shallow strategies** -- the ``fit`` time of each strategy whose solver runs in torch
   on ``device=`` (``KMM``: FISTA at these sizes; ``TCA(kernel="rbf",
   n_landmarks=500)``: the Nyström path; ``OTMapping``: Sinkhorn), default settings
   otherwise, on ``n`` source and ``n`` target rows (4 Gaussian classes, d = 64,
   float64 input) at n = 10 000 and 100 000, with ``device="cpu"`` (all the CPU's
   cores) and ``device="cuda"``, and the speed-up. One timed fit per cell after a small
   warm-up fit; cells that would not fit in memory are skipped with the size they
   need, and ``--quick`` skips the CPU fits expected to take minutes (KMM at
   n = 100 000). Without CUDA the GPU columns say so. ``--skip-shallow`` leaves it out.
Without CUDA it says so and exits with status 2, unless ``--allow-cpu`` (tiny sizes on
the CPU, to test the script itself; the report then goes to ``--out`` or a temporary
file, never over ``benchmarks/results/gpu.md``).

Usage::

    python benchmarks/gpu.py --quick        # < 5 min on an H200
    python benchmarks/gpu.py                # more sizes, 3 repeats
    python benchmarks/gpu.py --quick --tune-fused --skip-deep   # fused launch configs
    python benchmarks/gpu.py --quick --skip-deep --skip-shallow  # the MMD table only
    python benchmarks/gpu.py --allow-cpu --quick --out /tmp/gpu.md
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from _common import command_line, machine_info, provenance, table_header, write_report

RESULTS = Path(__file__).resolve().parent / "results" / "gpu.md"
MULTIPLIERS = (0.25, 0.5, 1.0, 2.0, 4.0)
#: (n = m, d) of the MMD table.
SIZES_QUICK = [(4096, 64), (16384, 64), (262144, 64), (4096, 512), (16384, 512)]
SIZES_FULL = [
    (1024, 64),
    (4096, 64),
    (16384, 64),
    (65536, 64),
    (262144, 64),
    (4096, 512),
    (16384, 512),
    (65536, 512),
]
SIZES_CPU = [(128, 16), (512, 16), (512, 512)]
DEEP_METHODS = [
    "SourceOnly",
    "DANN",
    "CDAN",
    "DAN",
    "JAN",
    "DCORAL",
    "MCD",
    "MCC",
    "BNM",
    "MME",
    "SHOT",
    "TENT",
    "FineTuning",
    "ClassRelationAlignment",
    "RelationalDistillation",
]
DEEP_METHODS_CPU = ["DANN", "DAN", "JAN"]
#: What a row's fit adds to the defaults, written in the row.
DEEP_ROW_SETTINGS = {"FineTuning": "every 4th target row labelled (it trains on those)"}
#: Rows per domain (n source + n target) of the shallow fit-time table, and the features.
SHALLOW_SIZES = [10_000, 100_000]
SHALLOW_SIZES_CPU = [200, 500]
SHALLOW_D = 64
#: Strategies of the shallow table (all take ``device=``; default settings otherwise).
SHALLOW_STRATEGIES = ["KMM", "TCA (Nyström)", "OTMapping"]


# ----------------------------------------------------------------------------- timing
def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def timed(fn: Callable[[], object], dev: torch.device, repeats: int, warmup: bool = True) -> dict:
    """Median wall time of ``fn()`` and the peak extra device memory of the runs."""
    cuda = dev.type == "cuda"
    _sync(dev)
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(dev)
        base = torch.cuda.memory_allocated(dev)
    if warmup:
        fn()
    ts = []
    for _ in range(repeats):
        _sync(dev)
        t0 = time.perf_counter()
        fn()
        _sync(dev)
        ts.append(time.perf_counter() - t0)
    peak = torch.cuda.max_memory_allocated(dev) - base if cuda else float("nan")
    return {"time": sorted(ts)[len(ts) // 2], "peak": peak}


def direct_mmd(X: torch.Tensor, Y: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Full-matrix MMD² with autograd (the reference a careful direct implementation is)."""
    Z = torch.cat([X, Y])
    n, m = X.shape[0], Y.shape[0]
    sq = (Z * Z).sum(1)
    D = (sq[:, None] + sq[None, :] - 2.0 * (Z @ Z.T)).clamp_min(0.0)
    K = sum(torch.exp(-D / (2.0 * (sigma * mu) ** 2)) for mu in MULTIPLIERS) / len(MULTIPLIERS)
    c = torch.cat([Z.new_full((n,), 1.0 / n), Z.new_full((m,), -1.0 / m)])
    return c @ (K @ c)


def mm_gflops(d: int, dev: torch.device, repeats: int) -> float:
    N = 8192 if dev.type == "cuda" else 1024
    A = torch.randn(N, d, device=dev)
    r = timed(lambda: torch.mm(A, A.T), dev, max(repeats, 5))
    return 2.0 * N * N * d / r["time"] / 1e9


def _free_bytes(dev: torch.device) -> int:
    if dev.type == "cuda":
        return int(torch.cuda.mem_get_info(dev)[0])
    return 8 << 30


def mmd_row(n: int, d: int, dev: torch.device, repeats: int, mm: dict[int, float]) -> list[str]:
    """One row of the MMD table (errors and skips written in the cells)."""
    from domainadapt.ops import _fused, _tiling, bandwidth_heuristic, mmd

    g = torch.Generator().manual_seed(0)
    X = torch.randn(n, d, generator=g).to(dev).requires_grad_()
    Y = (torch.randn(n, d, generator=g) + 0.1).to(dev).requires_grad_()
    sigma = bandwidth_heuristic(X, Y)
    N = 2 * n
    reps = 1 if N > 100_000 else repeats
    tile = _tiling.auto_block_size(dev, N, d, n_bandwidths=len(MULTIPLIERS))
    flops = 3.0 * N * N * (d + 1)

    def run(f: Callable[[], torch.Tensor]) -> Callable[[], None]:
        def step() -> None:
            X.grad = Y.grad = None
            f().backward()

        return step

    engines: dict[str, Callable[[], None] | str] = {
        "tiled": run(lambda: mmd(X, Y, bandwidth=sigma, multipliers=MULTIPLIERS, backend="torch")),
    }
    reason = _fused.triton_unavailable_reason(dev, torch.float32)
    engines["fused"] = reason or run(
        lambda: mmd(X, Y, bandwidth=sigma, multipliers=MULTIPLIERS, backend="triton")
    )
    need = 10 * N * N * 4  # D, 5 exponentials, K and autograd buffers
    engines["direct"] = (
        f"skipped (needs ~{need / 2**30:.0f} GiB)"
        if need > 0.6 * _free_bytes(dev)
        else run(lambda: direct_mmd(X, Y, sigma))
    )
    cells = [str(n), str(d), str(tile)]
    times = {}
    for name, step in engines.items():
        if isinstance(step, str):
            cells += [step, "-"]
            continue
        try:
            r = timed(step, dev, reps, warmup=True)
        except torch.cuda.OutOfMemoryError:
            torch.cuda.empty_cache()
            cells += ["out of memory", "-"]
            continue
        except Exception as exc:  # a failure is reported in the table, not fatal
            cells += [f"error: {type(exc).__name__}: {str(exc)[:80]}", "-"]
            continue
        times[name] = r["time"]
        peak = "-" if math.isnan(r["peak"]) else f"{r['peak'] / 2**20:.0f}"
        cells += [f"{r['time']:.4f}", peak]
    for name in ("tiled", "fused"):
        ok = name in times and "direct" in times
        cells.append(f"{times[name] / times['direct']:.2f}" if ok else "-")
    for name in ("tiled", "fused"):
        ok = d == 512 and name in times and d in mm
        cells.append(f"{flops / times[name] / 1e9 / mm[d]:.2f}" if ok else "-")
    return cells


# ----------------------------------------------------------------------------- tuning
#: Launch parameters of the fused kernels tried by ``--tune-fused`` (``{}``: the defaults).
FUSED_CONFIGS = [
    {},
    {"BM": 128, "BN": 64},
    {"BM": 64, "BN": 128},
    {"BM": 32, "BN": 64},
    {"BM": 64, "BN": 64, "WARPS": 8, "FWD_WARPS": 8},
    {"BM": 128, "BN": 128, "WARPS": 8, "FWD_WARPS": 8},
    {"BD": 32},
    {"BDO": 128},
]


def tune_fused(dev: torch.device, repeats: int, sizes=((16384, 64), (16384, 512))) -> list[str]:
    """Rows ``| n | d | config | fwd+bwd (s) | vs default |`` for each fused launch config."""
    from domainadapt.ops import _fused, bandwidth_heuristic, mmd

    rows = []
    for n, d in sizes:
        g = torch.Generator().manual_seed(0)
        X = torch.randn(n, d, generator=g).to(dev).requires_grad_()
        Y = (torch.randn(n, d, generator=g) + 0.1).to(dev).requires_grad_()
        sigma = bandwidth_heuristic(X, Y)
        reason = _fused.triton_unavailable_reason(dev, torch.float32)
        if reason:
            rows.append(f"| {n} | {d} | - | {reason} | - |")
            continue

        def step(X=X, Y=Y, sigma=sigma) -> None:
            X.grad = Y.grad = None
            mmd(X, Y, bandwidth=sigma, multipliers=MULTIPLIERS, backend="triton").backward()

        base = None
        for cfg in FUSED_CONFIGS:
            _fused.BLOCK_OVERRIDES.clear()
            _fused.BLOCK_OVERRIDES.update(cfg)
            name = ", ".join(f"{k}={v}" for k, v in cfg.items()) or "default"
            try:
                t = timed(step, dev, repeats)["time"]
            except Exception as exc:  # e.g. out of shared memory: reported
                rows.append(
                    f"| {n} | {d} | {name} | error: {type(exc).__name__}: {str(exc)[:80]} | - |"
                )
                continue
            finally:
                _fused.BLOCK_OVERRIDES.clear()
            base = t if base is None and not cfg else base
            rel = f"{t / base:.2f}" if base else "-"
            rows.append(f"| {n} | {d} | {name} | {t:.4f} | {rel} |")
            print(rows[-1], flush=True)
    return rows


# ----------------------------------------------------------------------------- deep
def deep_data(n: int, d: int, seed: int = 0, with_target_labels: bool = False):
    """Two shifted Gaussian blobs per class, float32 (source labelled, target not;
    ``with_target_labels`` adds the target's labels as a fourth item)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(4, d)) * 2.0
    ys = rng.integers(0, 4, n)
    yt = rng.integers(0, 4, n)
    Xs = (centers[ys] + rng.normal(size=(n, d))).astype(np.float32)
    Xt = (centers[yt] + rng.normal(size=(n, d)) + 0.5).astype(np.float32)
    return (Xs, ys, Xt, yt) if with_target_labels else (Xs, ys, Xt)


def step_time(name: str, dev: torch.device, n: int, d: int, batch: int, epochs: int) -> float:
    """Median seconds per training step of ``domainadapt.model.<name>`` or
    ``domainadapt.relation.<name>`` (public API only). FineTuning, which trains on labelled
    target rows, gets every fourth target row's label (its steps are over those rows)."""
    import numpy as np

    import domainadapt.model as models
    import domainadapt.relation as relation

    Xs, ys, Xt, yt = deep_data(n, d, with_target_labels=True)
    target = Xt
    if name == "FineTuning":
        target = (Xt, np.where(np.arange(n) % 4 == 0, yt, -1))
    est = (getattr(models, name, None) or getattr(relation, name))(
        hidden_sizes=(256, 256),
        n_epochs=epochs,
        batch_size=batch,
        device=str(dev),
        progress=False,
        random_state=0,
    )
    est.fit((Xs, ys), target)
    per_step, prev = [], 0
    for rec in est.history_:
        steps = rec["step"] - prev
        prev = rec["step"]
        if steps > 0:
            per_step.append(rec["time"] / steps)
    per_step = per_step[1:] or per_step  # the first epoch is a warm-up
    return sorted(per_step)[len(per_step) // 2]


# ----------------------------------------------------------------------------- shallow
def shallow_estimator(name: str, device: str):
    """The strategy of the shallow table, its default settings, on ``device``."""
    from domainadapt.feature import TCA, OTMapping
    from domainadapt.feature.tca import AUTO_NYSTROEM_LANDMARKS
    from domainadapt.instance import KMM

    if name == "KMM":
        return KMM(device=device, random_state=0)
    if name == "TCA (Nyström)":  # the default kernel is linear (NumPy, no device)
        return TCA(kernel="rbf", n_landmarks=AUTO_NYSTROEM_LANDMARKS, device=device, random_state=0)
    if name == "OTMapping":
        return OTMapping(device=device)
    raise ValueError(f"unknown shallow strategy {name!r}")


def _host_free_bytes() -> int:
    try:
        import os

        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 8 << 30


def shallow_skip(name: str, n: int, dev: torch.device, quick: bool) -> str | None:
    """Why the cell ``(name, n, dev)`` is not run (``None``: run it)."""
    if name == "OTMapping":  # dense n x n cost and coupling, ~4 alive per iteration
        need = 4 * n * n * (8 if dev.type == "cpu" else 4)
        free = _free_bytes(dev) if dev.type == "cuda" else _host_free_bytes()
        if need > 0.6 * free:
            return f"skipped (needs ~{need / 2**30:.0f} GiB)"
    if name == "KMM" and dev.type == "cpu" and quick and n > 20_000:
        return "skipped (--quick: minutes on a CPU)"
    return None


def shallow_fit_time(name: str, n: int, dev: torch.device) -> tuple[float, str]:
    """Seconds of one ``fit`` on ``n`` + ``n`` rows, and what the fitted model reports."""
    import numpy as np

    Xs, ys, Xt = deep_data(n, SHALLOW_D)
    Xs, Xt = Xs.astype(np.float64), Xt.astype(np.float64)
    w_s, w_y, w_t = deep_data(200, SHALLOW_D, seed=1)  # warm-up: CUDA context, kernels
    shallow_estimator(name, str(dev)).fit((w_s.astype(np.float64), w_y), w_t.astype(np.float64))
    est = shallow_estimator(name, str(dev))
    _sync(dev)
    t0 = time.perf_counter()
    est.fit((Xs, ys), Xt)
    _sync(dev)
    seconds = time.perf_counter() - t0
    if name == "KMM":
        info = f"{est.solver_}, {est.n_iter_} it"
    elif name == "OTMapping":
        info = f"{est.method_}, {est.n_iter_} it"
    else:
        info = f"m = {est.n_landmarks_}"
    return seconds, info


def shallow_rows(sizes: list[int], cuda: bool, quick: bool) -> list[str]:
    """Rows ``| strategy | n | CPU (s) | GPU (s) | CPU / GPU | solver (CPU; GPU) |``."""
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if cuda else [])
    rows = []
    for name in SHALLOW_STRATEGIES:
        for n in sizes:
            cells, times, infos = [name, f"{n}"], {}, []
            for dev in devices:
                reason = shallow_skip(name, n, dev, quick)
                if reason is None:
                    try:
                        times[dev.type], info = shallow_fit_time(name, n, dev)
                        infos.append(info)
                        cells.append(f"{times[dev.type]:.2f}")
                        continue
                    except torch.cuda.OutOfMemoryError:
                        torch.cuda.empty_cache()
                        reason = "out of memory"
                    except Exception as exc:  # reported in the table, not fatal
                        reason = f"error: {type(exc).__name__}: {str(exc)[:80]}"
                cells.append(reason)
            if not cuda:
                cells.append("- (no CUDA)")
            ratio = times["cpu"] / times["cuda"] if len(times) == 2 else None
            cells.append("-" if ratio is None else f"{ratio:.1f}")
            cells.append("; ".join(infos) or "-")
            rows.append("| " + " | ".join(cells) + " |")
            print(rows[-1], flush=True)
    return rows


# ----------------------------------------------------------------------------- driver
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--quick", action="store_true", help="fewer sizes and epochs (< 5 min on an H200)"
    )
    ap.add_argument(
        "--allow-cpu", action="store_true", help="run tiny sizes on the CPU (tests the script)"
    )
    ap.add_argument("--repeats", type=int, default=None, help="timed runs per MMD case (median)")
    ap.add_argument("--out", type=Path, default=None, help=f"report path (default {RESULTS})")
    ap.add_argument("--skip-deep", action="store_true", help="leave out the deep-method table")
    ap.add_argument(
        "--skip-shallow",
        action="store_true",
        help="leave out the shallow strategies' fit times (CPU vs GPU)",
    )
    ap.add_argument(
        "--tune-fused",
        action="store_true",
        help="also time the fused kernels under several launch configs (~1-2 min more)",
    )
    a = ap.parse_args(argv)
    cuda = torch.cuda.is_available()
    if not cuda and not a.allow_cpu:
        print(
            "benchmarks/gpu.py: no CUDA device is available (torch.cuda.is_available() is False); "
            "these are GPU measurements: run it on a machine with a CUDA GPU, or pass --allow-cpu "
            "to test the script itself on tiny CPU sizes.",
            file=sys.stderr,
        )
        return 2
    dev = torch.device("cuda" if cuda else "cpu")
    out = a.out or (RESULTS if cuda else Path(tempfile.gettempdir()) / "domainadapt_gpu_cpu.md")
    repeats = a.repeats or (3 if cuda else 2)
    sizes = (SIZES_QUICK if a.quick else SIZES_FULL) if cuda else SIZES_CPU
    started = time.time()
    mm = {d: mm_gflops(d, dev, repeats) for d in sorted({d for _, d in sizes}) if d == 512}
    header = table_header(
        [
            "n = m",
            "d",
            "auto tile",
            "tiled (s)",
            "tiled peak (MiB)",
            "fused (s)",
            "fused peak (MiB)",
            "direct (s)",
            "direct peak (MiB)",
            "tiled / direct",
            "fused / direct",
            "tiled roofline",
            "fused roofline",
        ]
    )
    print(f"device: {machine_info(dev.type)}", flush=True)
    print(*header, sep="\n", flush=True)
    rows = []
    for n, d in sizes:
        row = "| " + " | ".join(mmd_row(n, d, dev, repeats, mm)) + " |"
        rows.append(row)
        print(row, flush=True)
    deep_rows: list[str] = []
    deep_header = table_header(["method", "step (ms)", "relative to DANN"])
    if not a.skip_deep:
        n_rows, d_in = (8192, 64) if cuda else (256, 8)
        batch, epochs = (256, 3 if a.quick else 5) if cuda else (64, 2)
        steps = {}
        for name in DEEP_METHODS if cuda else DEEP_METHODS_CPU:
            try:
                steps[name] = step_time(name, dev, n_rows, d_in, batch, epochs)
            except Exception as exc:  # reported, not fatal
                steps[name] = f"error: {type(exc).__name__}: {str(exc)[:80]}"
        ref = steps.get("DANN")
        print(*deep_header, sep="\n", flush=True)
        for name, t in steps.items():
            label = f"{name}, {DEEP_ROW_SETTINGS[name]}" if name in DEEP_ROW_SETTINGS else name
            if isinstance(t, str):
                row = f"| {label} | {t} | - |"
            else:
                rel = f"{t / ref:.2f}" if isinstance(ref, float) else "-"
                row = f"| {label} | {1e3 * t:.2f} | {rel} |"
            deep_rows.append(row)
            print(row, flush=True)
    shallow: list[str] = []
    shallow_header = table_header(
        ["strategy", "n (per domain)", "CPU fit (s)", "GPU fit (s)", "CPU / GPU", "solver"]
    )
    if not a.skip_shallow:
        print(*shallow_header, sep="\n", flush=True)
        shallow = shallow_rows(SHALLOW_SIZES if cuda else SHALLOW_SIZES_CPU, cuda, a.quick)
    tune_rows: list[str] = []
    tune_header = table_header(["n = m", "d", "fused launch config", "fwd+bwd (s)", "vs default"])
    if a.tune_fused:
        print(*tune_header, sep="\n", flush=True)
        tune_sizes = [(16384, 64), (16384, 512)] if cuda else [max(sizes)]
        tune_rows = tune_fused(dev, repeats, tune_sizes)
    elapsed = time.time() - started
    lines = [
        provenance(command_line(__file__, argv), seconds=elapsed),
        "",
        f"- Machine: {machine_info(dev.type)}; device `{dev}`"
        + (
            ""
            if cuda
            else " (**no CUDA: CPU check of the script, tiny sizes, not a GPU measurement**)"
        )
        + ".",
        "- MMD: multi-kernel Gaussian MMD² (5 bandwidths, multipliers 2^-2..2^2, fixed base bandwidth), "
        "biased, float32, n = m, forward + backward w.r.t. X and Y; median of "
        f"{repeats} runs after a warm-up (1 run for n + m > 100000). *tiled*: `ops.mmd(backend='torch')` "
        "with the automatic tile (*auto tile*); *fused*: `ops.mmd(backend='triton')`; *direct*: full "
        "matrix with autograd. Peak: `torch.cuda.max_memory_allocated` minus the allocation before.",
        "- Roofline (d = 512): 3 N² (d + 1) FLOPs / time / `torch.mm` FLOP/s on (8192 x d) @ (d x 8192), "
        f"float32 ({', '.join(f'd={k}: {v:.0f} GFLOP/s' for k, v in mm.items()) or 'not measured'}).",
        "",
        *header,
        *rows,
    ]
    if deep_rows:
        lines += [
            "",
            "Training step of each deep method (public API: `domainadapt.model.<Method>` or "
            "`domainadapt.relation.<Method>(hidden_sizes="
            "(256, 256), batch_size=..., device=...)`, `fit` on generated data), median over epochs after "
            "the first, relative to DANN:",
            "",
            *deep_header,
            *deep_rows,
        ]
    if shallow:
        lines += [
            "",
            "Fit time of the shallow strategies that take `device=` (`KMM`, "
            "`TCA(kernel='rbf', n_landmarks=500)`, `OTMapping`; default settings otherwise), "
            f"n source + n target rows, 4 Gaussian classes, d = {SHALLOW_D}, float64 input; "
            f"one fit after a warm-up fit on 200 rows; CPU: `device='cpu'`, "
            f"`torch.get_num_threads()` = {torch.get_num_threads()}"
            + ("" if cuda else "; **no CUDA here: GPU columns not measured**")
            + ". *solver*: the solver and its iterations (CPU; GPU).",
            "",
            *shallow_header,
            *shallow,
        ]
    if tune_rows:
        lines += [
            "",
            "Fused kernel launch configurations (`--tune-fused`, keys of `ops._fused._blocks`):",
            "",
            *tune_header,
            *tune_rows,
        ]
    write_report(out, "GPU benchmark (issue #11)", lines)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
