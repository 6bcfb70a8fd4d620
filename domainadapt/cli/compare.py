"""``domainadapt compare``: which strategy for *my* data?

Reads a labelled source file and an unlabelled target file (CSV, Parquet or
``.npz``), prints the shift diagnostics (:func:`~domainadapt.selection.domain_shift_report`),
runs :class:`~domainadapt.selection.AutoAdapter` and prints its ranking of the
candidate strategies by the unsupervised scorers, the kept one marked. With
``--target-labels`` the true target accuracy of every candidate is added to the
table, for reporting only: the choice never reads it. ``--output DIR`` writes
``ranking.csv``, ``ranking.md`` and ``ranking.png``.

Everything the user reads as a result goes to stdout; progress lines go to stderr.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ._io import (
    CompareError,
    _as_float,
    _check_features,
    _columns_text,
    _split_table,
    _subsample,
    load_table,
)
from ._report import (
    _ranking_frame,
    format_markdown,
    format_text,
    list_strategies_and_groups,
    plot_ranking,
)

__all__ = ["CompareError", "ESTIMATORS", "main", "load_table", "run_compare"]

#: Rows kept per domain by default. ``domainadapt compare`` on two files of 5 000 rows
#: each (``make_gaussian_shift``, 10 features) took 96 s with every row on a shared
#: 2-core machine, 39 s of it label propagation and 30 s optimal transport (both grow
#: faster than linearly); with 2 500 rows per domain it took 24 s (28 s on shifted
#: digits, 64 features and 10 classes), the target of under a minute.
DEFAULT_MAX_ROWS = 2500


def _logreg() -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=1000)


def _random_forest() -> Any:
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=100, random_state=0)


def _hist_gradient_boosting() -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(random_state=0)


def _knn() -> Any:
    from sklearn.neighbors import KNeighborsClassifier

    return KNeighborsClassifier(n_neighbors=5)


#: ``--estimator`` choices: name -> (factory, one line for the help).
ESTIMATORS = {
    "logreg": (_logreg, "LogisticRegression(max_iter=1000) (default)"),
    "random-forest": (_random_forest, "RandomForestClassifier(n_estimators=100)"),
    "hist-gradient-boosting": (_hist_gradient_boosting, "HistGradientBoostingClassifier()"),
    "knn": (_knn, "KNeighborsClassifier(5) (no sample weights: the instance strategies "
                  "cannot use it and are reported as failed)"),
}


def _progress(message: str, quiet: bool) -> None:
    if not quiet:
        print(message, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- main
def build_parser(prog: str = "domainadapt compare") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description="Compare domain-adaptation strategies on your own data: shift "
                    "diagnostics, then the automatic choice (AutoAdapter) and its ranking of "
                    "the candidates by unsupervised scorers (no target label is used).",
        epilog="Example: domainadapt compare --source s.csv --target t.csv --label-column y "
               "--output results/",
    )
    p.add_argument("--source", help="labelled source file: .csv, .tsv, .parquet or .npz "
                                    "(arrays X and y)")
    p.add_argument("--target", help="target file, same feature columns; its labels, if any, "
                                    "are ignored unless --target-labels names them")
    p.add_argument("--label-column", default="y",
                   help="label column of the source (array name in an .npz; default: y)")
    p.add_argument("--target-labels", default=None, metavar="COLUMN",
                   help="label column of the target: adds each candidate's true target "
                        "accuracy to the table (reporting only, never used for the choice)")
    p.add_argument("--estimator", default="logreg", choices=list(ESTIMATORS),
                   help="downstream classifier given to every strategy: "
                        + "; ".join(f"{k}: {v[1]}" for k, v in ESTIMATORS.items()))
    p.add_argument("--candidates", nargs="+", default=None, metavar="NAME",
                   help="strategies to try (registered names, see --list; default: the "
                        "AutoAdapter portfolio)")
    p.add_argument("--max-rows", type=int, default=DEFAULT_MAX_ROWS,
                   help="rows kept per domain, sampled at random (stratified on the source "
                        f"labels) to bound the time (default {DEFAULT_MAX_ROWS}; 0 keeps all)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--n-jobs", type=int, default=None,
                   help="candidates fitted in parallel (default: one at a time)")
    p.add_argument("--output", default=None, metavar="DIR",
                   help="write ranking.csv, ranking.md and ranking.png to DIR")
    p.add_argument("--no-shift-report", action="store_true",
                   help="skip the shift diagnostics")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.add_argument("--list", action="store_true",
                   help="list the strategies and the benchmark groups, then exit")
    p.add_argument("--groups", nargs="+", default=None,
                   help="with --list: only these benchmark groups")
    p.add_argument("--data-home", default=None,
                   help="with --list: data directory (default: $DOMAINADAPT_DATA)")
    return p


def run_compare(args: argparse.Namespace) -> int:
    """The compare command once the arguments are parsed; raises CompareError."""
    import pandas as pd

    from .._domain import Domain
    from ..registry import get_adapter
    from ..selection import AutoAdapter, domain_shift_report
    from ..selection.auto import DEFAULT_PORTFOLIO

    quiet = args.quiet
    start = time.perf_counter()
    if args.candidates:
        for name in args.candidates:
            try:
                get_adapter(name)
            except KeyError:
                from ..registry import get_adapters

                raise CompareError(f"unknown strategy {name!r} in --candidates; registered: "
                                   f"{', '.join(m.name for m in get_adapters())}") from None

    _progress(f"reading {args.source} ...", quiet)
    s_frame, s_arrays = load_table(args.source, "source")
    _progress(f"reading {args.target} ...", quiet)
    t_frame, t_arrays = load_table(args.target, "target")

    s_feat, y_s, s_names = _split_table(s_frame, s_arrays, args.source, "source",
                                        args.label_column, required=True,
                                        drop=(args.target_labels,) if args.target_labels else ())
    # the target's own copy of the label column is never a feature
    t_feat, y_t, t_names = _split_table(t_frame, t_arrays, args.target, "target",
                                        args.target_labels, required=args.target_labels is not None,
                                        drop=(args.label_column,))
    if t_arrays is None and args.target_labels is None and args.label_column in t_frame.columns:
        _progress(f"note: the target column {args.label_column!r} is ignored; pass "
                  f"--target-labels {args.label_column} to report the true target accuracy",
                  quiet)

    if s_names is not None and t_names is not None:
        only_s = [c for c in s_names if c not in set(t_names)]
        only_t = [c for c in t_names if c not in set(s_names)]
        if only_s or only_t:
            parts = []
            if only_s:
                parts.append(f"only in the source: {_columns_text(only_s)}")
            if only_t:
                parts.append(f"only in the target: {_columns_text(only_t)}")
            raise CompareError("the source and target files have different feature columns ("
                               + "; ".join(parts) + "). Give both files the same columns.")
        if t_names != s_names:
            t_feat = t_feat[s_names]  # same columns, another order
        X_s = _check_features(s_feat, args.source, "source")
        X_t = _check_features(t_feat, args.target, "target")
        feature_names = s_names
    else:
        X_s = (_check_features(s_feat, args.source, "source") if s_names is not None
               else _as_float(s_feat, args.source, "source"))
        X_t = (_check_features(t_feat, args.target, "target") if t_names is not None
               else _as_float(t_feat, args.target, "target"))
        if X_s.shape[1] != X_t.shape[1]:
            raise CompareError(f"the source has {X_s.shape[1]} features and the target "
                               f"{X_t.shape[1]}; give both the same feature columns.")
        feature_names = s_names or t_names or [f"x{i}" for i in range(X_s.shape[1])]
    if y_s is not None and pd.isna(y_s).any():
        raise CompareError(f"the source label column {args.label_column!r} has "
                           f"{int(pd.isna(y_s).sum())} missing values; drop those rows.")

    classes, y_s_int = np.unique(y_s.astype(str) if y_s.dtype == object else y_s,
                                 return_inverse=True)
    if len(classes) < 2:
        raise CompareError(f"the source label column {args.label_column!r} has a single "
                           f"class ({classes[0]!r}); a classifier needs at least two.")
    y_t_int = None
    if y_t is not None:
        y_t_cmp = y_t.astype(str) if y_t.dtype == object or classes.dtype.kind == "U" else y_t
        lookup = {c: i for i, c in enumerate(classes.tolist())}
        unlabelled = np.asarray(pd.isna(y_t), dtype=bool)
        # -1: a class the source never had (an error of every candidate); -2: no label
        y_t_int = np.array([-2 if u else lookup.get(v, -1)
                            for v, u in zip(y_t_cmp.tolist(), unlabelled)])
        unseen = sorted({str(v) for v, i in zip(y_t_cmp.tolist(), y_t_int) if i == -1})
        if unseen:
            _progress(f"note: target labels never seen in the source count as errors: "
                      f"{', '.join(unseen[:10])}", quiet)

    n_s, n_t = len(X_s), len(X_t)
    _progress(f"source: {n_s} rows x {X_s.shape[1]} features, {len(classes)} classes; "
              f"target: {n_t} rows", quiet)
    keep_s = _subsample(n_s, args.max_rows, y_s_int, args.seed)
    keep_t = _subsample(n_t, args.max_rows, None, args.seed + 1)
    sampled = []
    if keep_s is not None:
        X_s, y_s_int = X_s[keep_s], y_s_int[keep_s]
        sampled.append(f"source {n_s} -> {len(X_s)}")
    if keep_t is not None:
        X_t = X_t[keep_t]
        if y_t_int is not None:
            y_t_int = y_t_int[keep_t]
        sampled.append(f"target {n_t} -> {len(X_t)}")
    sample_line = (f"Rows sampled at random to bound the time (--max-rows {args.max_rows}; "
                   f"--max-rows 0 keeps all): {', '.join(sampled)}." if sampled else "")

    out_lines: list[str] = [f"domainadapt compare: source {args.source} ({n_s} rows), target "
                            f"{args.target} ({n_t} rows), {X_s.shape[1]} features, "
                            f"{len(classes)} classes"]
    if sample_line:
        out_lines.append(sample_line)
    shift_line = ""
    if not args.no_shift_report:
        _progress("measuring the shift (proxy A-distance, MMD test) ...", quiet)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            shift = domain_shift_report(X_s, X_t, random_state=args.seed)
        shift_line = f"Shift diagnostics: {shift}"
        out_lines += ["", shift_line]
        if not shift.shifted:
            out_lines.append("  (no significant shift: adaptation is unlikely to help; "
                             "no_adaptation is a safe choice)")
    print("\n".join(out_lines), flush=True)

    estimator = ESTIMATORS[args.estimator][0]()
    auto = AutoAdapter(candidates=args.candidates, estimator=estimator,
                       random_state=args.seed, n_jobs=args.n_jobs,
                       progress=None if not quiet else False)
    n_cand = len(args.candidates or DEFAULT_PORTFOLIO)
    _progress(f"fitting and scoring {n_cand} candidate strategies with {args.estimator} "
              f"(AutoAdapter) ...", quiet)
    fit_start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            auto.fit(Domain(X_s, y_s_int), X_t)
        except RuntimeError as exc:
            raise CompareError(str(exc)) from None
    _progress(f"candidates fitted in {time.perf_counter() - fit_start:.1f} s", quiet)

    accuracy = None
    if y_t_int is not None:
        # reporting only: computed after the choice, from the candidates as scored
        accuracy = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for name, adapter in auto.candidates_.items():
                try:
                    labelled = y_t_int != -2
                    pred = adapter.predict(X_t)
                    accuracy[name] = float(np.mean(pred[labelled] == y_t_int[labelled]))
                except Exception:
                    accuracy[name] = float("nan")

    df = _ranking_frame(auto, accuracy)
    scorers = [c for c in df.columns if c not in ("rank", "candidate", "family", "mean_rank",
                                                  "target_accuracy", "kept", "fit_s", "error")]
    verdict = f"Kept: {auto.best_name_}"
    if auto.guard_vetoed_:
        verdict += (f" (the negative-transfer guard vetoed {auto.ranking_[0]}: "
                    f"{auto.guard_reason_})")
    if len(auto.committee_) > 1:
        verdict += (f"; it predicts by the majority vote of {', '.join(auto.committee_)} "
                    "(ties: the first)")
    notes = [
        f"Candidates ranked by the mean of their ranks under the unsupervised scorers "
        f"({', '.join(scorers)}; higher is better); no target label was used.",
    ]
    if accuracy is not None:
        best_true = max(accuracy, key=lambda k: -1 if not np.isfinite(accuracy[k])
                        else accuracy[k])
        notes.append(f"true target acc: accuracy on the {int((y_t_int != -2).sum())} "
                     "labelled target rows of "
                     f"{args.target_labels!r}, for reporting only (the choice did not read "
                     f"it); candidates as fitted on {len(X_s) - len(auto.validation_index_)} "
                     f"source rows. Best by true accuracy: {best_true} "
                     f"({accuracy[best_true]:.3f}); kept: "
                     f"{accuracy.get(auto.best_name_, float('nan')):.3f}.")
    print("\n" + format_text(df) + "\n\n" + verdict + "\n" + "\n".join(notes), flush=True)

    if args.output:
        out = Path(args.output)
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CompareError(f"cannot create the output directory {str(out)!r}: {exc}") from None
        df.to_csv(out / "ranking.csv", index=False)
        md = ["# domainadapt compare", "", *out_lines, "", format_markdown(df), "", verdict,
              "", *notes, "", f"Features: {_columns_text(list(map(str, feature_names)))}.",
              f"Estimator: {ESTIMATORS[args.estimator][1]}; seed {args.seed}."]
        (out / "ranking.md").write_text("\n".join(md) + "\n")
        written = [out / "ranking.csv", out / "ranking.md"]
        try:
            plot_ranking(df, out / "ranking.png",
                         f"{Path(args.source).name} -> {Path(args.target).name}: {verdict}")
            written.append(out / "ranking.png")
        except ImportError:
            _progress("note: matplotlib is not installed; ranking.png not written "
                      "(pip install matplotlib)", quiet)
        print("\nwritten: " + ", ".join(map(str, written)), flush=True)
    _progress(f"done in {time.perf_counter() - start:.1f} s", quiet)
    return 0


def main(argv: list[str] | None = None, prog: str = "domainadapt compare") -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    try:
        if args.list:
            print(list_strategies_and_groups(args.groups, args.data_home))
            return 0
        missing = [f"--{n}" for n in ("source", "target") if not getattr(args, n)]
        if missing:
            parser.error(f"the following arguments are required: {', '.join(missing)} "
                         "(or --list)")
        return run_compare(args)
    except CompareError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
