"""Unsupervised model selection: do the scorers rank models like the target accuracy does?

Protocol. Each task's source is split 70/30 (stratified, seed 0). Every
candidate of a grid of strategies x hyper-parameters is fitted on the 70 %
source rows plus all target rows (unlabelled), then

* the scorers of ``domainadapt.selection`` score it on the held-out 30 % source
  rows plus all target rows (target labels never read);
* ``source-val acc.`` is plain validation accuracy on the held-out source rows
  (what ordinary cross-validation would use);
* its true target accuracy is measured on all target rows.

Per task and scorer: Spearman rank correlation between score and target
accuracy over the grid, and the target accuracy of the candidate the scorer
picks, next to the oracle (best candidate) and the default candidate
(logistic regression, C=1, no adaptation). Ensembles combine the per-candidate
scores of several scorers with :func:`domainadapt.selection.rank_candidates`
(mean normalised rank over the candidates of the task). ``EnsV`` is each
candidate's agreement with the mean target prediction of all the task's
candidates (:func:`domainadapt.selection.ensemble_validation`). The importance weights
of IWCV/DEV (``ClassifierDensityRatio`` on the validation rows) are computed
once per task: they do not depend on the candidate.

Every candidate has explicit parameters (the defaults of the strategies may
change). A candidate that fails to fit is dropped from that task and listed.

Usage::

    DOMAINADAPT_DATA=/path/to/data python benchmarks/selection.py [--quick]
        [--tasks SUBSTR,...] [--out PATH]
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
import traceback
import warnings
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from domainadapt import make_da_pipeline
from domainadapt.datasets import (
    load_mnist_usps_jda,
    load_office_caltech_surf,
    make_shifted_digits,
    make_topic_shift,
)
from domainadapt.feature import CORAL, JDA, TCA, OTMapping, SubspaceAlignment, mSDA
from domainadapt.instance import KLIEP, ClassifierDensityRatio
from domainadapt.model import NoAdaptation
from domainadapt.relation import LabelPropagation
from domainadapt.selection import (
    ATCScorer,
    BatchNuclearNormScorer,
    ClassAMIScorer,
    DeepEmbeddedValidationScorer,
    ImportanceWeightedScorer,
    InformationMaximizationScorer,
    MixValScorer,
    PredictionEntropyScorer,
    ReverseValidationScorer,
    SoftmaxCorrelationScorer,
    SoftNeighborhoodDensityScorer,
    ensemble_validation,
    rank_candidates,
)
from domainadapt.validation import check_source_target, stack_domains

RESULTS = Path(__file__).parent / "results" / "selection.md"
LETTER = {"A": "amazon", "C": "caltech", "D": "dslr", "W": "webcam"}
DEFAULT = "no adaptation, C=1"

#: Ensembles reported (declared before the full run; the members are scorer
#: names of the table). "MixVal (rank avg.)" is the combination of Hu et al.
ENSEMBLES = {
    "MixVal (rank avg. intra+inter)": ("MixVal intra", "MixVal inter"),
    "ens: EnsV+reverse": ("EnsV", "reverse val."),
    "ens: EnsV+reverse+MixVal": ("EnsV", "reverse val.", "MixVal"),
    "ens: reverse+MixVal": ("reverse val.", "MixVal"),
    "ens: reverse+MixVal+IM": ("reverse val.", "MixVal", "IM"),
    "ens: reverse+IWCV+DEV": ("reverse val.", "IWCV", "DEV"),
    "ens: reverse+MixVal+src-val": ("reverse val.", "MixVal", "source-val acc."),
    # added with ClassAMI (#12), declared before its first run
    "ens: EnsV+reverse+MixVal+ClassAMI": ("EnsV", "reverse val.", "MixVal", "ClassAMI"),
    "ens: EnsV+ClassAMI": ("EnsV", "ClassAMI"),
    "ens: reverse+ClassAMI": ("reverse val.", "ClassAMI"),
    "ens: reverse+MixVal+ClassAMI": ("reverse val.", "MixVal", "ClassAMI"),
    # added with ATC (#12): the same three were declared before an exploratory run (an
    # ad hoc script with a first version of the scorer), before any result was seen
    "ens: EnsV+reverse+MixVal+ClassAMI+ATC": ("EnsV", "reverse val.", "MixVal", "ClassAMI", "ATC"),
    "ens: reverse+ClassAMI+ATC": ("reverse val.", "ClassAMI", "ATC"),
    "ens: reverse+ATC": ("reverse val.", "ATC"),
}


class FixedWeights(BaseEstimator):
    """Weight estimator returning precomputed importance weights (one per task)."""

    def __init__(self, weights=None):
        self.weights = weights

    def fit(self, source, target):
        if len(self.weights) != len(source[0]):
            raise ValueError("FixedWeights: the weights do not match the source rows.")
        self.weights_ = np.asarray(self.weights, dtype=float)
        return self


def lr(C: float) -> LogisticRegression:
    return LogisticRegression(C=C, max_iter=300)


def candidates(quick: bool) -> dict:
    """name -> factory. Every parameter that matters is explicit."""
    out = {}
    for C in [0.01, 0.1, 1.0, 10.0]:
        out[f"no adaptation, C={C:g}"] = lambda C=C: NoAdaptation(estimator=lr(C))
    for reg in [0.1, 1.0, 10.0]:
        for C in [0.1, 1.0]:
            out[f"CORAL reg={reg:g}, C={C:g}"] = lambda reg=reg, C=C: make_da_pipeline(
                CORAL(reg=reg, center=True), lr(C)
            )
    for k in [10, 30, 60]:
        out[f"SA d={k}"] = lambda k=k: make_da_pipeline(
            SubspaceAlignment(n_components=k, preprocess=None), lr(1.0)
        )
    for k in [10, 40]:
        out[f"TCA d={k}, mu=1"] = lambda k=k: make_da_pipeline(
            TCA(n_components=k, kernel="linear", mu=1.0, n_landmarks=None, random_state=0), lr(1.0)
        )
    out["JDA d=30, 5 iter"] = lambda: make_da_pipeline(
        JDA(n_components=30, kernel="linear", reg=0.1, n_iter=5, n_landmarks=None,
            normalize_embedding=True, random_state=0),
        lr(1.0),
    )
    for reg in [0.1, 1.0]:
        out[f"OT sinkhorn reg={reg:g}"] = lambda reg=reg: make_da_pipeline(
            OTMapping(method="sinkhorn", reg=reg, class_reg=None, max_iter=300, tol=1e-5,
                      metric="sqeuclidean", normalize_cost="median", random_state=0),
            lr(1.0),
        )
    for C in [0.1, 1.0]:
        out[f"density ratio, C={C:g}"] = lambda C=C: ClassifierDensityRatio(
            cv=5, eps=1e-3, max_weight=None, estimator=lr(C), random_state=0
        )
    out["KLIEP 100 centres"] = lambda: KLIEP(
        n_centers=100, cv=3, max_iter=200, estimator=lr(1.0), random_state=0
    )
    for alpha in [0.5, 0.9, 0.99]:
        out[f"label propagation alpha={alpha:g}"] = lambda alpha=alpha: LabelPropagation(
            n_neighbors_source=10, n_neighbors_target=10, alpha=alpha, align="center",
            normalize=True, class_mass_normalization=True, n_rounds=3,
            self_training_weight=0.5,
        )
    for noise in [0.5, 0.9]:
        out[f"mSDA noise={noise:g}, 1 layer"] = lambda noise=noise: make_da_pipeline(
            mSDA(noise=noise, n_layers=1, reg=1e-5, nonlinearity="tanh", concatenate=True),
            lr(1.0),
        )
    if quick:
        keep = [
            "no adaptation, C=0.01", DEFAULT, "CORAL reg=1, C=1", "SA d=30",
            "density ratio, C=1", "label propagation alpha=0.9", "mSDA noise=0.5, 1 layer",
            "OT sinkhorn reg=1",
        ]
        out = {k: out[k] for k in keep}
    return out


def tasks(quick: bool, only: list[str] | None) -> dict:
    """name -> loader returning (source, target) Domains."""
    def digits(shift):
        return lambda: make_shifted_digits(shift, random_state=0)

    def text(n_features, domain_specific):
        return lambda: make_topic_shift(
            2000, 2000, n_features=n_features, domain_specific=domain_specific, random_state=0
        )

    def mu(direction):
        def load():
            d = load_mnist_usps_jda(normalize="l2")
            return (d["usps"], d["mnist"]) if direction == "U→M" else (d["mnist"], d["usps"])
        return load

    def office(pair):
        def load():
            o = load_office_caltech_surf(preprocess="zscore")
            return o[LETTER[pair[0]]], o[LETTER[pair[-1]]]
        return load

    out = {
        "digits rot.": digits("rotation"),
        "digits blur": digits("blur"),
        "text": text(400, 0.5),
    }
    if not quick:
        out["digits rot.+blur"] = digits("rotation+blur")
        out["text 2000 w."] = text(2000, 0.7)
        out["USPS→MNIST"] = mu("U→M")
        out["MNIST→USPS"] = mu("M→U")
    for pair in (["A→C"] if quick else ["A→C", "C→A", "W→A", "A→W", "C→D", "D→W"]):
        out[pair] = office(pair)
    if only:
        out = {k: v for k, v in out.items() if any(s.lower() in k.lower() for s in only)}
    return out


def make_scorers(weights) -> dict:
    fixed = FixedWeights(weights)
    return {
        "IWCV": ImportanceWeightedScorer(weight_estimator=fixed),
        "DEV": DeepEmbeddedValidationScorer(weight_estimator=fixed),
        "entropy": PredictionEntropyScorer(),
        "SND": SoftNeighborhoodDensityScorer(),
        "IM": InformationMaximizationScorer(),
        "BNM": BatchNuclearNormScorer(),
        "Corr-C": SoftmaxCorrelationScorer(),
        "MixVal intra": MixValScorer(probe="intra"),
        "MixVal inter": MixValScorer(probe="inter"),
        "reverse val.": ReverseValidationScorer(),
        "ClassAMI": ClassAMIScorer(),  # the paper's / pytorch-adapt's settings (PCA 64, k = K)
        "ATC": ATCScorer(),  # ATC-NE, the variant Garg et al. recommend
    }


def run_task(source, target, cands: dict) -> tuple[dict, dict, dict]:
    Xs, ys = np.asarray(source.X, np.float64), source.y
    Xt, yt = np.asarray(target.X, np.float64), target.y
    Xs_fit, Xs_val, ys_fit, ys_val = train_test_split(
        Xs, ys, test_size=0.3, stratify=ys, random_state=0
    )
    X_val, y_val, sd_val = stack_domains(*check_source_target((Xs_val, ys_val), Xt))
    X_fit, y_fit, sd_fit = stack_domains(*check_source_target((Xs_fit, ys_fit), Xt))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        weights = ClassifierDensityRatio(random_state=0).fit((Xs_val, ys_val), Xt).weights_
    scorers = make_scorers(weights)
    scores: dict[str, dict[str, float]] = {}
    probas: dict[str, np.ndarray] = {}
    accs: dict[str, float] = {}
    secs: dict[str, float] = {}
    src_rows = sd_val == "source"
    for name, make in cands.items():
        t0 = time.perf_counter()
        try:
            model = make()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit(X_fit, y_fit, sample_domain=sd_fit)
                acc = float(np.mean(model.predict(Xt) == yt))
                proba = np.asarray(model.predict_proba(Xt), dtype=float)  # no label read
                row = {}
                pred_val = model.predict(X_val[src_rows], sample_domain=sd_val[src_rows])
                row["source-val acc."] = float(np.mean(pred_val == y_val[src_rows]))
                for s_name, scorer in scorers.items():
                    try:
                        row[s_name] = scorer(model, X_val, y_val, sample_domain=sd_val)
                    except Exception as exc:  # a scorer failing on one candidate: NaN
                        print(f"      {s_name} failed: {type(exc).__name__}: {exc}")
                        row[s_name] = float("nan")
                row["MixVal"] = 0.5 * (row["MixVal intra"] + row["MixVal inter"])
        except Exception:
            print(f"    {name:36s} FAILED\n{traceback.format_exc(limit=3)}")
            continue
        scores[name], accs[name], probas[name] = row, acc, proba
        secs[name] = time.perf_counter() - t0
        print(f"    {name:36s} target acc {100 * acc:6.2f}  ({secs[name]:.1f}s)", flush=True)
    # EnsV needs every candidate's target predictions at once
    for name, agreement in ensemble_validation(probas).items():
        scores[name]["EnsV"] = agreement
    return scores, accs, secs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 small tasks, 8 candidates")
    parser.add_argument("--tasks", default="", help="comma-separated substrings of task names")
    parser.add_argument("--out", default=str(RESULTS), help="markdown file to write")
    args = parser.parse_args()
    only = [s for s in args.tasks.split(",") if s] or None
    cands = candidates(args.quick)
    task_list = tasks(args.quick, only)
    rho, picked, oracle, default, n_cands, failed, task_secs = {}, {}, {}, {}, {}, {}, {}
    scorer_names: list[str] = []
    t_start = time.perf_counter()
    for task, load in task_list.items():
        t_task = time.perf_counter()
        source, target = load()
        print(f"{task} ({len(cands)} candidates, {len(source.X)}+{len(target.X)} rows)")
        scores, accs, _ = run_task(source, target, cands)
        names = list(accs)
        n_cands[task] = len(names)
        failed[task] = [n for n in cands if n not in accs]
        acc = np.array([accs[n] for n in names])
        oracle[task] = 100 * acc.max()
        default[task] = 100 * accs[DEFAULT] if DEFAULT in accs else float("nan")
        table = {s: np.array([scores[n][s] for n in names]) for s in scores[names[0]]}
        for e_name, members in ENSEMBLES.items():
            ranking = rank_candidates(scores, scorers=members)
            table[e_name] = np.array([ranking.aggregate[n] for n in names])
        if not scorer_names:
            scorer_names = list(table)
        for s_name, s in table.items():
            finite = np.isfinite(s)
            if finite.sum() > 2 and np.ptp(s[finite]) > 0:
                rho[s_name, task] = float(spearmanr(s[finite], acc[finite]).statistic)
            else:
                rho[s_name, task] = float("nan")
            best = np.flatnonzero(s == np.nanmax(s))  # ties: mean accuracy of the tied picks
            picked[s_name, task] = 100 * float(acc[best].mean())
            print(
                f"  {s_name:32s} rho {rho[s_name, task]:+.2f}  pick {picked[s_name, task]:.2f} "
                f"(oracle {oracle[task]:.2f}, default {default[task]:.2f})"
            )
        task_secs[task] = time.perf_counter() - t_task
        print(f"  ({task_secs[task]:.0f}s)", flush=True)
    elapsed = time.perf_counter() - t_start
    write_markdown(args, cands, task_list, scorer_names, rho, picked, oracle, default,
                   n_cands, failed, task_secs, elapsed)


def command_line(argv: list[str]) -> str:
    """The command that ran this script, with no machine-specific path in it.

    The data directory and an ``--out`` other than the default page are placeholders.
    """
    args, out_next = [], False
    for arg in argv:
        if out_next:
            out_next = False
            default = Path(arg).resolve() == RESULTS.resolve()
            args.append("benchmarks/results/selection.md" if default else "<out file>")
        elif arg == "--out":
            args.append(arg)
            out_next = True
        elif arg.startswith("--out="):
            default = Path(arg[len("--out="):]).resolve() == RESULTS.resolve()
            args.append("--out=" + ("benchmarks/results/selection.md" if default else "<out file>"))
        else:
            args.append(shlex.quote(arg))
    env = [f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}"] if "OMP_NUM_THREADS" in os.environ else []
    if os.environ.get("PYTHONPATH"):
        env.append("PYTHONPATH=<a clean clone of the commit>")
    env.append("DOMAINADAPT_DATA=<data directory>")
    return " ".join([*env, "python", "benchmarks/selection.py", *args])


def write_markdown(args, cands, task_list, scorer_names, rho, picked, oracle, default,
                   n_cands, failed, task_secs, elapsed) -> None:
    tnames = list(task_list)
    head = "| scorer | " + " | ".join(tnames) + " | mean |"
    sep = "|---" * (len(tnames) + 2) + "|"
    mean_rho = {s: float(np.nanmean([rho[s, t] for t in tnames])) for s in scorer_names}
    order = sorted(scorer_names, key=lambda s: -mean_rho[s])
    lines = [
        "# Unsupervised model selection",
        "",
        f"Generated {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC by "
        f"`{command_line(sys.argv[1:])}`"
        + f" in {elapsed / 60:.1f} min on a shared 2-core CPU machine "
        "(`OMP_NUM_THREADS=1`). "
        f"{len(cands)} candidates per task: {', '.join(cands)}. "
        "Logistic regression (max_iter=300) is the classifier of every candidate; all "
        "parameters are explicit in the script. "
        "Source split 70/30 (stratified, seed 0); candidates fitted on 70 % source + all "
        "target rows; scorers on the 30 % source rows + all target rows (target labels "
        "never read); true accuracy on all target rows. One split and one seed per task: "
        "read differences of a few hundredths of ρ or a few points of accuracy as noise.",
        "",
        "Tasks: digits rot./blur = `make_shifted_digits('rotation'|'blur', random_state=0)`; "
        "digits rot.+blur = `make_shifted_digits('rotation+blur', random_state=0)`; "
        "text = `make_topic_shift(2000, 2000, n_features=400, domain_specific=0.5, "
        "random_state=0)`, text 2000 w. = the same with `n_features=2000, "
        "domain_specific=0.7` (raw counts); "
        "USPS↔MNIST = the JDA subsets, per-row L2 normalised; Office-Caltech pairs = SURF, "
        "L1 + per-domain z-score. "
        "Candidates per task (fitted / failed): "
        + "; ".join(
            f"{t} {n_cands[t]}" + (f" (failed: {', '.join(failed[t])})" if failed[t] else "")
            for t in tnames
        )
        + ". Seconds per task: "
        + ", ".join(f"{t} {task_secs[t]:.0f}" for t in tnames)
        + ".",
        "",
        "Ensembles (`ens: ...`, and MixVal's own rank average of its two probes) are the mean "
        "normalised rank of their members over the task's candidates, computed with "
        "`domainadapt.selection.rank_candidates`. `MixVal` alone is the mean of the intra- and "
        "inter-cluster accuracies (`MixValScorer(probe='both')`, one candidate at a time). "
        "`ClassAMI` (`ClassAMIScorer()`, Musgrave et al. 2022) is the adjusted mutual "
        "information between a k-means clustering (k = number of classes, after PCA to 64 "
        "dimensions) of the target rows in the representation the candidate's logistic "
        "regression is applied to and its predicted target labels. `ATC` (`ATCScorer()`, Garg "
        "et al. 2022) is the share of target rows whose negative prediction entropy reaches the "
        "threshold below which the held-out source rows' share equals their error rate.",
        "",
        "## Spearman rank correlation between score and target accuracy (sorted by mean)",
        "",
        head,
        sep,
    ]
    for s in order:
        vals = [rho[s, t] for t in tnames]
        lines.append(
            f"| {s} | " + " | ".join(f"{v:+.2f}" for v in vals) + f" | **{mean_rho[s]:+.2f}** |"
        )
    lines += [
        "",
        "## Target accuracy (%) of the candidate each scorer picks",
        "",
        "(Ties at the top score: mean accuracy of the tied candidates.)",
        "",
        head,
        sep,
        "| oracle (best candidate) | "
        + " | ".join(f"{oracle[t]:.2f}" for t in tnames)
        + f" | {np.mean([oracle[t] for t in tnames]):.2f} |",
        f"| default ({DEFAULT}) | "
        + " | ".join(f"{default[t]:.2f}" for t in tnames)
        + f" | {np.nanmean([default[t] for t in tnames]):.2f} |",
    ]
    for s in order:
        vals = [picked[s, t] for t in tnames]
        lines.append(
            f"| {s} | " + " | ".join(f"{v:.2f}" for v in vals) + f" | {np.mean(vals):.2f} |"
        )
    text = "\n".join(lines) + "\n"
    out = Path(args.out)
    out.parent.mkdir(exist_ok=True)
    notes = ""
    if out.exists():  # keep a hand-written reading section across regenerations
        old = out.read_text()
        marker = "\n## Reading"
        if marker in old:
            notes = old[old.index(marker):]
    out.write_text(text + notes)
    print(text)


if __name__ == "__main__":
    main()
