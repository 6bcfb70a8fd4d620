"""How many of AutoAdapter's best-ranked candidates should predict, and how to combine them.

``AutoAdapter`` ranks its candidates on models fitted to part of the source, then refits
what it keeps on all of it. This script replays other ways of turning the ranking into
predictions, on every task and seed of ``benchmarks/auto.py``'s runs:

* the ranking of each task and seed is read from the run's ``.scores.csv`` (the
  ``ensemble`` column: AutoAdapter's mean rank over its scorers, from the training part
  of the source; no target label involved);
* every ranked candidate is fitted again on all source rows + the unlabelled target,
  exactly as ``auto.py``'s single-strategy rows (``get_adapter(name).make(estimator,
  seed)``), and its target predictions and probabilities are kept;
* each rule is then scored with the target labels: keep the best-ranked alone, the
  majority vote of the best ``k`` (ties: the best-ranked member voting for a tied label,
  :func:`domainadapt.selection.auto.majority_vote`), or the argmax of the best ``k``'s
  mean probabilities.

The guard is not replayed: with the default scorers it vetoed no best-ranked candidate
in these runs (the ``vetoed`` column of the ``.csv`` files), so every rule starts from the
same ranking. The choice of ``k`` is also judged leave one collection out (``k`` chosen by
mean accuracy on the other collections, applied to the held-out one).

Usage::

    DOMAINADAPT_DATA=/path/to/data python benchmarks/auto_committee.py \\
        --scores benchmarks/results/auto_runs/*.scores.csv --jobs 2
"""

from __future__ import annotations

import argparse
import csv
import time
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np
from _common import command_line, machine_info, provenance

from domainadapt import Domain
from domainadapt.benchmarks import get_tasks
from domainadapt.registry import get_adapter
from domainadapt.selection.auto import classes_of, majority_vote

RESULTS = Path(__file__).parent / "results" / "auto_committee.md"
BASELINE = "no_adaptation"
VOTE_SIZES = (1, 2, 3, 4, 5, 7)
AVERAGE_SIZES = (2, 3)


def _rankings(paths: list[str]) -> dict[tuple[str, int], list[str]]:
    """(task, seed) -> the candidates AutoAdapter fitted, best-ranked first."""
    values = defaultdict(dict)
    for path in paths:
        with open(path, newline="") as handle:
            for r in csv.DictReader(handle):
                values[(r["task"], int(r["seed"]))][r["candidate"]] = float(r["ensemble"])
    return {key: sorted(v, key=lambda n: -v[n]) for key, v in values.items()}


def _fit_task(task, seed: int, order: list[str]) -> dict:
    """Each ranked candidate refitted on all the source; the rules' target accuracies."""
    source, target = task.load(seed)
    unlabelled = Domain(target.X, name=target.name)
    labels = np.unique(source.y)
    preds, probas = {}, {}
    for name in order:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = get_adapter(name).make(task.make_estimator(), seed).fit(source, unlabelled)
        preds[name] = model.predict(target.X)
        proba = np.zeros((len(target.X), len(labels)))
        proba[:, np.searchsorted(labels, classes_of(model))] = model.predict_proba(target.X)
        probas[name] = proba
    out = {"task": task.name, "group": task.group, "seed": seed,
           "no_adaptation": float(np.mean(preds[BASELINE] == target.y)),
           "singles": {n: float(np.mean(p == target.y)) for n, p in preds.items()}}
    for k in VOTE_SIZES:
        vote = majority_vote([preds[n] for n in order[:k]])
        out[f"vote {k}"] = float(np.mean(vote == target.y))
    for k in AVERAGE_SIZES:
        mean = np.mean([probas[n] for n in order[:k]], axis=0)
        out[f"mean probability {k}"] = float(np.mean(labels[mean.argmax(axis=1)] == target.y))
    return out


def _summary(results: list[dict], rule: str, tasks: list[str], group_of: dict) -> dict:
    acc = defaultdict(list)
    na = defaultdict(list)
    for r in results:
        acc[r["task"]].append(100 * r[rule])
        na[r["task"]].append(100 * r["no_adaptation"])
    gain = {t: np.mean(acc[t]) - np.mean(na[t]) for t in tasks}
    by_group = defaultdict(list)
    for t in tasks:
        by_group[group_of[t]].append(np.mean(acc[t]))
    return {"mean": float(np.mean([np.mean(acc[t]) for t in tasks])), "gain": gain,
            "group_mean": {g: float(np.mean(v)) for g, v in by_group.items()}}


def _oracle(results: list[dict], tasks: list[str], group_of: dict) -> dict[str, tuple]:
    """Per collection: the single strategy with the best mean (with the target labels)."""
    acc = defaultdict(list)
    for r in results:
        for n, a in r["singles"].items():
            acc[(r["task"], n)].append(100 * a)
    out = {}
    for g in sorted(set(group_of[t] for t in tasks)):
        ts = [t for t in tasks if group_of[t] == g]
        names = {n for (t, n) in acc if t in ts}
        means = {n: np.mean([np.mean(acc[(t, n)]) if (t, n) in acc else np.nan for t in ts])
                 for n in names}
        best = max((n for n in means if np.isfinite(means[n])), key=means.get)
        out[g] = (best, float(means[best]))
    return out


def format_report(results: list[dict], seconds: float, paths: list[str]) -> str:
    tasks = list(dict.fromkeys(r["task"] for r in results))
    group_of = {r["task"]: r["group"] for r in results}
    groups = sorted(set(group_of.values()))
    rules = [f"vote {k}" for k in VOTE_SIZES] + [f"mean probability {k}" for k in AVERAGE_SIZES]
    oracle = _oracle(results, tasks, group_of)
    summaries = {rule: _summary(results, rule, tasks, group_of) for rule in rules}
    seeds = sorted({r["seed"] for r in results})
    lines = [
        "# AutoAdapter: how many best-ranked candidates predict",
        "",
        provenance(command_line(__file__), seconds=seconds, detail=f"(seeds {seeds})"),
        f"Machine: {machine_info()}. Rankings read from "
        + ", ".join(f"`{Path(p).name}`" for p in paths)
        + f" ({len(tasks)} tasks); every ranked candidate refitted on all the source with its "
        "defaults and `LogisticRegression(max_iter=2000)`, as `auto.py`'s single-strategy rows. "
        "`vote k`: majority vote of the best `k` (ties: the best-ranked); `vote 1` keeps the "
        "best alone; `mean probability k`: argmax of their mean probabilities. Target accuracy "
        "(%), mean over seeds, then over tasks.",
        "",
        "| rule | mean | tasks below no adaptation − 0.5 | worst task (points vs no adaptation) | "
        + " | ".join(f"{g} − oracle" for g in groups) + " |",
        "|---|---|---|---|" + "---|" * len(groups),
    ]
    for rule in rules:
        s = summaries[rule]
        worst = min(s["gain"], key=s["gain"].get)
        below = sum(v < -0.5 for v in s["gain"].values())
        cells = [f"{s['group_mean'][g] - oracle[g][1]:+.1f}" for g in groups]
        lines.append(f"| {rule} | {s['mean']:.2f} | {below} | {worst} {s['gain'][worst]:+.1f} | "
                     + " | ".join(cells) + " |")
    lines += [
        "",
        "Oracle-best single strategy per collection (chosen with the target labels): "
        + "; ".join(f"{g} {oracle[g][0]} {oracle[g][1]:.1f}" for g in groups) + ".",
        "",
        "## Leave one collection out",
        "",
        "`k` of the majority vote chosen by mean accuracy over the other collections' tasks, "
        "then applied to the held-out collection.",
        "",
        "| held-out collection | k chosen | its mean | vote 1's mean |",
        "|---|---|---|---|",
    ]
    for g in groups:
        others = [t for t in tasks if group_of[t] != g]
        mine = [t for t in tasks if group_of[t] == g]

        def mean_over(rule, ts):
            return float(np.mean([np.mean([100 * r[rule] for r in results if r["task"] == t])
                                  for t in ts]))
        k = max(VOTE_SIZES, key=lambda k: mean_over(f"vote {k}", others))
        lines.append(f"| {g} | {k} | {mean_over(f'vote {k}', mine):.1f} | "
                     f"{mean_over('vote 1', mine):.1f} |")
    lines += ["", "## Per task (vote 1 and vote 3)", "",
              "| task | no adaptation | vote 1 | vote 3 |", "|---|---|---|---|"]
    def task_mean(rule: str, task: str) -> float:
        return float(np.mean([100 * r[rule] for r in results if r["task"] == task]))

    for t in tasks:
        cells = " | ".join(f"{task_mean(rule, t):.1f}" for rule in ("no_adaptation", "vote 1",
                                                                      "vote 3"))
        lines.append(f"| {t} | {cells} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    from joblib import Parallel, delayed

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scores", nargs="+", required=True,
                        help="the .scores.csv files of benchmarks/auto.py runs")
    parser.add_argument("--jobs", type=int, default=1, help="tasks fitted in parallel")
    parser.add_argument("--output", default=str(RESULTS))
    args = parser.parse_args()
    rankings = _rankings(args.scores)
    names = {task for task, _ in rankings}
    tasks = {t.name: t for t in get_tasks() if t.name in names}
    missing = names - set(tasks)
    if missing:
        raise SystemExit(f"tasks of the scores files not found (data missing?): {sorted(missing)}")
    start = time.perf_counter()
    jobs = [delayed(_fit_task)(tasks[name], seed, order)
            for (name, seed), order in rankings.items()]
    results = Parallel(n_jobs=args.jobs, verbose=5)(jobs)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(format_report(results, time.perf_counter() - start, args.scores))
    print(out.read_text())


if __name__ == "__main__":
    main()
