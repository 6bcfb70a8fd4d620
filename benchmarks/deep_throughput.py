"""Throughput of one DANN epoch: the ``domainadapt`` engine vs a plain hand-written PyTorch loop.

Both sides train the **same modules** (same initial weights), on the **same data**,
with the same batch size, optimiser (SGD, momentum 0.9, weight decay 5e-4), learning-rate
annealing :math:`\\eta_0 (1 + 10p)^{-0.75}` and gradient-reversal schedule
:math:`2/(1 + e^{-10p}) - 1`, and the same number of threads. The plain loop is
what a careful user writes by hand: tensors in memory, a ``randperm`` per epoch,
a cycling target permutation, a gradient-reversal ``autograd.Function``, one
``backward`` and one ``step`` per batch, the running loss summed on-device.

Workloads:

* ``lenet``: the digits benchmark's setting: LeNet on 2000 MNIST (source, labelled)
  and 1800 USPS (target) images of 16x16, discriminator 500-500, batch 64 + 64;
* ``mlp``: a small tabular model (MLP 64-64, discriminator 64) on 2-D two-moons
  (4096 + 4096 rows), batch 64 + 64: per-step compute is tiny, so this is where a
  training framework's per-step overhead shows most.

Timing: ``--epochs`` epochs per fit; the engine's epoch time is read from
``history_[k]["time"]`` (the loop only, setup excluded) and the plain loop's is
timed the same way; the first epoch of each fit is a warm-up and is dropped; fits
alternate engine / plain ``--repeats`` times and the median epoch time is reported.
Samples/s counts source + target rows processed per second. The engine's whole-fit
time (validation, building the parts, history) is reported separately.

With ``--device cuda`` both sides train on the GPU; the plain loop then keeps the whole
data set and each epoch's permutations on the device, and the table goes to its own
file (the CPU one is kept).

``pytorch-adapt`` is timed too when it is installed (optional; prints
"not installed" otherwise).

Two more modes measure CPU threads rather than the engine (each writes its own
section, headed with its command, into the results file and keeps the rest):

* ``--under-load``: whole DANN fits of a small model (two-moons, 20 000 + 20 000
  rows, default MLP 64-64, 3 epochs, otherwise default settings) on the machine as
  it is and while a second process keeps every core busy with torch matmuls at
  torch's default thread count; once with the default ``n_threads="auto"`` and once
  with ``n_threads=None`` (torch's own thread count, the behaviour before "auto").
  The ratio loaded / quiet is the goal's measure (at most 2x for the default).
* ``--thread-sweep``: the time of one DANN step at 1 thread and at all the cores'
  threads, quiet and under the same load, across model sizes from a 2-D MLP to a
  small VGG-style convolution net, with each model's work per step as
  ``n_threads="auto"`` estimates it (``domainadapt.training.settings.forward_macs``):
  the measurement behind ``AUTO_THREADS_MIN_MACS``.

Run these two without ``OMP_NUM_THREADS`` set, so torch starts with its default
thread count as a user's process does.

Usage::

    DOMAINADAPT_DATA=/path/to/data python benchmarks/deep_throughput.py
    python benchmarks/deep_throughput.py --workloads mlp --repeats 3 --epochs 3 --threads 1
    python benchmarks/deep_throughput.py --device cuda   # -> deep_throughput_cuda.md
    python benchmarks/deep_throughput.py --under-load
    python benchmarks/deep_throughput.py --thread-sweep
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from _common import command_line, machine_info, provenance, table_header, write_report
from torch import nn

RESULTS = Path(__file__).resolve().parent / "results" / "deep_throughput.md"
LR, MOMENTUM, WEIGHT_DECAY, BATCH = 0.01, 0.9, 5e-4, 64


# ----------------------------------------------------------------------------- data
def load_workload(name: str, seed: int = 0):
    """(Xs, ys, Xt, network factory, discriminator hidden sizes) of a workload."""
    if name == "lenet":
        from domainadapt.datasets import load_mnist, load_usps
        from domainadapt.training import LeNet

        src = load_mnist(n_samples=2000, size=16, random_state=seed)
        tgt = load_usps(n_samples=1800, size=16, random_state=seed)
        return src.X, src.y, tgt.X, LeNet, (500, 500)
    if name == "mlp":
        from domainadapt.datasets import make_rotated_moons
        from domainadapt.training import MLP

        src, tgt = make_rotated_moons(4096, 4096, angle=30.0, random_state=seed)
        return (
            src.X.astype(np.float32),
            src.y,
            tgt.X.astype(np.float32),
            lambda: MLP(2, (64, 64)),
            (64,),
        )
    raise ValueError(f"unknown workload {name!r}")


# ----------------------------------------------------------------------------- plain loop
class _Reverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, coeff):
        ctx.coeff = coeff
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -ctx.coeff * grad, None


def plain_dann(
    parts: dict[str, nn.Module], Xs, ys, Xt, n_epochs: int, seed: int, device: str = "cpu"
) -> list[float]:
    """A hand-written DANN loop; returns the wall time of each epoch.

    On a GPU the whole data set and each epoch's permutation live on the device (what a
    careful user does there), so a step copies nothing from the host.
    """
    dev = torch.device(device)
    for module in parts.values():
        module.to(dev)
    features, classifier, disc = parts["features"], parts["classifier"], parts["discriminator"]
    params = [p for m in parts.values() for p in m.parameters()]
    opt = torch.optim.SGD(params, lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
    xs_all, ys_all, xt_all = (torch.from_numpy(a).to(dev) for a in (Xs, ys, Xt))
    ns, nt = len(xs_all), len(xt_all)
    gen = torch.Generator().manual_seed(seed)
    steps_per_epoch = ns // BATCH
    max_steps = steps_per_epoch * n_epochs
    step, tperm, tpos = 0, torch.randperm(nt, generator=gen).to(dev), 0
    domain_labels = torch.cat([torch.ones(BATCH), torch.zeros(BATCH)]).to(dev)
    times = []
    for module in parts.values():
        module.train()
    for _ in range(n_epochs):
        t0 = time.perf_counter()
        perm = torch.randperm(ns, generator=gen).to(dev)
        running = torch.zeros((), device=dev)
        for i in range(steps_per_epoch):
            if tpos + BATCH > nt:
                tperm, tpos = torch.randperm(nt, generator=gen).to(dev), 0
            si, ti = perm[i * BATCH : (i + 1) * BATCH], tperm[tpos : tpos + BATCH]
            tpos += BATCH
            p = step / max_steps
            for g in opt.param_groups:
                g["lr"] = LR * (1 + 10 * p) ** -0.75
            coeff = 2.0 / (1.0 + math.exp(-10.0 * p)) - 1.0
            f = features(torch.cat([xs_all[si], xt_all[ti]]))
            loss_cls = F.cross_entropy(classifier(f[:BATCH]), ys_all[si])
            scores = disc(_Reverse.apply(f.flatten(1), coeff))
            loss_dom = F.binary_cross_entropy_with_logits(scores, domain_labels)
            loss = loss_cls + loss_dom
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            running += loss.detach()
            step += 1
        float(running)  # one sync per epoch, like the engine's history
        times.append(time.perf_counter() - t0)
    return times


# ----------------------------------------------------------------------------- engine
def make_engine(
    net_factory, disc_sizes, n_epochs: int, threads: int, seed: int, device: str = "cpu"
):
    from domainadapt.model import DANN

    return DANN(
        network=net_factory(),
        discriminator_hidden_sizes=disc_sizes,
        n_epochs=n_epochs,
        batch_size=BATCH,
        optimizer="sgd",
        lr=LR,
        momentum=MOMENTUM,
        weight_decay=WEIGHT_DECAY,
        lr_schedule="inverse",
        n_threads=threads,
        progress=False,
        device=device,
        random_state=seed,
    )


def engine_parts_copy(adapter, Xs, ys, Xt) -> dict[str, nn.Module]:
    """The engine's freshly initialised modules (so both loops train identical models)."""
    import copy

    parts = adapter._make_parts(tuple(Xs.shape[1:]), int(len(np.unique(ys))))
    return {k: copy.deepcopy(v) for k, v in parts.items()}


def time_workload(name: str, a) -> dict:
    Xs, ys, Xt, net_factory, disc_sizes = load_workload(name)
    steps = len(Xs) // BATCH
    rows_per_epoch = steps * 2 * BATCH
    engine_epoch, plain_epoch, engine_fit = [], [], []
    prev_threads = torch.get_num_threads()
    for rep in range(a.repeats):
        torch.manual_seed(rep)  # initial weights of the network (both sides)
        adapter = make_engine(net_factory, disc_sizes, a.epochs, a.threads, rep, a.device)
        t0 = time.perf_counter()
        adapter.fit((Xs, ys), Xt)
        engine_fit.append(time.perf_counter() - t0)
        engine_epoch += [r["time"] for r in adapter.history_[1:]]

        torch.manual_seed(rep)
        twin = make_engine(net_factory, disc_sizes, a.epochs, a.threads, rep, a.device)
        torch.manual_seed(rep)  # the engine seeds torch with random_state, then builds its parts
        parts = engine_parts_copy(twin, Xs, ys, Xt)
        torch.set_num_threads(a.threads)
        try:
            plain_epoch += plain_dann(parts, Xs, ys, Xt, a.epochs, rep, a.device)[1:]
        finally:
            torch.set_num_threads(prev_threads)
    e, p = float(np.median(engine_epoch)), float(np.median(plain_epoch))
    return {
        "workload": name,
        "rows": rows_per_epoch,
        "steps": steps,
        "engine_epoch": e,
        "plain_epoch": p,
        "engine_sps": rows_per_epoch / e,
        "plain_sps": rows_per_epoch / p,
        "overhead": e / p - 1.0,
        "engine_fit": float(np.median(engine_fit)),
        "n_epochs_timed": len(engine_epoch),
        "spread_engine": (min(engine_epoch), max(engine_epoch)),
        "spread_plain": (min(plain_epoch), max(plain_epoch)),
    }


def pytorch_adapt_status() -> str:
    try:
        import pytorch_adapt  # noqa: F401
    except ImportError:
        return "not installed"
    return f"installed ({getattr(pytorch_adapt, '__version__', '?')}) but not timed by this script"


# ----------------------------------------------------------------------------- threads
#: The second process of ``--under-load`` / ``--thread-sweep``: torch matmuls at torch's
#: default thread count, until killed.
LOAD_CODE = (
    "import torch\n"
    "a = torch.randn(1024, 1024)\n"
    "print('ready', torch.get_num_threads(), flush=True)\n"
    "while True:\n"
    "    a = torch.tanh(a @ a)\n"
)
SECTION_PREFIX = "## `python benchmarks/deep_throughput.py --"


@contextlib.contextmanager
def busy_cores():
    """A second process keeping the cores busy (torch matmuls, default threads) for the
    duration; yields its thread count."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    proc = subprocess.Popen(
        [sys.executable, "-c", LOAD_CODE], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        line = proc.stdout.readline().split()
        threads = int(line[1]) if len(line) == 2 else -1
        time.sleep(1.0)  # let it reach full speed
        yield threads
    finally:
        proc.kill()
        proc.wait()


def write_section(out: Path, heading: str, lines: list[str]) -> None:
    """Put ``## heading`` and ``lines`` into ``out``: replacing the section of the same
    heading when there is one, else appended; the rest of the file is kept."""
    text = out.read_text() if out.exists() else "# Training-engine overhead\n"
    head = f"## {heading}"
    body = "\n".join([head, "", *lines]).rstrip("\n") + "\n"
    start = text.find(head + "\n")
    if start >= 0:
        end = text.find("\n## ", start + len(head))
        text = text[:start] + body + ("" if end < 0 else text[end + 1 :])
    else:
        text = text.rstrip("\n") + "\n\n" + body
    out.write_text(text)
    print(f"\nsection {heading!r} written to {out}")


def moons_rows(n: int, seed: int = 0):
    from domainadapt.datasets import make_rotated_moons

    src, tgt = make_rotated_moons(n, n, angle=30.0, random_state=seed)
    return src.X.astype(np.float32), src.y, tgt.X.astype(np.float32)


def fit_seconds(n_threads, Xs, ys, Xt, seed: int) -> tuple[float, int]:
    """Wall time of one default DANN fit of 3 epochs, and the thread count it used."""
    from domainadapt.model import DANN

    model = DANN(n_epochs=3, n_threads=n_threads, progress=False, device="cpu", random_state=seed)
    t0 = time.perf_counter()
    model.fit((Xs, ys), Xt)
    return time.perf_counter() - t0, model.n_threads_


def python_loop_seconds(n: int = 20_000_000) -> float:
    """Wall time of a fixed pure-Python loop: one thread's share of a core, no torch."""
    t0 = time.perf_counter()
    x = 0
    for i in range(n):
        x += i & 7
    return time.perf_counter() - t0


def under_load(a, argv) -> int:
    """Default (``n_threads="auto"``) vs ``n_threads=None`` fits, quiet and under load."""
    Xs, ys, Xt = moons_rows(a.rows)
    settings = [("auto", 'default (`n_threads="auto"`)'), (None, "`n_threads=None` (before)")]
    times: dict[tuple[str, bool], list[float]] = {}
    used: dict[str, int] = {}
    load0, started = os.getloadavg(), time.time()
    fit_seconds(1, Xs[:512], ys[:512], Xt[:512], 0)  # imports and first-call costs
    for loaded in (False, True):
        ctx = busy_cores() if loaded else contextlib.nullcontext(None)
        with ctx as load_threads:
            for rep in range(a.repeats):
                for value, _ in settings:
                    if value is None and rep >= a.before_repeats:
                        continue
                    t, n = fit_seconds(value, Xs, ys, Xt, rep)
                    times.setdefault((str(value), loaded), []).append(t)
                    used[str(value)] = n
                    print(f"{'loaded' if loaded else 'quiet '} n_threads={value!s:5} "
                          f"({n} threads): {t:.2f} s", flush=True)
                t = python_loop_seconds()
                times.setdefault(("loop", loaded), []).append(t)
                print(f"{'loaded' if loaded else 'quiet '} Python loop: {t:.2f} s", flush=True)
        if loaded:
            second = load_threads
    load1 = os.getloadavg()
    header = table_header(
        ["setting", "threads used", "quiet fit (s)", "under load fit (s)", "loaded / quiet"]
    )
    rows = []
    used["loop"] = 1
    labels = [*settings, ("loop", "reference: a pure-Python loop (no torch)")]
    for value, label in labels:
        q, lo = times[(str(value), False)], times[(str(value), True)]
        mq, ml = float(np.median(q)), float(np.median(lo))
        rows.append(
            f"| {label} | {used[str(value)]} | {mq:.2f} [{min(q):.2f}-{max(q):.2f}] | "
            f"{ml:.2f} [{min(lo):.2f}-{max(lo):.2f}] | {ml / mq:.1f}x |"
        )
    print(*header, *rows, sep="\n")
    _write_shared_machine_section(
        a.out, argv, started, load0, load1, cores=None,
        bullets=[
            f"- Workload: `DANN(n_epochs=3)`, otherwise default settings (MLP 64-64, batch 64, "
            f"Adam), two-moons {len(Xs)} source + {len(Xt)} target rows "
            f"({len(Xs) // 64 * 3} steps); whole `fit` wall time, median [min-max] of "
            f"{a.repeats} fits with the default and {a.before_repeats} with `n_threads=None` "
            "(whose fits take minutes on a shared machine), the settings alternated.",
            f"- *Under load*: a second process runs 1024x1024 torch matmuls with torch's "
            f"default thread count ({second}) for the whole loaded half.",
            "- The reference row times a fixed single-threaded Python loop after each round "
            "of fits: its ratio is the share of a core one thread loses to the second "
            "process on this machine, the floor of any one-thread fit's ratio.",
        ],
        table=[*header, *rows],
    )
    return 0


def _write_shared_machine_section(out, argv, started, load0, load1, *, cores: int | None,
                                  bullets: list[str], table: list[str]) -> None:
    """Write a ``--under-load`` / ``--thread-sweep`` section: the command, the machine with
    its load average (other jobs share it, so *quiet* is not idle), ``bullets``, ``table``."""
    cmd = command_line(__file__, argv)
    where = "device `cpu`" if cores is None else f"device `cpu`, {cores} cores available"
    write_section(
        out,
        f"`{cmd}`",
        [
            provenance(cmd, seconds=time.time() - started),
            "",
            f"- Machine: {machine_info()}; {where}. **Other jobs already share this "
            f"machine**: the load average (1 min) was {load0[0]:.1f} at the start and "
            f"{load1[0]:.1f} at the end, so *quiet* means the machine as it was, not idle.",
            *bullets,
            "",
            *table,
        ],
    )


def sweep_models():
    """(name, input shape, network factory, rows) of the thread sweep, small to large."""
    from domainadapt.training import MLP, LeNet

    def vgg():
        return nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )

    return [
        ("MLP 2-64-64 (two-moons)", (2,), lambda: MLP(2, (64, 64)), 64 * 40),
        ("MLP 100-256-256", (100,), lambda: MLP(100, (256, 256)), 64 * 40),
        ("MLP 5000-64-64 (text)", (5000,), lambda: MLP(5000, (64, 64)), 64 * 20),
        ("MLP 784-512-512", (784,), lambda: MLP(784, (512, 512)), 64 * 20),
        ("MLP 2000-1024-1024", (2000,), lambda: MLP(2000, (1024, 1024)), 64 * 12),
        ("LeNet 16x16", (1, 16, 16), LeNet, 64 * 12),
        ("LeNet 28x28", (1, 28, 28), LeNet, 64 * 10),
        ("conv 32-64-128 on 3x32x32", (3, 32, 32), vgg, 64 * 6),
        ("conv 32-64-128 on 3x64x64", (3, 64, 64), vgg, 64 * 4),
        ("conv 32-64-128 on 3x128x128", (3, 128, 128), vgg, 64 * 3),
    ]


def step_seconds(factory, X, y, n_threads: int, seed: int = 0):
    """Seconds per step of DANN's second epoch, and the fitted model."""
    from domainadapt.model import DANN

    model = DANN(network=factory, n_epochs=2, n_threads=n_threads, progress=False,
                 device="cpu", random_state=seed)
    model.fit((X, y), X)
    return model.history_[1]["time"] / (len(X) // 64), model


def thread_sweep(a, argv) -> int:
    """Per-step time at 1 thread and at all cores, quiet and loaded, across model sizes."""
    from domainadapt.training.settings import AUTO_THREADS_MIN_MACS, available_cores, forward_macs

    many = max(2, min(torch.get_num_threads(), available_cores()))
    rng = np.random.RandomState(0)
    load0, started = os.getloadavg(), time.time()
    results = {}
    for loaded in (False, True):
        ctx = busy_cores() if loaded else contextlib.nullcontext(None)
        with ctx as load_threads:
            for name, shape, factory, n in sweep_models():
                X = rng.rand(n, *shape).astype(np.float32)
                y = rng.randint(0, 2, n)
                per = {1: [], many: []}
                for _ in range(a.repeats):
                    for k in per:
                        t, model = step_seconds(factory, X, y, k)
                        per[k].append(t)
                macs = forward_macs(model.parts_, model._predict_logits, shape, 64)
                results[(name, loaded)] = (macs, {k: float(np.median(v)) for k, v in per.items()})
                print(f"{'loaded' if loaded else 'quiet '} {name:28} {macs / 1e6:9.1f} M MACs  "
                      + "  ".join(f"{k} thr {v * 1e3:8.2f} ms" for k, v in
                                  results[(name, loaded)][1].items()), flush=True)
        if loaded:
            second = load_threads
    load1 = os.getloadavg()
    header = table_header(
        ["model (DANN, batch 64 + 64)", "forward MACs / batch", "quiet: 1 thread (ms)",
         f"quiet: {many} threads (ms)", f"quiet: {many} / 1", "loaded: 1 thread (ms)",
         f"loaded: {many} threads (ms)", f"loaded: {many} / 1", '"auto" picks']
    )
    rows = []
    for name, *_ in sweep_models():
        macs, q = results[(name, False)]
        _, lo = results[(name, True)]
        pick = 1 if macs < AUTO_THREADS_MIN_MACS else many
        rows.append(
            f"| {name} | {macs / 1e6:.1f} M | {q[1] * 1e3:.2f} | {q[many] * 1e3:.2f} | "
            f"{q[many] / q[1]:.2f} | {lo[1] * 1e3:.2f} | {lo[many] * 1e3:.2f} | "
            f"{lo[many] / lo[1]:.2f} | {pick} |"
        )
    print(*header, *rows, sep="\n")
    _write_shared_machine_section(
        a.out, argv, started, load0, load1, cores=available_cores(),
        bullets=[
            "- Time of one DANN step (default discriminator 64, batch 64 source + 64 target, "
            f"Adam): the second epoch of a 2-epoch fit divided by its steps, median of "
            f"{a.repeats} fits per cell; inputs are random. *Loaded*: a second process runs "
            f"1024x1024 torch matmuls with torch's default thread count ({second}).",
            "- Forward MACs / batch: multiply-adds of one forward pass of the parts over 64 "
            "rows as `n_threads=\"auto\"` estimates it (`forward_macs`); \"auto\" uses "
            f"more than one thread from {AUTO_THREADS_MIN_MACS / 1e6:.0f} M "
            "(`AUTO_THREADS_MIN_MACS`).",
        ],
        table=[*header, *rows],
    )
    return 0


def keep_sections(out: Path) -> list[str]:
    """The sections of ``--under-load`` / ``--thread-sweep`` already in ``out`` (kept when
    the main table is rewritten)."""
    if not out.exists():
        return []
    text = out.read_text()
    start = text.find(SECTION_PREFIX)
    return ["", text[start:].rstrip("\n")] if start >= 0 else []


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--workloads", nargs="+", choices=["lenet", "mlp"], default=["lenet", "mlp"])
    ap.add_argument("--epochs", type=int, default=4, help="epochs per fit (the first is dropped)")
    ap.add_argument("--repeats", type=int, default=5, help="fits per side, alternated")
    ap.add_argument("--threads", type=int, default=1, help="torch threads on both sides")
    ap.add_argument("--device", default="cpu",
                    help="torch device of both sides (e.g. cuda); results then go to "
                    "deep_throughput_<device type>.md unless --out")
    ap.add_argument("--out", type=Path, default=None)
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--under-load", action="store_true",
                      help="default vs n_threads=None fits, quiet and with a second busy process")
    mode.add_argument("--thread-sweep", action="store_true",
                      help="per-step time at 1 and all threads, quiet and loaded, by model size")
    ap.add_argument("--rows", type=int, default=20000,
                    help="--under-load: two-moons rows per domain")
    ap.add_argument("--before-repeats", type=int, default=1,
                    help="--under-load: fits with n_threads=None (the old behaviour)")
    a = ap.parse_args(argv)
    dev_type = torch.device(a.device).type
    if a.out is None:
        a.out = RESULTS if dev_type == "cpu" else RESULTS.with_name(
            f"deep_throughput_{dev_type}.md"
        )
    if dev_type == "cuda" and not torch.cuda.is_available():
        ap.error("--device cuda: CUDA is not available to torch on this machine")
    if (a.under_load or a.thread_sweep) and dev_type != "cpu":
        ap.error("--under-load and --thread-sweep measure CPU threads: use --device cpu")
    if a.under_load or a.thread_sweep:
        if "--repeats" not in (argv if argv is not None else sys.argv[1:]):
            a.repeats = 3
        return under_load(a, argv) if a.under_load else thread_sweep(a, argv)
    if a.epochs < 2:
        ap.error("--epochs must be >= 2 (the first epoch is a warm-up)")

    pa = pytorch_adapt_status()
    print(f"pytorch-adapt: {pa}")
    load0 = os.getloadavg()
    started = time.time()
    rows = []
    header = table_header(
        ["workload", "rows / epoch", "engine epoch (s)", "plain epoch (s)", "engine samples/s",
         "plain samples/s", "engine / plain time", "engine whole fit (s)"]
    )
    print(*header, sep="\n")
    for w in a.workloads:
        r = time_workload(w, a)
        row = (
            f"| {w} | {r['rows']} ({r['steps']} steps) | {r['engine_epoch']:.3f} "
            f"[{r['spread_engine'][0]:.3f}-{r['spread_engine'][1]:.3f}] | {r['plain_epoch']:.3f} "
            f"[{r['spread_plain'][0]:.3f}-{r['spread_plain'][1]:.3f}] | {r['engine_sps']:.0f} | "
            f"{r['plain_sps']:.0f} | {1 + r['overhead']:.3f} ({100 * r['overhead']:+.1f} %) | "
            f"{r['engine_fit']:.2f} ({a.epochs} epochs) |"
        )
        rows.append(row)
        print(row, flush=True)
    load1 = os.getloadavg()
    write_report(
        a.out,
        "Training-engine overhead: one DANN epoch, engine vs plain PyTorch loop",
        [
            provenance(command_line(__file__, argv), seconds=time.time() - started),
            "",
            f"- Machine: {machine_info(dev_type)}; device `{a.device}`, {a.threads} torch "
            "thread(s) on both sides.",
            f"- Load average (1 min) at start / end: {load0[0]:.1f} / {load1[0]:.1f} (the machine "
            "is shared with other jobs; both sides are measured interleaved so they see the same "
            "load).",
            "- Same modules and initial weights, same data, batch 64 source + 64 target, SGD "
            "(lr 0.01, momentum 0.9, weight decay 5e-4), lr annealing (1 + 10p)^-0.75, reversal "
            "coefficient 2/(1 + exp(-10p)) - 1. *lenet*: LeNet on 2000 MNIST / 1800 USPS 16x16 "
            "images, discriminator 500-500. *mlp*: MLP 64-64 on two-moons, 4096 + 4096 rows, "
            "discriminator 64.",
            f"- Epoch times: median over {a.repeats} fits x {a.epochs - 1} epochs per side (first "
            "epoch of each fit dropped as warm-up), [min-max] in brackets; the engine's from "
            "`history_[k]['time']`. Whole fit: median wall time of `DANN(...).fit` including "
            "input validation and building the modules.",
            f"- pytorch-adapt: {pa}.",
            "",
            *header,
            *rows,
            *keep_sections(a.out),
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
