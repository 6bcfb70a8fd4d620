"""The automatic choice (``AutoAdapter``) against no adaptation and the oracle-best strategy.

Protocol, per task and seed (tasks of ``domainadapt.benchmarks``, each with its own
downstream classifier, logistic regression everywhere):

* every strategy of the default portfolio (``AutoAdapter``'s candidates) is fitted
  with its defaults on all source rows + the unlabelled target and scored on the
  target labels: the single strategies, among them no adaptation;
* ``AutoAdapter(estimator=..., random_state=seed)`` with its defaults is fitted on
  the same data; it never sees a target label. Its target accuracy, the candidate it
  ranked first and the committee that voted (``committee_``) are recorded;
* for the candidates ``AutoAdapter`` fitted on its training part of the source,
  every scorer of ``get_scorers()`` is computed on the held-out source rows + the
  target rows, and compared (Spearman) with those candidates' true target
  accuracy. ``ensemble`` is ``AutoAdapter``'s own criterion (mean rank over its
  scorers).

The per-collection table compares the automatic choice's mean with no adaptation's
and with the oracle-best single strategy's mean (the one strategy with the best
mean over the collection, chosen with the target labels).

Usage::

    DOMAINADAPT_DATA=/path/to/data python benchmarks/auto.py [--groups ...] [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import csv
import time
import warnings
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
from _auto_rules import format_rules
from _common import command_line, machine_info, provenance
from scipy.stats import norm, spearmanr

from domainadapt import Domain
from domainadapt.benchmarks import get_tasks
from domainadapt.benchmarks.__main__ import _available_groups
from domainadapt.registry import get_adapter
from domainadapt.selection import AutoAdapter, get_scorers
from domainadapt.selection._search import _ensemble_agreement
from domainadapt.selection.auto import DEFAULT_PORTFOLIO, DEFAULT_SCORERS

RESULTS = Path(__file__).parent / "results" / "auto.md"
FIGURE = Path(__file__).parent.parent / "docs" / "_static" / "auto.png"


def _quiet_fit(model, source, target):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(source, target)


def run_one(task, seed: int, scorer_names: list[str]):
    """Returns (single-strategy rows, the auto row, {scorer: spearman rho}, per-candidate rows).

    The per-candidate rows hold every scorer's value and the true target accuracy of each
    candidate AutoAdapter fitted, so that other combinations of scorers can be compared
    later on the same fits (``*.scores.csv``).
    """
    source, target = task.load(seed)
    unlabelled = Domain(target.X, name=target.name)
    singles = []
    for name in DEFAULT_PORTFOLIO:
        start = time.perf_counter()
        try:
            model = _quiet_fit(get_adapter(name).make(task.make_estimator(), seed), source,
                               unlabelled)
            acc = float(model.score(target.X, target.y))
            err = ""
        except Exception as exc:  # keep the other results
            acc, err = float("nan"), f"{type(exc).__name__}: {exc}"
        singles.append({"task": task.name, "group": task.group, "seed": seed, "method": name,
                        "accuracy": acc, "seconds": time.perf_counter() - start, "error": err})
    start = time.perf_counter()
    auto = _quiet_fit(AutoAdapter(estimator=task.make_estimator(), random_state=seed), source,
                      unlabelled)
    auto_row = {"task": task.name, "group": task.group, "seed": seed, "method": "auto",
                "accuracy": float(auto.score(target.X, target.y)),
                "seconds": time.perf_counter() - start, "picked": auto.best_name_,
                "ranked_first": auto.ranking_[0], "vetoed": auto.guard_vetoed_,
                "committee": "+".join(auto.committee_), "error": ""}
    # scorers' rank correlation over the candidates AutoAdapter fitted and scored
    val = auto.validation_index_
    X_val = np.concatenate([source.X[val], target.X])
    y_val = np.concatenate([source.y[val], np.full(len(target.X), source.y[0])])
    sd_val = np.array(["source"] * len(val) + ["target"] * len(target.X))
    names = list(auto.candidates_)
    true_acc = np.array([auto.candidates_[n].score(target.X, target.y) for n in names])
    res = auto.cv_results_
    index = {c: i for i, c in enumerate(res["candidate"])}
    scorers = get_scorers()
    rhos = {}
    per_candidate = [{"task": task.name, "seed": seed, "candidate": n,
                      "target_accuracy": float(a)} for n, a in zip(names, true_acc)]
    for s in scorer_names:
        if f"score_{s}" in res:
            values = np.array([res[f"score_{s}"][index[n]] for n in names])
        else:
            values = []
            for n in names:
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        values.append(scorers[s](auto.candidates_[n], X_val, y_val,
                                                 sample_domain=sd_val))
                except Exception:
                    values.append(np.nan)
            values = np.array(values, dtype=float)
        for row, v in zip(per_candidate, values):
            row[s] = float(v)
        ok = np.isfinite(values)
        rhos[s] = (float(spearmanr(values[ok], true_acc[ok])[0])
                   if ok.sum() > 2 and np.ptp(true_acc[ok]) > 0 else float("nan"))
    if "score_ensv" in res:
        ensv = {n: float(res["score_ensv"][index[n]]) for n in names}
    else:  # not among the default scorers: computed over the same fitted candidates
        ensv = {n: float(v.mean()) for n, v in
                _ensemble_agreement(auto.candidates_, target.X).items()}
    ens = np.array([res["mean_rank"][index[n]] for n in names])
    rhos["ensemble"] = float(spearmanr(ens, true_acc)[0]) if np.ptp(true_acc) > 0 else np.nan
    for row, v, n in zip(per_candidate, ens, names):
        row["ensemble"] = float(v)
        row["ensv"] = ensv[n]
        row["guard_z"] = float(res["guard_z"][index[n]])
    return singles, auto_row, rhos, per_candidate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    found, _ = _available_groups(None)
    parser.add_argument("--groups", nargs="+", default=None,
                        help=f"task groups (default: every one whose data is here: {found}, "
                             "office-caltech-full included when office-caltech is)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--tasks", nargs="+", default=None, help="only these task names")
    parser.add_argument("--output", default=str(RESULTS))
    parser.add_argument("--from-csv", nargs="+", default=None, metavar="CSV",
                        help="only rebuild the report (and figure) from the .csv files of earlier "
                             "runs (each with its .rho.csv beside it), e.g. of runs split by group")
    parser.add_argument("--figure", default=str(FIGURE),
                        help="PNG written when matplotlib is installed ('' for none)")
    args = parser.parse_args()
    if args.from_csv:
        rebuild(args)
        return
    groups = args.groups or found
    tasks = [t for t in get_tasks(groups) if args.tasks is None or t.name in args.tasks]
    scorer_names = list(get_scorers())
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    csv_path = out.with_suffix(".csv")
    start = time.perf_counter()
    rows: list[dict] = []
    rho_rows: list[dict] = []
    fields = ["task", "group", "seed", "method", "accuracy", "seconds", "picked", "ranked_first",
              "vetoed", "committee", "error"]
    rho_path = out.with_suffix(".rho.csv")
    scores_path = out.with_suffix(".scores.csv")
    with open(csv_path, "w", newline="") as handle, open(rho_path, "w", newline="") as rho_file, \
            open(scores_path, "w", newline="") as scores_file:
        scores_writer = csv.DictWriter(scores_file, fieldnames=[
            "task", "seed", "candidate", "target_accuracy", *scorer_names, "ensv", "ensemble",
            "guard_z"])
        scores_writer.writeheader()
        writer = csv.DictWriter(handle, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        rho_writer = csv.DictWriter(rho_file, fieldnames=["task", "seed", *scorer_names,
                                                           "ensemble"])
        rho_writer.writeheader()
        for task in tasks:
            for seed in args.seeds:
                t0 = time.perf_counter()
                singles, auto_row, rhos, per_candidate = run_one(task, seed, scorer_names)
                scores_writer.writerows(per_candidate)
                scores_file.flush()
                for r in [*singles, auto_row]:
                    writer.writerow(r)
                    rows.append(r)
                handle.flush()
                rho_rows.append({"task": task.name, "seed": seed, **rhos})
                rho_writer.writerow(rho_rows[-1])
                rho_file.flush()
                print(f"{task.name} seed {seed}: auto {100 * auto_row['accuracy']:.1f} "
                      f"({auto_row['picked']}) vs no adaptation "
                      f"{100 * singles[0]['accuracy']:.1f}; {time.perf_counter() - t0:.0f} s",
                      flush=True)
    seconds = time.perf_counter() - start
    out.write_text(format_report(rows, rho_rows, tasks, args.seeds, seconds, scorer_names)
                   + rules_section([scores_path]))
    if args.figure:
        plot(rows, tasks, args.figure)
    print(out.read_text())


def rebuild(args) -> None:
    """The report and figure from the CSV files of earlier runs."""
    rows, rho_rows = [], []
    for path in args.from_csv:
        path = Path(path)
        with open(path) as handle:
            for r in csv.DictReader(handle):
                r["accuracy"] = float(r["accuracy"])
                r["seed"] = int(r["seed"])
                r["vetoed"] = r.get("vetoed") == "True"
                rows.append(r)
        with open(path.with_suffix(".rho.csv")) as handle:
            for r in csv.DictReader(handle):
                rho_rows.append({k: (v if k == "task" else float(v)) for k, v in r.items()})
    names = {r["task"] for r in rows}
    tasks = [t for t in get_tasks() if t.name in names]
    seeds = sorted({r["seed"] for r in rows})
    scorer_names = [k for k in rho_rows[0] if k not in ("task", "seed", "ensemble")]
    seconds = sum(float(r["seconds"]) for r in rows)
    out = Path(args.output)
    out.write_text(format_report(rows, rho_rows, tasks, seeds, seconds, scorer_names,
                                 measured="sum of the fit times of the runs")
                   + rules_section([Path(p).with_suffix(".scores.csv") for p in args.from_csv]))
    if args.figure:
        plot(rows, tasks, args.figure)
    print(out.read_text())


def rules_section(paths: list[Path]) -> str:
    """The replay of other selection rules (``_auto_rules``) on the runs' ``.scores.csv``."""
    score_rows = []
    for path in paths:
        if not Path(path).exists():
            return ""
        with open(path) as handle:
            score_rows += list(csv.DictReader(handle))
    if not score_rows:
        return ""
    group_of = {t.name: t.group for t in get_tasks()}
    z_needed = float(norm.ppf(AutoAdapter().guard_confidence))
    return "\n" + format_rules(score_rows, group_of, default_members=list(DEFAULT_SCORERS),
                               z_needed=z_needed,
                               previous_members=["reverse", "mixval", "ensv"])


def plot(rows, tasks, path) -> None:
    """Per collection: no adaptation, the automatic choice and the oracle-best single strategy."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no figure")
        return
    acc = defaultdict(list)
    for r in rows:
        acc[(r["task"], r["method"])].append(r["accuracy"])
    mean = {k: float(np.nanmean(v)) for k, v in acc.items()}
    groups = defaultdict(list)
    for t in tasks:
        if (t.name, "auto") in mean:
            groups[t.group].append(t.name)
    labels, na, auto, best, best_name = [], [], [], [], []
    for g, ts in groups.items():
        per = {m: np.mean([mean.get((t, m), np.nan) for t in ts]) for m in DEFAULT_PORTFOLIO}
        b = max(per, key=lambda m: -np.inf if np.isnan(per[m]) else per[m])
        labels.append(f"{g}\n({len(ts)} tasks)")
        na.append(100 * np.mean([mean[(t, "no_adaptation")] for t in ts]))
        auto.append(100 * np.mean([mean[(t, "auto")] for t in ts]))
        best.append(100 * per[b])
        best_name.append(b)
    x = np.arange(len(labels))
    fig, ax = plt.subplots(figsize=(1.6 * len(labels) + 2, 4))
    ax.bar(x - 0.27, na, 0.27, label="no adaptation", color="#9e9e9e")
    ax.bar(x, auto, 0.27, label="AutoAdapter (no target label)", color="#1f77b4")
    bars = ax.bar(x + 0.27, best, 0.27, label="best single strategy (oracle)", color="#ff7f0e")
    for bar, name in zip(bars, best_name):
        ax.annotate(name, (bar.get_x() + bar.get_width() / 2, bar.get_height()), fontsize=7,
                    rotation=90, ha="center", va="bottom", xytext=(0, 2),
                    textcoords="offset points")
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_ylabel("target accuracy (%), mean over tasks and seeds")
    ax.set_ylim(0, 130)
    ax.set_yticks(range(0, 101, 20))
    ax.legend(fontsize=8, loc="upper center", ncol=3, frameon=False)
    ax.set_title("Automatic choice of strategy vs no adaptation and the oracle-best strategy",
                 fontsize=10)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"written: {path}")


def format_report(rows, rho_rows, tasks, seeds, seconds, scorer_names,
                  measured: str = "") -> str:
    acc = defaultdict(list)
    picks = defaultdict(Counter)
    voters = defaultdict(Counter)
    vetoes = Counter()
    for r in rows:
        acc[(r["task"], r["method"])].append(r["accuracy"])
        if r["method"] == "auto":
            picks[r["task"]][r["picked"]] += 1
            for member in filter(None, (r.get("committee") or "").split("+")):
                voters[r["task"]][member] += 1
            vetoes[r["task"]] += int(bool(r["vetoed"]))
    mean = {k: float(np.nanmean(v)) for k, v in acc.items()}
    std = {k: float(np.nanstd(v)) for k, v in acc.items()}
    methods = list(DEFAULT_PORTFOLIO)
    task_names = [t.name for t in tasks if (t.name, "auto") in mean]
    group_of = {t.name: t.group for t in tasks}

    lines = [
        "# The automatic choice of strategy",
        "",
        provenance(command_line(__file__), seconds=seconds,
                   detail=f"(seeds {seeds}; {measured or 'wall time'})"),
        f"Machine: {machine_info()}. Every figure is a target accuracy (%) with the defaults: "
        "`AutoAdapter(estimator=LogisticRegression(max_iter=2000), random_state=seed)` and each "
        "portfolio strategy as registered. The automatic choice never reads a target label; "
        + ("it predicts by the majority vote of its best-ranked candidates (`committee_size=3`, "
           "the \"voters\" column)." if voters else "it keeps its best-ranked candidate."),
        "",
        "## Per task",
        "",
        "| task | no adaptation | auto | auto − no adapt. | ranked first (seeds) | "
        + ("voters (seeds) | " if voters else "")
        + "oracle: best single strategy on this task |",
        "|---|---|---|---|---|" + ("---|" if voters else "") + "---|",
    ]
    for t in task_names:
        na, au = mean[(t, "no_adaptation")], mean[(t, "auto")]
        best = max(methods, key=lambda m: mean.get((t, m), -np.inf))
        kept = ", ".join(f"{m} ×{n}" for m, n in picks[t].most_common())
        if vetoes[t]:
            kept += f" (guard veto ×{vetoes[t]})"
        lines.append(
            f"| {t} | {100 * na:.1f} ± {100 * std[(t, 'no_adaptation')]:.1f} | "
            f"{100 * au:.1f} ± {100 * std[(t, 'auto')]:.1f} | {100 * (au - na):+.1f} | {kept} | "
            + (", ".join(f"{m} ×{n}" for m, n in voters[t].most_common()) + " | " if voters else "")
            + f"{best} {100 * mean[(t, best)]:.1f} |"
        )
    lines += [
        "",
        "## Per collection",
        "",
        "Oracle-best single strategy: the portfolio strategy with the best mean accuracy over the "
        "collection's tasks (picked with the target labels). Goals: auto ≥ no adaptation − 0.5 "
        "on every task; auto's mean within 1.5 points of the oracle-best single strategy's mean.",
        "",
        "| collection | tasks | no adaptation | auto | oracle-best single strategy | auto − "
        "oracle | worst task: auto − no adapt. |",
        "|---|---|---|---|---|---|---|",
    ]
    groups = defaultdict(list)
    for t in task_names:
        groups[group_of[t]].append(t)
    all_auto, all_na, all_best = [], [], []
    for g, ts in groups.items():
        na = np.mean([mean[(t, "no_adaptation")] for t in ts])
        au = np.mean([mean[(t, "auto")] for t in ts])
        per_method = {m: np.mean([mean.get((t, m), np.nan) for t in ts]) for m in methods}
        best = max(per_method, key=lambda m: -np.inf if np.isnan(per_method[m]) else
                   per_method[m])
        worst = min(mean[(t, "auto")] - mean[(t, "no_adaptation")] for t in ts)
        all_auto.append(au * len(ts))
        all_na.append(na * len(ts))
        all_best.append(per_method[best] * len(ts))
        lines.append(f"| {g} | {len(ts)} | {100 * na:.1f} | {100 * au:.1f} | {best} "
                     f"{100 * per_method[best]:.1f} | {100 * (au - per_method[best]):+.1f} | "
                     f"{100 * worst:+.1f} |")
    n = len(task_names)
    lines.append(f"| **all** | {n} | {100 * sum(all_na) / n:.1f} | {100 * sum(all_auto) / n:.1f} "
                 f"| (per collection) {100 * sum(all_best) / n:.1f} | "
                 f"{100 * (sum(all_auto) - sum(all_best)) / n:+.1f} | |")
    # the other reading of the goal: one strategy for every task, picked with the labels
    overall = {m: np.mean([mean.get((t, m), np.nan) for t in task_names]) for m in methods}
    one = max(overall, key=lambda m: -np.inf if np.isnan(overall[m]) else overall[m])
    lines.append(f"| **all**, one strategy for every task | {n} | {100 * sum(all_na) / n:.1f} | "
                 f"{100 * sum(all_auto) / n:.1f} | {one} {100 * overall[one]:.1f} | "
                 f"{100 * (sum(all_auto) / n - overall[one]):+.1f} | |")

    lines += [
        "",
        "## Single strategies with their defaults (mean over seeds)",
        "",
        "| task | " + " | ".join(methods) + " |",
        "|" + "---|" * (len(methods) + 1),
    ]
    for t in task_names:
        lines.append(f"| {t} | " + " | ".join(
            f"{100 * mean.get((t, m), np.nan):.1f}" for m in methods) + " |")

    cols = [*scorer_names, "ensemble"]
    lines += [
        "",
        "## Scorers: Spearman rank correlation with target accuracy over the candidates",
        "",
        "Per task, mean over seeds of ρ between each scorer and the true target accuracy of the "
        "candidates `AutoAdapter` fitted (training part of the source; scores on the held-out "
        "source rows + target rows). `ensemble` is AutoAdapter's criterion (mean rank over its "
        "scorers). A small grid (the portfolio, about 9 candidates): see "
        "`benchmarks/results/selection.md` for the large one.",
        "",
        "| task | " + " | ".join(cols) + " |",
        "|" + "---|" * (len(cols) + 1),
    ]
    by_task = defaultdict(list)
    for r in rho_rows:
        by_task[r["task"]].append(r)
    task_means = []
    for t in task_names:
        vals = [np.nanmean([r[c] for r in by_task[t]]) for c in cols]
        task_means.append(vals)
        lines.append(f"| {t} | " + " | ".join(f"{v:+.2f}" for v in vals) + " |")
    lines.append("| **mean** | " + " | ".join(
        f"{v:+.2f}" for v in np.nanmean(np.array(task_means), axis=0)) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
