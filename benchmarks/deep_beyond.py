"""The deep strategies of tracker issue #14 on small synthetic shifts, each with its defaults.

Tasks (each seed draws new data; the generators are in ``domainadapt.datasets``):

* ``digits-rotation``: ``make_shifted_digits("rotation", random_state=seed)``, scikit-learn's
  8x8 digits split in two halves (898 source, 899 target), the target half rotated by 12°;
* ``moons-rotation``: ``make_rotated_moons(random_state=seed)``, two moons, 200 source and
  200 target points, the target rotated by 30°.

Methods: source only, DANN, CDAN, SHOT, TENT, MME with 1 and with 3 labelled target rows per
class, MCC, BNM, all from ``domainadapt.model`` with **their default settings** (default MLP,
``network=None``, default budget), only ``random_state=seed`` set. TENT's own source model (the
default MLP with batch normalisation, TENT's source stage, before adaptation) is reported on its
own row: it is the model TENT adapts. So is that model with its batch-norm statistics
re-estimated on the target rows and nothing trained (AdaBN, Li et al. 2017: TENT without its
entropy step), to show how much of TENT's gain is the target statistics alone.

Labelled target rows (MME only): with ``numpy.random.RandomState(seed)``, 3 target rows of each
class are drawn; MME-3 gets all of them, MME-1 the first of each class. Every other method sees
no target label. **Accuracy is measured on the target rows outside those 3 per class**, the same
rows for every method (transductive: these rows are the unlabelled target of ``fit``).

Usage::

    python benchmarks/deep_beyond.py                       # all tasks, methods, seeds 0 1 2
    python benchmarks/deep_beyond.py --tasks moons-rotation --methods tent --seeds 0
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from _common import command_line, machine_info, provenance, write_report
from _deep_common import adabn_predictor, mean_std, parse_log, run_grid

RESULTS = Path(__file__).resolve().parent / "results" / "deep_beyond_shifts.md"
TASKS = {
    "digits-rotation": "rotated digits (sklearn 8x8 digits, target rotated 12°, 898 / 899 rows)",
    "moons-rotation": "two moons (target rotated 30°, 200 / 200 points)",
}
METHODS = ("source_only", "dann", "cdan", "shot", "tent", "mme1", "mme3", "mcc", "bnm")
CLASSES = {
    "source_only": "SourceOnly",
    "dann": "DANN",
    "cdan": "CDAN",
    "shot": "SHOT",
    "tent": "TENT",
    "mme1": "MME",
    "mme3": "MME",
    "mcc": "MCC",
    "bnm": "BNM",
}
SHOTS = {"mme1": 1, "mme3": 3}
LABEL = {
    "source_only": "Source only",
    "dann": "DANN",
    "cdan": "CDAN",
    "shot": "SHOT (source-free stage)",
    "tent_source": "TENT's source model before adaptation (MLP with BatchNorm)",
    "tent_adabn": "TENT's source model, target BN statistics only (AdaBN, no entropy step)",
    "tent": "TENT",
    "mme1": "MME (1 labelled target row per class)",
    "mme3": "MME (3 labelled target rows per class)",
    "mcc": "MCC",
    "bnm": "BNM",
}
EXTRA_ROWS = {"tent": ("tent_source", "tent_adabn")}
LOG_LINE = (
    r"^(?P<task>[\w-]+) (?P<method>\w+)\s+seed (?P<seed>\d+): target acc (?P<acc>[\d.]+) %, "
    r"fit (?P<fit>[\d.]+|nan) s$"
)


def load_task(task: str, seed: int):
    from domainadapt.datasets import make_rotated_moons, make_shifted_digits

    if task == "digits-rotation":
        return make_shifted_digits("rotation", random_state=seed)
    if task == "moons-rotation":
        return make_rotated_moons(random_state=seed)
    raise ValueError(task)


def labelled_rows(y: np.ndarray, seed: int, shots: int = 3) -> np.ndarray:
    """``(n_classes, shots)`` target row indices, drawn per class with ``seed``."""
    rng = np.random.RandomState(seed)
    return np.array(
        [rng.choice(np.flatnonzero(y == c), shots, replace=False) for c in np.unique(y)]
    )


def run_one(method: str, task: str, seed: int, threads: int | None) -> dict:
    import torch

    from domainadapt import Domain
    from domainadapt import model as M

    source, target = load_task(task, seed)
    Xs, ys, Xt, yt = source.X, source.y, target.X, target.y
    rows = labelled_rows(yt, seed)
    scored = np.setdiff1d(np.arange(len(yt)), rows.ravel())
    adapter = getattr(M, CLASSES[method])(
        random_state=seed, n_threads=threads, progress=False, device="cpu"
    )
    t0 = time.perf_counter()
    if method in SHOTS:
        known = np.full(len(yt), -1, dtype=yt.dtype)
        given = rows[:, : SHOTS[method]].ravel()
        known[given] = yt[given]
        adapter.fit((Xs, ys), Domain(Xt, known))
    else:
        adapter.fit((Xs, ys), Xt)  # target labels never passed
    fit_s = time.perf_counter() - t0
    with torch.no_grad():
        out = {"acc": 100 * float(np.mean(adapter.predict(Xt[scored]) == yt[scored])),
               "fit_s": fit_s}
        if method == "tent":
            stage = adapter.source_model_
            out["extra"] = {
                "tent_source": {
                    "acc": 100 * float(np.mean(stage.predict(Xt[scored]) == yt[scored])),
                    "fit_s": float("nan"),
                },
                # statistics from all target rows, as TENT's own re-estimation after its steps
                "tent_adabn": {
                    "acc": 100 * float(np.mean(
                        adabn_predictor(stage, Xt, adapter.batch_size)(Xt)[scored] == yt[scored])),
                    "fit_s": float("nan"),
                },
            }
    return out


def _log_record(m) -> dict:
    """One run's result from a matched ``LOG_LINE``."""
    return {"acc": float(m["acc"]), "fit_s": float(m["fit"]), "seed": int(m["seed"])}


def _log_line(method: str, task: str, seed: int, r: dict) -> str:
    """The line printed for one run (``LOG_LINE`` reads it back)."""
    return f"{task} {method:12s} seed {seed}: target acc {r['acc']:.1f} %, fit {r['fit_s']:.1f} s"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--tasks", nargs="+", choices=list(TASKS), default=list(TASKS))
    ap.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--from-log", type=Path, default=None,
                    help="do not train: render the table from an earlier run's printed lines")
    ap.add_argument("--log-info", default="", help="with --from-log: how the logged run was made")
    a = ap.parse_args(argv)

    grid = run_grid(
        a.methods, a.tasks, a.seeds, run_one, (a.threads,),
        describe=_log_line,
        threads=a.threads,
        from_log=None if a.from_log is None
        else lambda: parse_log(a.from_log, LOG_LINE, "task", _log_record),
    )
    results, elapsed, load0, load1 = grid.results, grid.seconds, grid.load_start, grid.load_end

    shown = [m for method in a.methods for m in (*EXTRA_ROWS.get(method, ()), method)]
    base = {t: results.get(("source_only", t), []) for t in a.tasks}
    header = (
        "| method | " + " | ".join(a.tasks) + " | "
        + " | ".join(f"{t}: Δ vs source only" for t in a.tasks)
        + " | fit time per run (s) | settings (not the defaults) |"
    )
    table = [header, "|" + "---|" * (3 + 2 * len(a.tasks))]
    for method in shown:
        accs = [mean_std([r["acc"] for r in results.get((method, t), [])]) for t in a.tasks]
        deltas = []
        for t in a.tasks:
            mine, ref = results.get((method, t), []), base[t]
            if method == "source_only" or not mine or len(mine) != len(ref):
                deltas.append("-")
            else:  # per seed, the runs are in seed order in both lists
                d = [x["acc"] - y["acc"] for x, y in zip(mine, ref)]
                deltas.append(f"{np.mean(d):+.1f} (worst {min(d):+.1f})")
        times = [r["fit_s"] for t in a.tasks for r in results.get((method, t), [])
                 if not np.isnan(r["fit_s"])]
        tm = f"{np.median(times):.1f} (max {max(times):.1f})" if times else "-"
        if method in SHOTS:
            settings = f"{SHOTS[method]} labelled target row(s) per class"
        elif method == "tent_source":
            settings = "TENT's source stage (norm='batch'), fitted inside the TENT run"
        elif method == "tent_adabn":
            settings = ("TENT's source stage, BN statistics re-estimated on all target rows "
                        "(batches of 64), no parameter trained")
        else:
            settings = "defaults"
        table.append(f"| {LABEL[method]} | " + " | ".join(accs + deltas) + f" | {tm} | {settings} |")
    print()
    print("\n".join(table))

    command = command_line(__file__, argv)
    if a.from_log is not None:
        made = provenance(command, verb="Rendered",
                          detail=f"from the per-run lines of an earlier run: {a.log_info}")
        load_txt = ""
    else:
        made = provenance(command, seconds=elapsed, detail=f"({len(a.seeds)} seeds: {a.seeds})")
        load_txt = f" Load average at start / end: {load0[0]:.1f} / {load1[0]:.1f}."
    write_report(
        a.out,
        "Deep strategies of #14 on small shifts (default MLP, each method's defaults)",
        [
            made,
            "",
            f"- Machine: {machine_info('cpu')}; device `cpu`; one run at a time, "
            f"{a.threads} torch thread(s).{load_txt} The machine is shared: wall times are "
            "noisy.",
            "- Tasks: " + "; ".join(f"`{t}`: {TASKS[t]}" for t in a.tasks) + ". New draw per seed.",
            "- Every method with its defaults (`network=None`: the default MLP, "
            "`hidden_sizes=(64, 64)`, its default budget, Adam lr 1e-3, batch 64), only "
            "`random_state=seed`. TENT: `norm='batch'` (its default MLP with BatchNorm), source "
            "stage then `adapt_epochs=1`.",
            "- MME: 3 target rows per class drawn with `RandomState(seed)`; MME-3 gets them, "
            "MME-1 the first of each class; no other method sees a target label. Accuracy on the "
            "target rows outside those 3 per class (the same rows for every method); these rows "
            "are the unlabelled target of `fit` (transductive).",
            "- Δ vs source only: per seed (same draw), mean and worst over the seeds.",
            "",
            "## Target accuracy (%), mean ± std over seeds",
            "",
            *table,
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
