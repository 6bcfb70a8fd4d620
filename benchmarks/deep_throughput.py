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

``pytorch-adapt`` is timed too when it is installed (optional; prints
"not installed" otherwise).

Usage::

    DOMAINADAPT_DATA=/path/to/data python benchmarks/deep_throughput.py
    python benchmarks/deep_throughput.py --workloads mlp --repeats 3 --epochs 3 --threads 1
"""

from __future__ import annotations

import argparse
import math
import os
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


def plain_dann(parts: dict[str, nn.Module], Xs, ys, Xt, n_epochs: int, seed: int) -> list[float]:
    """A hand-written DANN loop; returns the wall time of each epoch."""
    features, classifier, disc = parts["features"], parts["classifier"], parts["discriminator"]
    params = [p for m in parts.values() for p in m.parameters()]
    opt = torch.optim.SGD(params, lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
    xs_all, ys_all, xt_all = torch.from_numpy(Xs), torch.from_numpy(ys), torch.from_numpy(Xt)
    ns, nt = len(xs_all), len(xt_all)
    gen = torch.Generator().manual_seed(seed)
    steps_per_epoch = ns // BATCH
    max_steps = steps_per_epoch * n_epochs
    step, tperm, tpos = 0, torch.randperm(nt, generator=gen), 0
    domain_labels = torch.cat([torch.ones(BATCH), torch.zeros(BATCH)])
    times = []
    for module in parts.values():
        module.train()
    for _ in range(n_epochs):
        t0 = time.perf_counter()
        perm = torch.randperm(ns, generator=gen)
        running = torch.zeros(())
        for i in range(steps_per_epoch):
            if tpos + BATCH > nt:
                tperm, tpos = torch.randperm(nt, generator=gen), 0
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
def make_engine(net_factory, disc_sizes, n_epochs: int, threads: int, seed: int):
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
        device="cpu",
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
        adapter = make_engine(net_factory, disc_sizes, a.epochs, a.threads, seed=rep)
        t0 = time.perf_counter()
        adapter.fit((Xs, ys), Xt)
        engine_fit.append(time.perf_counter() - t0)
        engine_epoch += [r["time"] for r in adapter.history_[1:]]

        torch.manual_seed(rep)
        twin = make_engine(net_factory, disc_sizes, a.epochs, a.threads, seed=rep)
        torch.manual_seed(rep)  # the engine seeds torch with random_state, then builds its parts
        parts = engine_parts_copy(twin, Xs, ys, Xt)
        torch.set_num_threads(a.threads)
        try:
            plain_epoch += plain_dann(parts, Xs, ys, Xt, a.epochs, seed=rep)[1:]
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--workloads", nargs="+", choices=["lenet", "mlp"], default=["lenet", "mlp"])
    ap.add_argument("--epochs", type=int, default=4, help="epochs per fit (the first is dropped)")
    ap.add_argument("--repeats", type=int, default=5, help="fits per side, alternated")
    ap.add_argument("--threads", type=int, default=1, help="torch threads on both sides")
    ap.add_argument("--out", type=Path, default=RESULTS)
    a = ap.parse_args(argv)
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
            f"- Machine: {machine_info()}; device `cpu`, {a.threads} torch thread(s) on both sides.",
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
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
