"""``python -m domainadapt.benchmarks``: the toolkit's main job.

Runs every registered strategy on the embedded default tasks (scikit-learn's
digits under a shift; no download) and, when the data directory holds the real
sets, on Office-Caltech10 and MNIST/USPS. Prints target accuracy per method, with
its gain over its own family's baseline (``no_adaptation`` for the shallow
strategies, ``source_only`` for the deep ones; a missing baseline is run too), mean
± std over seeds, and writes ``results.csv`` and ``results.md`` to ``--output``;
``--results-page`` also writes the page kept as ``benchmarks/results/main_job.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import time
from pathlib import Path

from ..datasets import REGISTRY, get_data_home
from ..registry import get_adapters
from . import (
    SOURCE_ONLY,
    format_collections,
    format_markdown,
    get_tasks,
    run_benchmark,
    with_baselines,
)

_GROUP_FILES = {
    "office-caltech": "office_caltech10_surf.npz",
    "office-caltech-full": "office_caltech10_surf.npz",
    "mnist-usps": "mnist_usps_jda.npz",
}


#: Groups run only when named with --groups: a second protocol of another group, and the
#: generated text tasks, where the tempered instance strategies' importance-weighted CV
#: (15 fits of a logistic regression on 2000 x 400 raw counts each) takes most of the time.
ON_REQUEST = ("office-caltech-full", "text", "text-wide")


def _available_groups(data_home: str | None) -> tuple[list[str], list[str]]:
    home = get_data_home(data_home)
    found, missing = ["synthetic", "digits", "text", "text-wide"], []
    for group, filename in _GROUP_FILES.items():
        assert filename in REGISTRY
        (found if (home / filename).is_file() else missing).append(group)
    return found, missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m domainadapt.benchmarks",
        description="Run every registered domain-adaptation strategy on benchmark tasks.",
    )
    parser.add_argument("--groups", nargs="+", default=None,
                        help="task groups (default: synthetic and digits, plus office-caltech and "
                             "mnist-usps when their data is found; text, text-wide and "
                             "office-caltech-full only when named): synthetic digits text "
                             "text-wide office-caltech office-caltech-full mnist-usps")
    parser.add_argument("--methods", nargs="+", default=None,
                        help="registered strategy names (default: all benchmark ones)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--data-home", default=None,
                        help="data directory (default: $DOMAINADAPT_DATA or ~/domainadapt_data)")
    parser.add_argument("--output", default="domainadapt_results",
                        help="directory for results.csv and results.md")
    parser.add_argument("--results-page", default=None, metavar="PATH",
                        help="also write the results page (results.md without its title, "
                             "headed by the command that produced it) to PATH, e.g. "
                             "benchmarks/results/main_job.md")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--list", action="store_true", help="list strategies and tasks, then exit")
    args = parser.parse_args(argv)

    methods = get_adapters(benchmark=True)
    if args.methods:
        known = {m.name: m for m in get_adapters()}
        unknown = [m for m in args.methods if m not in known]
        if unknown:
            parser.error(f"unknown methods {unknown}; registered: {sorted(known)}")
        methods = [known[m] for m in args.methods]
    # every strategy is compared with its family's baseline: run the baselines not asked for
    methods, added = with_baselines(methods)

    found, missing = _available_groups(args.data_home)
    if args.list:  # listing needs no data: a group whose files are absent is listed as such
        for m in get_adapters():
            print(f"{m.name:24s} {m.family:9s} {m.description}")
        for t in get_tasks(args.groups):
            state = " (data not found)" if t.group in missing else ""
            print(f"{t.name:24s} [{t.group}]{state} {t.protocol}")
        return 0
    groups = args.groups or [g for g in found if g not in ON_REQUEST]
    absent = [g for g in groups if g in missing]
    if absent:
        parser.error(
            f"the data for {absent} is not in {get_data_home(args.data_home)}; set "
            "DOMAINADAPT_DATA or --data-home (see domainadapt.datasets)"
        )
    tasks = get_tasks(groups)
    if not tasks:
        parser.error(f"no tasks in groups {groups}")

    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    print(f"{len(methods)} strategies x {len(tasks)} tasks x {len(args.seeds)} seeds "
          f"(groups: {', '.join(groups)}"
          + (f"; not found in the data directory: {', '.join(missing)}" if missing and
             not args.groups else "") + ")", flush=True)
    if added and args.methods:
        print(f"added {', '.join(added)}: the baseline the requested strategies are compared "
              "with", flush=True)
    start = time.perf_counter()
    rows = run_benchmark(tasks, methods, args.seeds, csv_path=out / "results.csv",
                         progress=not args.no_progress)
    seconds = time.perf_counter() - start
    table = format_markdown(rows, tasks, methods)
    protocols = sorted({t.protocol for t in tasks})
    if SOURCE_ONLY in [m.name for m in methods]:
        protocols.append(
            "Deep strategies and source_only: their default network (network=None, an MLP "
            "sized from the data) and training settings, then the task's classifier fitted on "
            "the learned features; each deep strategy is compared with source_only, the same "
            "network and classifier trained on the source alone."
        )
    failures = [r for r in rows if r["error"]]
    text = [
        "# domainadapt benchmark",
        "",
        f"Target accuracy (%), mean ± std over seeds {args.seeds}; in brackets the gain in "
        "points over the baseline in the row's *compared with* column, its own family's: "
        "`no_adaptation` (the task's classifier on the source alone) for the shallow "
        "strategies, `source_only` (the same default network on the source alone) for the "
        "deep ones; the last column averages over the tasks. "
        + (f"{', '.join(added)} added to the requested strategies as their baseline. "
           if added and args.methods else "")
        + f"{time.strftime('%Y-%m-%d')}, Python {platform.python_version()}, "
        f"{os.cpu_count()} cores, {seconds:.0f} s.",
        "",
        table,
        "",
        "Gain over the same baseline per collection (points): mean over its tasks (tasks won / "
        "lost by more than 0.5 point, worst task).",
        "",
        format_collections(rows, tasks, methods),
        "",
        "Protocols:",
        *[f"- {p}" for p in protocols],
    ]
    warned: dict[tuple[str, str, str], int] = {}
    for r in rows:
        for w in filter(None, r.get("warnings", "").split(" | ")):
            key = (r["task"], r["method"], w)
            warned[key] = warned.get(key, 0) + 1
    if warned:
        text += ["", "Warnings raised while fitting:",
                 *[f"- {t} / {m}: {w} ({n} of {len(args.seeds)} seeds)"
                   for (t, m, w), n in sorted(warned.items())]]
    if failures:
        text += ["", "Failures:", *[f"- {r['task']} / {r['method']} / seed {r['seed']}: "
                                    f"{r['error']}" for r in failures]]
    (out / "results.md").write_text("\n".join(text) + "\n")
    written = [out / "results.csv", out / "results.md"]
    if args.results_page:
        # the docs include this page under their own heading: no title, the command instead
        command = " ".join(["python -m domainadapt.benchmarks",
                            *map(shlex.quote, sys.argv[1:] if argv is None else argv)])
        data = os.environ.get("DOMAINADAPT_DATA")
        prefix = "DOMAINADAPT_DATA=<data directory> " if data and not args.data_home else ""
        page = Path(args.results_page)
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(f"Produced by `{prefix}{command}` (groups: {', '.join(groups)}).\n\n"
                        + "\n".join(text[2:]) + "\n")
        written.append(page)
    print("\n" + "\n".join(text[2:]))
    print(f"\nwritten: {', '.join(map(str, written))}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
