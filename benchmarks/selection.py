"""Unsupervised model selection: do the scorers rank models like the target accuracy does?

Protocol. Each task's source is split 70/30 (stratified, seed 0). Every
candidate of a hyper-parameter grid is fitted on the 70 % source rows plus all
target rows (unlabelled), then

* the scorers of ``domainadapt.selection`` score it on the held-out 30 % source
  rows plus all target rows (target labels never read);
* ``source-val acc.`` is plain validation accuracy on the held-out source rows
  (what ordinary cross-validation would use);
* its true target accuracy is measured on all target rows.

Per task and scorer: Spearman rank correlation between score and target
accuracy over the grid, and the target accuracy of the candidate the scorer
picks, next to the oracle (best candidate) and the default candidate
(logistic regression, C=1, no adaptation). The importance weights of IWCV/DEV
(``ClassifierDensityRatio`` on the validation rows) are computed once per task:
they do not depend on the candidate.

Usage::

    DOMAINADAPT_DATA=/path/to/data python benchmarks/selection.py [--quick]
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from domainadapt import make_da_pipeline
from domainadapt.datasets import load_mnist_usps_jda, load_office_caltech_surf
from domainadapt.feature import CORAL
from domainadapt.instance import ClassifierDensityRatio
from domainadapt.model import NoAdaptation
from domainadapt.relation import LabelPropagation
from domainadapt.selection import (
    DeepEmbeddedValidationScorer,
    ImportanceWeightedScorer,
    PredictionEntropyScorer,
    ReverseValidationScorer,
    SoftNeighborhoodDensityScorer,
)
from domainadapt.validation import check_source_target, stack_domains

RESULTS = Path(__file__).parent / "results" / "selection.md"
LETTER = {"A": "amazon", "C": "caltech", "D": "dslr", "W": "webcam"}


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
    return LogisticRegression(C=C, max_iter=200)


def candidates(quick: bool) -> dict:
    Cs = [0.1, 1.0] if quick else [0.1, 1.0, 10.0]
    out = {}
    for C in Cs:
        out[f"no adaptation, C={C:g}"] = lambda C=C: NoAdaptation(lr(C))
    for reg in [0.1, 1.0, 10.0]:
        for C in Cs[:2]:
            out[f"CORAL reg={reg:g}, C={C:g}"] = lambda reg=reg, C=C: make_da_pipeline(
                CORAL(reg=reg), lr(C)
            )
    try:
        from domainadapt.feature import SubspaceAlignment

        for k in [10, 30, 80]:
            out[f"SA d={k}, C=1"] = lambda k=k: make_da_pipeline(
                SubspaceAlignment(n_components=k), lr(1.0)
            )
    except ImportError:  # pragma: no cover - SA not available
        pass
    for C in Cs[:2]:
        out[f"density ratio, C={C:g}"] = lambda C=C: ClassifierDensityRatio(
            estimator=lr(C), random_state=0
        )
    for alpha in [0.5, 0.9, 0.99]:
        out[f"label propagation alpha={alpha:g}"] = lambda alpha=alpha: LabelPropagation(
            alpha=alpha
        )
    return out


DEFAULT = "no adaptation, C=1"


def tasks(quick: bool) -> dict:
    digits = load_mnist_usps_jda(normalize="l2")
    out = {
        "USPS→MNIST": (digits["usps"], digits["mnist"]),
        "MNIST→USPS": (digits["mnist"], digits["usps"]),
    }
    office = load_office_caltech_surf(preprocess="zscore")
    pairs = ["A→C"] if quick else ["A→C", "C→A", "W→A"]
    for pair in pairs:
        out[pair] = (office[LETTER[pair[0]]], office[LETTER[pair[-1]]])
    return out


def run_task(source, target, cands: dict) -> tuple[dict, dict]:
    Xs, ys = source.X.astype(np.float64), source.y
    Xt, yt = target.X.astype(np.float64), target.y
    Xs_fit, Xs_val, ys_fit, ys_val = train_test_split(
        Xs, ys, test_size=0.3, stratify=ys, random_state=0
    )
    X_val, y_val, sd_val = stack_domains(*check_source_target((Xs_val, ys_val), Xt))
    X_fit, y_fit, sd_fit = stack_domains(*check_source_target((Xs_fit, ys_fit), Xt))
    weights = ClassifierDensityRatio(random_state=0).fit((Xs_val, ys_val), Xt).weights_
    fixed = FixedWeights(weights)
    scorers = {
        "IWCV": ImportanceWeightedScorer(weight_estimator=fixed),
        "DEV": DeepEmbeddedValidationScorer(weight_estimator=fixed),
        "entropy": PredictionEntropyScorer(),
        "SND": SoftNeighborhoodDensityScorer(),
        "reverse val.": ReverseValidationScorer(),
    }
    scores = {name: [] for name in ["source-val acc.", *scorers]}
    accs = []
    for name, make in cands.items():
        t0 = time.perf_counter()
        model = make()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X_fit, y_fit, sample_domain=sd_fit)
            accs.append(float(np.mean(model.predict(Xt) == yt)))
            src_rows = sd_val == "source"
            pred_val = model.predict(X_val[src_rows], sample_domain=sd_val[src_rows])
            scores["source-val acc."].append(float(np.mean(pred_val == y_val[src_rows])))
            for s_name, scorer in scorers.items():
                scores[s_name].append(scorer(model, X_val, y_val, sample_domain=sd_val))
        print(f"    {name:36s} target acc {100 * accs[-1]:6.2f}  ({time.perf_counter() - t0:.1f}s)")
    return {k: np.asarray(v) for k, v in scores.items()}, dict(zip(cands, accs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    cands = candidates(args.quick)
    names = list(cands)
    rho, picked, oracle, default = {}, {}, {}, {}
    task_list = tasks(args.quick)
    t_start = time.perf_counter()
    for task, (source, target) in task_list.items():
        print(f"{task} ({len(cands)} candidates)")
        scores, accs = run_task(source, target, cands)
        acc = np.array([accs[n] for n in names])
        oracle[task] = 100 * acc.max()
        default[task] = 100 * accs[DEFAULT] if DEFAULT in accs else float("nan")
        for s_name, s in scores.items():
            rho[s_name, task] = float(spearmanr(s, acc).statistic)
            picked[s_name, task] = 100 * acc[int(np.argmax(s))]
            print(
                f"  {s_name:16s} rho {rho[s_name, task]:+.2f}  pick {picked[s_name, task]:.2f} "
                f"(oracle {oracle[task]:.2f}, default {default[task]:.2f})"
            )
    elapsed = time.perf_counter() - t_start
    tnames = list(task_list)
    s_names = sorted({k[0] for k in rho}, key=lambda s: list(scores).index(s))
    head = "| scorer | " + " | ".join(tnames) + " | mean |"
    sep = "|---" * (len(tnames) + 2) + "|"
    lines = [
        "# Unsupervised model selection",
        "",
        "Generated by `benchmarks/selection.py`"
        + (" `--quick`" if args.quick else "")
        + f" in {elapsed / 60:.1f} min on a shared 2-core CPU machine. "
        f"{len(cands)} candidates per task: {', '.join(names)}. "
        "Source split 70/30 (seed 0); candidates fitted on 70 % source + all target rows; "
        "scorers on the 30 % source rows + all target rows (target labels never read); "
        "true accuracy on all target rows. One split: read differences of a few points "
        "as noise.",
        "",
        "## Spearman rank correlation between score and target accuracy",
        "",
        head,
        sep,
    ]
    for s in s_names:
        vals = [rho[s, t] for t in tnames]
        lines.append(
            f"| {s} | " + " | ".join(f"{v:+.2f}" for v in vals) + f" | {np.nanmean(vals):+.2f} |"
        )
    lines += [
        "",
        "## Target accuracy (%) of the candidate each scorer picks",
        "",
        head,
        sep,
        "| oracle (best candidate) | "
        + " | ".join(f"{oracle[t]:.2f}" for t in tnames)
        + f" | {np.mean([oracle[t] for t in tnames]):.2f} |",
        f"| default ({DEFAULT}) | "
        + " | ".join(f"{default[t]:.2f}" for t in tnames)
        + f" | {np.mean([default[t] for t in tnames]):.2f} |",
    ]
    for s in s_names:
        vals = [picked[s, t] for t in tnames]
        lines.append(
            f"| {s} | " + " | ".join(f"{v:.2f}" for v in vals) + f" | {np.mean(vals):.2f} |"
        )
    text = "\n".join(lines) + "\n"
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
