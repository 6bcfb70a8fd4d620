"""The toolkit's main job: every registered strategy on benchmark tasks, several seeds.

``python -m domainadapt.benchmarks`` (or the ``domainadapt`` command) runs it. A
*task* is a (source, target) pair and the downstream classifier to use; a
*strategy* comes from :mod:`domainadapt.registry`. New strategies and tasks join
by registering themselves (:func:`domainadapt.registry.register`,
:func:`register_task`); the runner is never edited.

Each strategy is compared with its own family's baseline (:func:`family_baseline`):
a shallow strategy (instance, feature, relation or model-based, fitting the task's
estimator) with ``no_adaptation`` (that estimator on the source alone), a deep one
(a :class:`~domainadapt.training.DeepAdapter`: DANN, CDAN, DAN, JAN, Deep CORAL, MCD,
fine-tuning, CAN, RKD, ...) with ``source_only`` (the same default network trained on
the labelled source alone), so a gain is the adaptation's, not the model's.
"""

from __future__ import annotations

import csv
import time
import traceback
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._domain import Domain
from ..registry import AdapterEntry, get_adapters

__all__ = [
    "BenchmarkTask",
    "register_task",
    "get_tasks",
    "run_benchmark",
    "summarise",
    "format_markdown",
    "format_collections",
    "family_baseline",
    "with_baselines",
    "NO_ADAPTATION",
    "SOURCE_ONLY",
]

#: The baseline of the shallow strategies: the task's downstream estimator on the source alone.
NO_ADAPTATION = "no_adaptation"
#: The baseline of the deep strategies: the same default network trained on the source alone.
SOURCE_ONLY = "source_only"


@dataclass(frozen=True)
class BenchmarkTask:
    """One benchmark task.

    Attributes
    ----------
    name : str
        Row name in tables, e.g. ``"digits rotation 12°"`` or ``"office A→W"``.
    load : callable
        ``load(seed) -> (source, target)``; the target ``Domain`` carries its
        true labels, used for scoring only (strategies are fitted on ``target.X``).
    make_estimator : callable
        ``make_estimator() -> classifier`` accepting ``sample_weight``.
    protocol : str
        One line on data, preprocessing and classifier, printed under the table.
    needs_data : bool
        Reads files from the data directory (skipped when they are absent).
    group : str
        Tasks of a group are selected together on the command line.
    """

    name: str
    load: Callable[[int], tuple[Domain, Domain]]
    make_estimator: Callable[[], Any]
    protocol: str
    needs_data: bool = False
    group: str = "default"


_TASKS: dict[str, BenchmarkTask] = {}


def register_task(task: BenchmarkTask) -> BenchmarkTask:
    """Add a task to the runner (replacing one of the same name)."""
    _TASKS[task.name] = task
    return task


def get_tasks(groups: Iterable[str] | None = None) -> list[BenchmarkTask]:
    """Registered tasks, optionally only those of the given groups."""
    from . import _tasks  # noqa: F401  (registers the built-in tasks)

    groups = None if groups is None else set(groups)
    return [t for t in _TASKS.values() if groups is None or t.group in groups]


def _evaluate(entry: AdapterEntry, task: BenchmarkTask, source: Domain, target: Domain,
              seed: int) -> dict[str, Any]:
    row: dict[str, Any] = {
        "task": task.name,
        "method": entry.name,
        "family": entry.family,
        "seed": seed,
    }
    start = time.perf_counter()
    try:
        adapter = entry.make(task.make_estimator(), seed)
        unlabelled = Domain(target.X, name=target.name)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            adapter.fit(source, unlabelled)
        # keep the gist ("... almost perfectly", "... effective sample size ...")
        messages = {str(w.message).split(";")[0].split(" (")[0].split(" is ")[0]
                    for w in caught if issubclass(w.category, UserWarning)}
        row["warnings"] = " | ".join(sorted(messages))
        row["fit_seconds"] = time.perf_counter() - start
        row["accuracy"] = float(adapter.score(target.X, target.y))
        row["error"] = ""
    except Exception as exc:  # one failure must not lose the other results
        row["fit_seconds"] = time.perf_counter() - start
        row["accuracy"] = float("nan")
        row["error"] = f"{type(exc).__name__}: {exc}"
        row["warnings"] = ""
        row["traceback"] = traceback.format_exc()
    return row


def run_benchmark(
    tasks: list[BenchmarkTask],
    methods: list[AdapterEntry] | None = None,
    seeds: Iterable[int] = (0, 1, 2),
    *,
    csv_path: str | Path | None = None,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Fit every method on every task and seed; return one row per run.

    Rows are appended to ``csv_path`` as they finish, so an interrupted run
    keeps what it measured.
    """
    from tqdm.auto import tqdm

    methods = get_adapters(benchmark=True) if methods is None else methods
    seeds = list(seeds)
    rows: list[dict[str, Any]] = []
    fields = ["task", "method", "family", "seed", "accuracy", "fit_seconds", "error", "warnings"]
    writer = None
    handle = None
    if csv_path is not None:
        Path(csv_path).parent.mkdir(parents=True, exist_ok=True)
        handle = open(csv_path, "w", newline="")  # noqa: SIM115
        writer = csv.DictWriter(handle, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
    total = len(tasks) * len(seeds) * len(methods)
    bar = tqdm(total=total, disable=not progress, desc="benchmark", unit="fit")
    try:
        for task in tasks:
            for seed in seeds:
                source, target = task.load(seed)
                for entry in methods:
                    bar.set_postfix_str(f"{task.name} | {entry.name} | seed {seed}")
                    row = _evaluate(entry, task, source, target, seed)
                    rows.append(row)
                    if writer is not None:
                        writer.writerow(row)
                        handle.flush()
                    bar.update()
    finally:
        bar.close()
        if handle is not None:
            handle.close()
    return rows


def _is_deep(entry: AdapterEntry) -> bool:
    """The strategy trains a network of its own (a ``DeepAdapter``); building it is cheap."""
    from ..training import DeepAdapter

    try:
        return isinstance(entry.make(), DeepAdapter)
    except Exception:  # a strategy that cannot even be built counts as shallow
        return False


def family_baseline(entry: AdapterEntry) -> str | None:
    """Name of the baseline ``entry`` is compared with; ``None`` for a baseline itself.

    ``"source_only"`` for a deep strategy (a :class:`~domainadapt.training.DeepAdapter`,
    whatever its registry family: DANN, CDAN, MCD, DAN, JAN, Deep CORAL, fine-tuning,
    CAN, RKD, ...), the same default network trained on the labelled source only;
    ``"no_adaptation"`` for every other strategy, the task's downstream estimator
    trained on the source only.
    """
    if entry.name in (NO_ADAPTATION, SOURCE_ONLY):
        return None
    return SOURCE_ONLY if _is_deep(entry) else NO_ADAPTATION


def with_baselines(methods: list[AdapterEntry]) -> tuple[list[AdapterEntry], list[str]]:
    """``methods`` with the baselines they are compared with prepended when missing.

    Returns the completed list and the names added (to say so in the output).
    """
    have = {m.name for m in methods}
    needed = {family_baseline(m) for m in methods} - {None}
    added = [name for name in (NO_ADAPTATION, SOURCE_ONLY) if name in needed and name not in have]
    if not added:
        return list(methods), []
    registered = {m.name: m for m in get_adapters()}
    return [registered[name] for name in added] + list(methods), added


def _baselines(methods: list[AdapterEntry], baseline: str | None) -> dict[str, str | None]:
    """``{method: the baseline it is compared with}``; one ``baseline`` for all when given."""
    if baseline is not None:
        return {m.name: (None if m.name == baseline else baseline) for m in methods}
    return {m.name: family_baseline(m) for m in methods}


def summarise(rows: list[dict[str, Any]]) -> dict[tuple[str, str], tuple[float, float, int]]:
    """``{(task, method): (mean, std, n_runs)}`` of the accuracy over seeds (failed runs excluded)."""
    groups: dict[tuple[str, str], list[float]] = {}
    for row in rows:
        groups.setdefault((row["task"], row["method"]), []).append(row["accuracy"])
    out = {}
    for key, values in groups.items():
        ok = [v for v in values if np.isfinite(v)]
        mean = float(np.mean(ok)) if ok else float("nan")
        std = float(np.std(ok)) if ok else float("nan")
        out[key] = (mean, std, len(ok))
    return out


def _gain(stats: dict, task: str, name: str, base: str | None) -> float:
    """Points of mean accuracy over the baseline's on ``task`` (nan when either is missing)."""
    if base is None:
        return float("nan")
    mean = stats.get((task, name), (float("nan"),))[0]
    reference = stats.get((task, base), (float("nan"),))[0]
    return 100 * (mean - reference)


def format_markdown(rows: list[dict[str, Any]], tasks: list[BenchmarkTask],
                    methods: list[AdapterEntry], baseline: str | None = None) -> str:
    """Markdown table: target accuracy (%) mean ± std over seeds, one row per method.

    In brackets, the gain in points over the baseline named in the row's "compared
    with" column: by default each method's family baseline (:func:`family_baseline`);
    ``baseline`` compares every method with that one instead. The last column is the
    mean accuracy over the tasks and, in brackets, the mean gain.
    """
    stats = summarise(rows)
    bases = _baselines(methods, baseline)
    task_names = [t.name for t in tasks if any(r["task"] == t.name for r in rows)]
    header = ["strategy", "compared with", *task_names]
    if len(task_names) > 1:
        header.append("**mean**")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for method in methods:
        name, base = method.name, bases[method.name]
        cells = [name, base or "(baseline)"]
        for task in task_names:
            mean, std, n = stats.get((task, name), (float("nan"), float("nan"), 0))
            if n == 0:
                cells.append("failed")
                continue
            cell = f"{100 * mean:.1f} ± {100 * std:.1f}"
            gain = _gain(stats, task, name, base)
            if np.isfinite(gain):
                cell += f" ({gain:+.1f})"
            cells.append(cell)
        if len(task_names) > 1:
            means = [stats[(t, name)][0] for t in task_names if (t, name) in stats]
            gains = [_gain(stats, t, name, base) for t in task_names]
            cell = f"{100 * np.nanmean(means):.1f}" if np.isfinite(means).any() else ""
            if np.isfinite(gains).any():
                cell += f" ({np.nanmean(gains):+.1f})"
            cells.append(cell)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def format_collections(rows: list[dict[str, Any]], tasks: list[BenchmarkTask],
                       methods: list[AdapterEntry], baseline: str | None = None) -> str:
    """Markdown table of each method's gain over its baseline per collection (task group).

    One row per method (baselines left out), its baseline in the "compared with"
    column: by default its family's (:func:`family_baseline`), or ``baseline`` for
    all. A cell is the mean over the group's tasks of (mean accuracy over seeds − the
    baseline's), in points, then the number of tasks won (gain > 0.5 point) and lost
    (gain < −0.5 point), then the worst task's gain.
    """
    stats = summarise(rows)
    bases = _baselines(methods, baseline)
    groups: dict[str, list[str]] = {}
    for t in tasks:
        if any(r["task"] == t.name for r in rows):
            groups.setdefault(t.group, []).append(t.name)
    header = ["strategy", "compared with", *[f"{g} ({len(n)})" for g, n in groups.items()]]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for method in methods:
        name, base = method.name, bases[method.name]
        if base is None:
            continue
        cells = [name, base]
        for task_names in groups.values():
            gains = np.asarray([_gain(stats, t, name, base) for t in task_names])
            if not np.isfinite(gains).any():
                ran = any(stats.get((t, name), (0, 0, 0))[2] for t in task_names)
                cells.append(f"no {base} result" if ran else "failed")
                continue
            won = int(np.sum(gains > 0.5))
            lost = int(np.sum(gains < -0.5))
            cell = f"{np.nanmean(gains):+.1f} ({won}/{lost}, worst {np.nanmin(gains):+.1f})"
            if not np.isfinite(gains).all():
                cell += f", {int(np.sum(~np.isfinite(gains)))} failed"
            cells.append(cell)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
