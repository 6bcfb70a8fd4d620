"""Benchmark of the instance-based strategies: fit time, peak memory, target error.

Every row runs the strategy with its **defaults** (``flatten="auto"`` tempering
included, so ``weights_`` are what a user gets), unless its ``settings`` column
names the parameters it overrides; those rows are there for reference (the exact
and first-order KMM solvers separately, and the paper's KMM configuration that the
defaults replaced), never as the headline number.

Every (strategy, size) case runs in a fresh Python subprocess; peak memory is that
process's ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` after the fit (peak resident
set size of the whole process, Python + torch + data included; the baseline of an
idle worker is printed in the table notes). Data: ``make_gaussian_shift`` regression
(sinc labels, ``n_s = n_t``, ``d`` features, shift 1, target scale 0.8); the target
error is the MSE on the target of a least-squares regressor trained on the source
with the strategy's weights, next to the unweighted one.

Where ``skada`` is installed its KMM / KLIEP / discriminator reweighting run on the
same data in the same run (never a dependency). For KMM the QP objective
``0.5 w'Kw - kappa'w`` of every solution is evaluated with the same kernel (our
median-heuristic bandwidth; skada gets the matching ``gamma``) by the tiled
``kmm_objective``, so the objectives are comparable.

Usage::

    python benchmarks/instance.py --sizes 1000 8000 64000 --d 50
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np
from _common import command_line, machine_info, provenance, write_report

#: strategy -> (max n it is run at, note)
LIMITS = {
    "kmm-qp": (2000, "exact QP materialises n x n and costs O(n^3)"),
    "kmm-paper-qp": (2000, "exact QP materialises n x n and costs O(n^3)"),
    "kmm-paper-fista20": (8000, "reference row only"),
    "skada-kmm": (8000, "builds the dense n x n kernel (64k: 32 GB)"),
    "skada-kliep": (8000, "not run beyond 8k, to keep the run under 15 min"),
}
OURS = [
    "kmm",
    "kmm-qp",
    "kmm-fista",
    "kmm-paper-qp",
    "kmm-paper-fista20",
    "kliep",
    "ulsif",
    "rulsif",
    "nn",
    "classifier_ratio",
]
PEERS = ["skada-kmm", "skada-kliep", "skada-discriminator"]


def _paper_eps(n: int) -> float:
    return (n**0.5 - 1.0) / n**0.5


#: rows that do not run the defaults: what they override (printed in the table)
SETTINGS = {
    "kmm-qp": "solver='qp' (what the default picks for n <= exact_max_n=2000)",
    "kmm-fista": "solver='fista' (what the default picks for n > 2000)",
    "kmm-paper-qp": "NOT default: B=1000, eps=(sqrt(n)-1)/sqrt(n), flatten=1, solver='qp' "
    "(the paper's configuration, the old default)",
    "kmm-paper-fista20": "NOT default: B=1000, eps=(sqrt(n)-1)/sqrt(n), flatten=1, "
    "solver='fista', max_iter=20, tol=1e-6 (the row this table used to report)",
    "skada-kmm": "skada defaults (B=1000, eps=(sqrt(n)-1)/sqrt(n)), our bandwidth",
    "skada-kliep": "skada, our bandwidth grid",
    "skada-discriminator": "skada defaults",
}


def _make(name: str, n: int, seed: int):
    from domainadapt.instance import (
        KLIEP,
        KMM,
        ULSIF,
        ClassifierDensityRatio,
        NearestNeighborWeighting,
        RuLSIF,
    )

    if name == "kmm":
        return KMM(random_state=seed)
    if name == "kmm-qp":
        return KMM(solver="qp", random_state=seed)
    if name == "kmm-fista":
        return KMM(solver="fista", random_state=seed)
    if name == "kmm-paper-qp":
        return KMM(B=1000.0, eps=_paper_eps(n), flatten=1.0, solver="qp", random_state=seed)
    if name == "kmm-paper-fista20":
        return KMM(
            B=1000.0,
            eps=_paper_eps(n),
            flatten=1.0,
            solver="fista",
            max_iter=20,
            tol=1e-6,
            random_state=seed,
        )
    if name == "kliep":
        return KLIEP(random_state=seed)
    if name == "ulsif":
        return ULSIF(random_state=seed)
    if name == "rulsif":
        return RuLSIF(random_state=seed)
    if name == "nn":
        return NearestNeighborWeighting()
    if name == "classifier_ratio":
        return ClassifierDensityRatio(random_state=seed)
    raise ValueError(name)


def worker(name: str, n: int, d: int, seed: int) -> dict:
    import warnings

    import torch
    from sklearn.linear_model import LinearRegression

    from domainadapt._kernels import median_bandwidth
    from domainadapt.datasets import make_gaussian_shift
    from domainadapt.instance.kmm import kmm_objective

    warnings.simplefilter("ignore")
    torch.manual_seed(seed)
    source, target, _ = make_gaussian_shift(
        n, n, d, shift=1.0, scale=0.8, random_state=seed, task="regression"
    )
    sigma = median_bandwidth(source.X, target.X, seed=seed)  # what KMM(random_state=seed) uses
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out: dict = {"name": name, "n": n}
    t0 = time.perf_counter()
    if name.startswith("skada-"):
        import skada
        from skada.utils import source_target_merge

        X, y, sd = source_target_merge(source.X, target.X, source.y, target.y)
        if name == "skada-kmm":
            ad = skada.KMMReweightAdapter(gamma=1.0 / (2.0 * sigma**2))
        elif name == "skada-kliep":
            ad = skada.KLIEPReweightAdapter(
                gamma=[1.0 / (2.0 * (sigma * m) ** 2) for m in (0.25, 0.5, 1, 2, 4)],
                random_state=seed,
            )
        else:
            ad = skada.DiscriminatorReweightAdapter()
        res = ad.fit_transform(X, y, sample_domain=sd)
        params = res[1] if isinstance(res, tuple) else res
        w = np.asarray(params["sample_weight"])[sd >= 0]
        out["fit_s"] = time.perf_counter() - t0
        if name == "skada-kmm":
            out["objective"] = kmm_objective(source.X, target.X, w, sigma)
    else:
        model = _make(name, n, seed).fit(source, target.X)
        out["fit_s"] = time.perf_counter() - t0
        w = model.weights_
        out["flatten"] = model.flatten_
        out["ess_untempered"] = model.ess_untempered_
        if name.startswith("kmm"):
            assert abs(model.bandwidth_ - sigma) <= 1e-12 * sigma  # same kernel as skada's
            out["objective"] = model.objective_
            out["n_iter"] = model.n_iter_
            out["solver"] = model.solver_
    out["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["rss_before_fit_mb"] = rss0 / 1024
    out["ess"] = float(w.sum() ** 2 / np.sum(w**2))
    mse = []
    for sw in (None, w):
        reg = LinearRegression().fit(source.X, source.y, sample_weight=sw)
        mse.append(float(np.mean((reg.predict(target.X) - target.y) ** 2)))
    out["mse_unweighted"], out["mse_weighted"] = mse
    return out


def run_case(name: str, n: int, d: int, seed: int, timeout: float) -> dict:
    cmd = [sys.executable, __file__, "--worker", name, str(n), str(d), str(seed)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"name": name, "n": n, "note": f"timeout ({timeout:.0f} s)"}
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return {"name": name, "n": n, "note": f"failed: {last[:80]}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _fmt(v, spec):
    return "" if v is None else format(v, spec)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 8000, 64000])
    ap.add_argument("--d", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per case")
    ap.add_argument("--methods", nargs="+", default=None)
    ap.add_argument(
        "--out", default=os.path.join(os.path.dirname(__file__), "results", "instance.md")
    )
    ap.add_argument("--worker", nargs=4, metavar=("NAME", "N", "D", "SEED"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        name, n, d, seed = args.worker
        print(json.dumps(worker(name, int(n), int(d), int(seed))))
        return 0
    try:
        import skada  # noqa: F401

        peers = PEERS
    except ImportError:
        peers = []
        print("skada not installed: peers skipped")
    methods = args.methods or OURS + peers
    rows = []
    t_all = time.perf_counter()
    for n in args.sizes:
        for name in methods:
            limit, why = LIMITS.get(name, (None, ""))
            if limit is not None and n > limit:
                rows.append({"name": name, "n": n, "note": f"skipped: {why}"})
            else:
                rows.append(run_case(name, n, args.d, args.seed, args.timeout))
            print(json.dumps(rows[-1]), flush=True)
    total = time.perf_counter() - t_all
    by = {(r["name"], r["n"]): r for r in rows}
    lines = [
        provenance(command_line(__file__, argv), seconds=total),
        "",
        f"- Machine: {machine_info()} (shared with other jobs).",
        "",
        "Every row is the strategy **with its defaults** (what `Strategy().fit(source, "
        "target)` gives, `flatten='auto'` tempering included: no estimator is passed, so "
        "the exponent is chosen by IWCV of the Ridge probe) unless the `settings` column "
        "says otherwise. `flatten_`: the tempering exponent chosen; ESS: effective sample "
        "size of `weights_` (untempered in brackets). The KMM objective is that of the raw "
        "QP solution (before tempering).",
        "",
        "Gaussian covariate shift, regression (`make_gaussian_shift(task='regression', "
        "shift=1, scale=0.8)`), seed "
        f"{args.seed}. Fit time: wall clock of `fit` in a fresh subprocess. Peak memory: "
        "`ru_maxrss` of that subprocess (whole process, includes the Python/torch baseline "
        "shown in 'RSS before fit'). Target MSE of `LinearRegression` trained on the source "
        "with the weights (unweighted MSE alongside). KMM objective: "
        "`0.5 w'Kw - kappa'w` (lower is better) with one shared median-heuristic bandwidth. "
        "",
        "| strategy | settings | n | fit (s) | peak RSS (MB) | RSS before fit (MB) | "
        "flatten_ | ESS (untempered) | target MSE weighted | unweighted | KMM objective | "
        "iters | note |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        ess = _fmt(r.get("ess"), ".0f")
        if r.get("ess_untempered") is not None:
            ess += f" ({r['ess_untempered']:.0f})"
        iters = f"{r.get('n_iter', '')}" + (f" {r['solver']}" if r.get("solver") else "")
        lines.append(
            f"| {r['name']} | {SETTINGS.get(r['name'], 'defaults')} | {r['n']} | "
            f"{_fmt(r.get('fit_s'), '.2f')} | "
            f"{_fmt(r.get('maxrss_mb'), '.0f')} | {_fmt(r.get('rss_before_fit_mb'), '.0f')} | "
            f"{_fmt(r.get('flatten'), 'g')} | {ess} | {_fmt(r.get('mse_weighted'), '.4f')} | "
            f"{_fmt(r.get('mse_unweighted'), '.4f')} | {_fmt(r.get('objective'), '.6g')} | "
            f"{iters} | {r.get('note', '')} |"
        )
    lines += [
        "",
        "Notes:",
        "",
        "- Until the 'defaults that never hurt' change this table reported `kmm-fista` at "
        "n=8000 as 1.70 s: FISTA stopped at 20 iterations (the `kmm-paper-fista20` row), not "
        "what `KMM()` did by default (B=1000, max_iter=1000: 135 s and an effective sample "
        "size of 49 of 8000 in the issue's measurement). `KMM()` now defaults to B=2 and "
        "eps=B/sqrt(n), with which FISTA stops on its own `tol` after a few dozen iterations.",
        "- `flatten_` is chosen per fit by importance-weighted cross-validation with the "
        "one-standard-error rule: it keeps the smallest exponent that is not demonstrably "
        "worse than the best. Where the IWCV estimate is noisy it returns 0 (uniform weights, "
        "the unweighted MSE) even when the untempered weights would have helped; with more "
        "rows the estimate sharpens and the exponent grows.",
        "- Peer rows (skada) appear only when skada is installed; their KMM solves the "
        "paper's QP (B=1000), so they are compared with `kmm-paper-*`.",
    ]
    ratios = []
    for n in args.sizes:
        # skada solves the paper's QP (B=1000): compare it with ours on the same QP
        ours = [by.get((k, n)) for k in ("kmm-paper-qp", "kmm-paper-fista20")]
        peer = by.get(("skada-kmm", n))
        if peer and "fit_s" in peer:
            for o in ours:
                if o and "fit_s" in o:
                    rel = (o["objective"] - peer["objective"]) / abs(peer["objective"])
                    ratios.append(
                        f"- n={n}: skada KMM fit time / {o['name']} fit time = "
                        f"{peer['fit_s'] / o['fit_s']:.1f}x; objective {o['name']} vs skada: "
                        f"{rel:+.2e} (relative; negative = ours lower/better)"
                    )
        for mine, theirs in (("kliep", "skada-kliep"), ("classifier_ratio", "skada-discriminator")):
            a, b = by.get((mine, n)), by.get((theirs, n))
            if a and b and "fit_s" in a and "fit_s" in b:
                ratios.append(
                    f"- n={n}: {theirs} fit time / {mine} fit time = {b['fit_s'] / a['fit_s']:.1f}x"
                )
    if ratios:
        lines += ["", "Ratios against skada (same data, same run):", ""] + ratios
    print(write_report(args.out, f"Instance-based strategies: n_s = n_t, d = {args.d}", lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
