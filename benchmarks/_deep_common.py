"""What the deep benchmark scripts (``deep_digits.py``, ``deep_beyond.py``) do the same way.

Both run every ``(method, column, seed)`` of a grid (a column is a transfer direction or a
task), print one line per run, can instead rebuild the per-run results from those printed
lines (``--from-log``), and summarise each cell as ``mean ± std``. Imported as
``from _deep_common import ...`` (see :mod:`_common`).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["GridRuns", "adabn_predictor", "mean_std", "parse_log", "run_grid"]

#: per-run results, keyed by ``(method, column)``, in the order the runs finished
Results = dict[tuple[str, str], list[dict]]


def mean_std(values: Sequence[float], n_expected: int | None = None) -> str:
    """``mean ± std`` (std with ``ddof=1``, 0 for one value), ``-`` for none;
    ``(n = k)`` is added when fewer runs than ``n_expected`` finished."""
    if not values:
        return "-"
    a = np.asarray(values)
    txt = f"{a.mean():.1f} ± {a.std(ddof=1) if len(a) > 1 else 0.0:.1f}"
    if n_expected is not None and len(a) < n_expected:
        txt += f" (n = {len(a)})"
    return txt


def parse_log(path: Path, pattern: str, column: str, record: Callable[[re.Match], dict]) -> Results:
    """Per-run results from the lines a script printed (to re-render its table).

    ``pattern`` matches one printed line (stripped) and has the groups ``method`` and
    ``column``; ``record`` turns a match into that run's result.
    """
    results: Results = {}
    for line in path.read_text().splitlines():
        m = re.match(pattern, line.strip())
        if m:
            results.setdefault((m["method"], m[column]), []).append(record(m))
    return results


@dataclass
class GridRuns:
    """The results of :func:`run_grid` and the conditions they were obtained in."""

    results: Results
    seconds: float
    load_start: tuple[float, float, float]
    load_end: tuple[float, float, float]


def run_grid(
    methods: Sequence[str],
    columns: Sequence[str],
    seeds: Sequence[int],
    run_one: Callable[..., dict],
    run_args: tuple = (),
    *,
    describe: Callable[[str, str, int, dict], str],
    threads: int | None,
    from_log: Callable[[], Results] | None = None,
    jobs: int = 1,
) -> GridRuns:
    """Run ``run_one(method, column, seed, *run_args)`` for each column, seed and method
    (in that nesting), printing ``describe(method, column, seed, result)`` for each run.

    A result may hold ``"extra"``: ``{row: result}`` of further rows measured in the same run
    (e.g. TENT's source model); each is reported, and printed, before the run's own row.
    With ``from_log`` nothing is run: the results are what it returns. With ``jobs > 1``
    the runs go to that many spawned worker processes (``run_one`` and ``run_args`` must
    pickle), and are reported in grid order.
    """
    import torch

    if threads:
        torch.set_num_threads(threads)
    load0 = os.getloadavg()
    started = time.time()
    results: Results = {}
    runs = [(m, c, s) for c in columns for s in seeds for m in methods]
    if from_log is not None:
        results, runs = from_log(), []

    def report(key, r):
        method, column, seed = key
        for extra, r_extra in r.pop("extra", {}).items():
            report((extra, column, seed), r_extra)
        results.setdefault((method, column), []).append(r)
        print(describe(method, column, seed, r), flush=True)

    if jobs > 1 and runs:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn")) as pool:
            futures = {key: pool.submit(run_one, *key, *run_args) for key in runs}
            for key in runs:
                report(key, futures[key].result())
    else:
        for key in runs:
            report(key, run_one(*key, *run_args))
    elapsed = time.time() - started
    return GridRuns(results, elapsed, load0, os.getloadavg())


def adabn_predictor(stage, X_stats: np.ndarray, batch_size: int) -> Callable[[np.ndarray], np.ndarray]:
    """Predict with a copy of the fitted deep model ``stage`` whose batch-norm statistics
    are re-estimated on the rows ``X_stats``; nothing is trained (AdaBN, Li et al. 2017:
    TENT without its entropy step).

    The statistics are the average over batches of ``batch_size`` rows, with dropout off;
    the returned function predicts class labels of any rows with them.
    """
    import copy

    import torch
    from torch import nn

    parts = copy.deepcopy(stage.parts_).cpu()
    bns = [m for m in parts.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    parts.eval()
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
        m.train()
    x = torch.as_tensor(np.asarray(X_stats), dtype=torch.float32)
    with torch.no_grad():
        for idx in np.array_split(np.arange(len(x)), max(1, len(x) // batch_size)):
            parts["features"](x[torch.from_numpy(idx)])
    parts.eval()

    def predict(X: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            z = torch.as_tensor(np.asarray(X), dtype=torch.float32)
            logits = parts["classifier"](parts["features"](z))
        return np.asarray(stage.classes_)[logits.argmax(1).numpy()]

    return predict
