"""Reproduce the published tables of the feature-based strategies (issue #5).

Table A, MNIST<->USPS (protocol of the JDA paper, Long et al. ICCV 2013): the
2000 MNIST / 1800 USPS subsets (16x16 pixels, 256 features), every row
L2-normalised (``load_mnist_usps_jda(normalize="l2")``), all source and all
target rows, one run (every method here is deterministic), 1-NN classifier
(Euclidean) trained on the adapted source and applied to the adapted target.

Table B, Office-Caltech10 SURF (800-bin bag of words), all 12 pairs. Each
histogram L1-normalised, then z-scored within each domain
(``load_office_caltech_surf(preprocess="zscore")``). Two sampling protocols:

* ``standard`` (Gong et al. 2012, used by the CORAL and SA papers): ``--rounds``
  random rounds (the papers: 20); each draws min(20, class size) source images
  per class (the sampling of ``benchmarks/office_caltech_coral.py``, seeds
  ``1000 * pair_index + round``); all target images are tested.
* ``full`` (JDA / JGSA papers, CORAL paper Table 3): all source and all target
  images, one run.
* ``jda-paper``, ``sa-paper``, ``sa-sampled``: the papers' own protocols, with the
  settings their released code uses passed explicitly
  (``benchmarks/_office_protocols.py``; issue #16).

Each adapter is fitted once per (pair, round) and its representation is scored
by two classifiers: a linear SVM (``LinearSVC``, C from {1e-3, 1e-2, 1e-1, 1}
by 2-fold stratified cross-validation on the adapted source; the CORAL
paper's classifier) and 1-NN (the SA, JDA and JGSA papers' protocol).

Paper figures: MNIST/USPS from Long et al. 2013, Table 2; Office-Caltech
``standard``/linear from Sun et al. AAAI 2016 Table 1 and ``full``/linear from
its Table 3, both as transcribed in twanvl/rwa-da
(``src/evaluation/results_from_papers.m``); ``full``/1-NN from Long et al. 2013
(NN, TCA, JDA at k=100) and Zhang et al. CVPR 2017 (JGSA paper; SA and GFK at
d=30), as transcribed in jindongwang/transferlearning (``data/benchmark.md``). We
could not check the transcriptions against the PDFs.

GFK (Gong et al. CVPR 2012) under the JGSA compilation's protocol: z-scored SURF,
PCA subspaces of dimension 30 per domain, both domains mapped by ``G^{1/2}`` and
1-NN (i.e. 1-NN under the kernel distance). BDA (Wang et al. ICDM 2017) under its
release's protocol: z-scored SURF with every row then scaled to unit L2 norm,
linear primal problem, ``k=100``, ``reg=0.1``, ``T=10`` pseudo-label rounds, 1-NN,
``mu="auto"`` (proxy A-distances, see ``domainadapt.feature.bda``).

Usage::

    DOMAINADAPT_DATA=/path/to/data python benchmarks/feature_tables.py \\
        [--rounds 20] [--tables mnist-usps,office] [--methods NA,SA,...] [--no-skada]
        [--protocols standard,full,jda-paper,sa-paper,sa-sampled]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import LinearSVC
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).parent))
from _common import command_line, machine_info, provenance, write_report  # noqa: E402
from _feature_papers import MNIST_PAPER, OFFICE_NOTE, OFFICE_PAPER, PAPER_SOURCE  # noqa: E402
from _feature_skada import skada_adapters, skada_available, skada_score  # noqa: E402
from _office_protocols import (  # noqa: E402
    PAPER_CLASSIFIERS,
    PAPER_PROTOCOLS,
    PREPROCESSING,
    SAMPLED,
    paper_methods,
    score_office,
)
from office_caltech_coral import C_GRID, LETTER, PAIRS, subsample  # noqa: E402

from domainadapt import Domain  # noqa: E402
from domainadapt.datasets import load_mnist_usps_jda, load_office_caltech_surf  # noqa: E402
from domainadapt.feature import BDA, CORAL, GFK, JDA, TCA, SubspaceAlignment  # noqa: E402
from domainadapt.feature.ot import OTMapping  # noqa: E402

RESULTS = Path(__file__).parent / "results"
ALL_METHODS = ["NA", "PCA", "SA", "GFK", "CORAL", "TCA", "JDA", "BDA", "OT", "OT-class"]
#: OT-class (class-regularised OT) is left out by default: on the 2000 x 1800 MNIST/USPS
#: problem its majorisation-minimisation needs ~1500 Sinkhorn iterations (2-4 min per fit
#: on 1 loaded core) and still misses tol=1e-5 (59.4 / 65.1 % with reg=0.1, class_reg=1).
DEFAULT_METHODS = ["NA", "PCA", "SA", "GFK", "CORAL", "TCA", "JDA", "BDA", "OT"]

Representation = Callable[[Domain, np.ndarray], tuple[np.ndarray, np.ndarray]]


# ----------------------------------------------------------------------------- methods
def adapted(adapter) -> Representation:
    """Fit ``adapter`` and return (adapted source, adapted target)."""

    def run(source: Domain, X_target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        adapter.fit(source, X_target)
        return adapter.transform(source.X, "source"), adapter.transform(X_target, "target")

    return run


def unit_rows(X: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.where(norms > 0, norms, 1.0)


def on_unit_rows(adapter) -> Representation:
    """``adapted(adapter)`` on rows scaled to unit L2 norm first (the BDA release's step)."""
    inner = adapted(adapter)

    def run(source: Domain, X_target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return inner(Domain(unit_rows(source.X), source.y), unit_rows(X_target))

    return run


def no_adaptation(source: Domain, X_target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return source.X, X_target


def pooled_pca(k: int) -> Representation:
    def run(source: Domain, X_target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pca = PCA(k, svd_solver="full").fit(np.vstack([source.X, X_target]))
        return pca.transform(source.X), pca.transform(X_target)

    return run


# Settings per table. Each entry: (representation factory, one-line description).
def method_table(
    na: str, pca: str, sa_d: int | str, sa: str, kernel_reg: float
) -> dict[str, tuple[Callable[[], Representation], str]]:
    """The rows of a table: the descriptions of NA, PCA and SA, SA's ``n_components``
    and ``kernel_reg``, TCA's ``mu`` and JDA's ``reg``, differ between the tables."""
    r = f"{kernel_reg:g}"
    return {
        "NA": (lambda: no_adaptation, na),
        "PCA": (lambda: pooled_pca(100), pca),
        "SA": (lambda: adapted(SubspaceAlignment(n_components=sa_d, preprocess=None)), sa),
        "GFK": (
            lambda: adapted(GFK(n_components=30)),
            "GFK(k=30; 1-NN under the kernel distance)",
        ),
        "CORAL": (
            lambda: adapted(CORAL(reg=1.0, ridge="average")),
            "CORAL(reg=1, ridge='average'; the default before 0.2)",
        ),
        "TCA": (
            lambda: adapted(TCA(n_components=100, kernel="linear", mu=kernel_reg)),
            f"TCA(k=100, linear, mu={r})",
        ),
        "JDA": (
            lambda: adapted(JDA(n_components=100, kernel="linear", reg=kernel_reg, n_iter=10)),
            f"JDA(k=100, linear, reg={r}, T=10)",
        ),
        "BDA": (
            lambda: on_unit_rows(
                BDA(n_components=100, mu="auto", kernel="linear", reg=0.1, n_iter=10)
            ),
            "BDA(k=100, linear, reg=0.1, T=10, mu='auto' from proxy A-distances; rows "
            "scaled to unit L2 norm first, as the BDA release does)",
        ),
        "OT": (
            lambda: adapted(OTMapping(method="sinkhorn", reg=0.1)),
            "OTMapping(sinkhorn, reg=0.1 x median cost)",
        ),
        "OT-class": (
            lambda: adapted(OTMapping(method="sinkhorn", reg=0.1, class_reg=1.0, class_reg_iter=5)),
            "OTMapping(sinkhorn, reg=0.1, class_reg=1, 5 MM steps)",
        ),
    }


MNIST_METHODS = method_table(
    "raw L2-normalised pixels",
    "PCA (k=100) fitted on source+target",
    50,
    "SubspaceAlignment(d=50, preprocess=None; the defaults before 0.2)",
    kernel_reg=0.1,
)


def office_methods(protocol: str) -> dict[str, tuple[Callable[[], Representation], str]]:
    if protocol in PAPER_PROTOCOLS:
        return paper_methods(protocol, office_methods("full"))
    standard = protocol == "standard"
    return method_table(
        "z-scored SURF",
        "PCA (k=100) on source+target",
        "auto" if standard else 30,
        f"SA ({'d by the SA bound' if standard else 'd=30'}, preprocess=None)",
        kernel_reg=1.0,
    )


# ----------------------------------------------------------------------------- classifiers
#: C grid of the linear SVM: the lower half of the CORAL script's grid (``C_GRID``), to keep
#: a run short; on z-scored 800-d SURF with 200 source rows the CV picks C <= 1e-1.
SVM_C_GRID = [c for c in C_GRID if c <= 1.0]


def linear_svm(seed: int) -> GridSearchCV:
    return GridSearchCV(
        LinearSVC(max_iter=1000),
        {"C": SVM_C_GRID},
        cv=StratifiedKFold(2, shuffle=True, random_state=seed),
    )


CLASSIFIERS = {
    "1-NN": lambda seed: KNeighborsClassifier(1),
    "linear SVM": linear_svm,
}
SVM_TEXT = "LinearSVC, C ∈ {1e-3, 1e-2, 1e-1, 1} by 2-fold stratified CV on the adapted source"


def office_classifiers(protocol: str) -> dict[str, tuple[Callable | None, str]]:
    """name -> (factory(seed) or None for the SA release's SVM, description)."""
    ours = {"1-NN": (CLASSIFIERS["1-NN"], "1-NN (Euclidean)"), "linear SVM": (linear_svm, SVM_TEXT)}
    if protocol == "jda-paper":
        return {**PAPER_CLASSIFIERS[protocol], "linear SVM": ours["linear SVM"]}
    return PAPER_CLASSIFIERS.get(protocol, ours)


def score(clf, Zs, ys, Zt, yt) -> float:
    return float(np.mean(clf.fit(Zs, ys).predict(Zt) == yt))


# ----------------------------------------------------------------------------- table A
MNIST_DIRECTIONS = [("usps", "mnist"), ("mnist", "usps")]


def run_mnist(methods: list[str], use_skada: bool, data_home: str | None) -> str:
    domains = load_mnist_usps_jda(data_home=data_home, normalize="l2")
    knn = CLASSIFIERS["1-NN"](0)
    ours: dict[str, list[float]] = {}
    seconds: dict[str, float] = {}
    for name in methods:
        factory, _ = MNIST_METHODS[name]
        ours[name], seconds[name] = [], 0.0
        for src, tgt in MNIST_DIRECTIONS:
            start = time.perf_counter()
            Zs, Zt = factory()(domains[src], domains[tgt].X)
            ours[name].append(100 * score(knn, Zs, domains[src].y, Zt, domains[tgt].y))
            seconds[name] += time.perf_counter() - start
        print(f"  mnist-usps {name}: {ours[name]} ({seconds[name]:.1f} s)", flush=True)
    skada_cells: dict[str, list[str]] = {}
    if use_skada:
        for settings in ("default", "ours"):
            for name, make in skada_adapters(settings).items():
                cells = skada_cells.setdefault(name, ["", ""])
                for i, (src, tgt) in enumerate(MNIST_DIRECTIONS):
                    try:
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore")
                            acc = 100 * skada_score(make, knn, domains[src], domains[tgt])
                        text = f"{acc:.2f}"
                    except Exception as exc:  # report, do not stop the table
                        text = f"error ({type(exc).__name__})"
                    cells[i] += ("" if settings == "default" else " / ") + text
                print(f"  skada {settings} {name}: {cells}", flush=True)

    lines = [
        "### MNIST ↔ USPS (JDA protocol)",
        "",
        "Target accuracy (%), one deterministic run. Data: the 2000 MNIST / 1800 USPS "
        "subsets of the TCA/JDA papers, 16x16 pixels, every row L2-normalised; all source and "
        "all target rows. Classifier: 1-NN (Euclidean) trained on the adapted source, applied "
        "to the adapted target. Paper: Long et al. ICCV 2013 (JDA), Table 2. We did not find "
        "published SA or CORAL figures for these exact subsets in the sources we could "
        "search (—). skada 0.6 cells: its adapter with its defaults / with the settings of "
        "our row (SA d=50; TCA linear, k=100, mu=0.1; CORAL reg=1 absolute; OT: "
        "`EntropicOTMappingAdapter(reg_e=0.1, norm='median')`), same 1-NN; its OT default "
        "is exact EMD.",
        "",
        "| method | settings | USPS→MNIST | paper | skada | MNIST→USPS | paper | skada | "
        "time (s) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in methods:
        paper = MNIST_PAPER.get(name)
        sk = skada_cells.get(name, ["—", "—"]) if use_skada else ["not run", "not run"]
        cells = []
        for i in range(2):
            p = f"{paper[i]:.2f}" if paper else "—"
            cells.append(f"{ours[name][i]:.2f} | {p} | {sk[i]}")
        lines.append(
            f"| {name} | {MNIST_METHODS[name][1]} | {cells[0]} | {cells[1]} | {seconds[name]:.1f} |"
        )
    return "\n".join(lines)


# ----------------------------------------------------------------------------- table B
def run_office(
    protocol: str, methods: list[str], rounds: int, use_skada: bool, data_home: str | None
) -> tuple[dict, dict, dict, float]:
    domains = load_office_caltech_surf(data_home=data_home, preprocess="zscore")
    n_rounds = rounds if protocol in SAMPLED else 1
    table = office_methods(protocol)
    classifiers = office_classifiers(protocol)
    acc = {(clf, m): np.zeros((len(PAIRS), n_rounds)) for clf in classifiers for m in methods}
    seconds = dict.fromkeys(methods, 0.0)
    skada_acc: dict[tuple[str, str], np.ndarray] = {}
    start_all = time.perf_counter()
    for i, pair in enumerate(PAIRS):
        source_full, target = domains[LETTER[pair[0]]], domains[LETTER[pair[2]]]
        for r in range(n_rounds):
            rng = np.random.default_rng(1000 * i + r)
            source = source_full
            if protocol in SAMPLED:
                per_class = (SAMPLED[protocol] or {}).get(source_full.name, 20)
                source = subsample(source_full, per_class, rng)
            for m in methods:
                start = time.perf_counter()
                fn = table[m][0]()
                extra = (source_full,) if getattr(fn, "needs_full_source", False) else ()
                rep = fn(source, target.X, *extra)
                seconds[m] += time.perf_counter() - start
                for clf_name, (make_clf, _) in classifiers.items():
                    acc[(clf_name, m)][i, r] = score_office(make_clf, rep, source.y, target.y, r)
            if use_skada and protocol == "full":  # skada: full protocol and 1-NN only
                for name, make in skada_adapters("default").items():
                    for clf_name, make_clf in [("1-NN", CLASSIFIERS["1-NN"])]:
                        key = (clf_name, name)
                        skada_acc.setdefault(key, np.full((len(PAIRS), 1), np.nan))
                        try:
                            with warnings.catch_warnings():
                                warnings.simplefilter("ignore")
                                skada_acc[key][i, 0] = skada_score(
                                    make, make_clf(0), source, target
                                )
                        except Exception:  # noqa: BLE001 - reported as a missing cell
                            pass
        print(
            f"  office {protocol} {pair}: {time.perf_counter() - start_all:.0f} s elapsed",
            flush=True,
        )
    return acc, seconds, skada_acc, time.perf_counter() - start_all


def office_markdown(
    protocol: str,
    methods: list[str],
    acc: dict,
    seconds: dict,
    skada_acc: dict,
    total: float,
) -> str:
    table = office_methods(protocol)
    classifiers = office_classifiers(protocol)
    n_rounds = next(iter(acc.values())).shape[1]
    per_class = (
        "20 source images per class (8 when the source is DSLR or Webcam; fewer where a class "
        "has fewer)"
        if protocol == "sa-sampled"
        else "min(20, class size) source images per class"
    )
    sampling = (
        f"{n_rounds} rounds; each draws {per_class} (seeds 1000·pair + round), all target "
        "images tested; mean ± std over rounds"
        if protocol in SAMPLED
        else "all source and all target images, one run"
    )
    settings = "; ".join(f"{m}: {table[m][1]}" for m in methods)
    parts = []
    preprocessing = PREPROCESSING.get(
        protocol, "each histogram L1-normalised, then z-scored within each domain"
    )
    for clf_name, (_, clf_text) in classifiers.items():
        paper = OFFICE_PAPER.get((protocol, clf_name), {})
        lines = [
            f"### Office-Caltech10 SURF, {protocol} protocol, {clf_name}",
            "",
            f"Target accuracy (%), ours (paper). Protocol `{protocol}`. Sampling: {sampling}. "
            f"Preprocessing: {preprocessing}. Classifier: "
            f"{clf_text}, trained on the adapted source. Settings: {settings}. Paper: "
            f"{PAPER_SOURCE[(protocol, clf_name)]}. Adapter fitting time over the whole "
            "protocol (shared by the classifiers): "
            + ", ".join(f"{m} {seconds[m]:.0f} s" for m in methods)
            + f"; total {total:.0f} s.",
            "",
            "| pair | " + " | ".join(methods) + " |",
            "|---|" + "---|" * len(methods),
        ]
        for i, pair in enumerate(PAIRS):
            cells = []
            for m in methods:
                a = 100 * acc[(clf_name, m)][i]
                cell = f"{a.mean():.1f}" + (f" ± {a.std():.1f}" if n_rounds > 1 else "")
                if m in paper:
                    cell += f" ({paper[m][i]:.1f})"
                cells.append(cell)
            lines.append(f"| {pair} | " + " | ".join(cells) + " |")
        avg = []
        for m in methods:
            cell = f"**{100 * acc[(clf_name, m)].mean():.1f}**"
            if m in paper:
                cell += f" ({np.mean(paper[m]):.1f})"
            avg.append(cell)
        lines.append("| **average** | " + " | ".join(avg) + " |")
        sk = {k[1]: v for k, v in skada_acc.items() if k[0] == clf_name}
        if sk:
            lines += [
                "",
                f"skada 0.6 with its defaults ({', '.join(sk)}: `SubspaceAlignmentAdapter()`, "
                "`TransferComponentAnalysisAdapter()` (RBF, mu=0.1), `CORALAdapter()` "
                "(Ledoit–Wolf), `OTMappingAdapter()` (exact OT)), same data and "
                f"{clf_name}; average over pairs: "
                + ", ".join(f"{name} {100 * np.nanmean(v):.1f}" for name, v in sk.items())
                + ".",
            ]
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


# ----------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=20, help="rounds of the standard protocol")
    parser.add_argument("--tables", default="mnist-usps,office")
    parser.add_argument("--methods", default=",".join(DEFAULT_METHODS), help=str(ALL_METHODS))
    parser.add_argument(
        "--protocols", default="standard,full", help="standard, full, " + ", ".join(PAPER_PROTOCOLS)
    )
    parser.add_argument("--no-skada", action="store_true", help="skip the skada columns")
    parser.add_argument("--threads", type=int, default=1, help="BLAS and torch threads")
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--output-dir", default=str(RESULTS))
    args = parser.parse_args()
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = sorted(set(methods) - set(ALL_METHODS))
    if unknown:
        parser.error(f"unknown --methods {unknown}; choose from {ALL_METHODS}")
    tables = {t.strip() for t in args.tables.split(",")}
    use_skada = not args.no_skada and skada_available()
    torch.set_num_threads(args.threads)
    command = command_line(__file__)
    machine = f"- Machine: {machine_info()}; {args.threads} BLAS/torch thread(s)."
    warnings.filterwarnings("ignore", category=ConvergenceWarning)  # LinearSVC on tiny folds
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    with threadpool_limits(args.threads):
        if "mnist-usps" in tables:
            start = time.perf_counter()
            text = run_mnist([m for m in methods], use_skada, args.data_home)
            print(text, "\n", flush=True)
            write_report(
                out / "feature_mnist_usps.md",
                "Feature-based strategies on MNIST ↔ USPS",
                [provenance(command, seconds=time.perf_counter() - start), "", machine, "", text],
            )
        if "office" in tables:
            start = time.perf_counter()
            parts = []
            office = methods
            for protocol in [p.strip() for p in args.protocols.split(",") if p.strip()]:
                if protocol not in ("standard", "full", *PAPER_PROTOCOLS):
                    parser.error(f"unknown protocol {protocol!r}")
                own = list(office_methods(protocol)) if protocol in PAPER_PROTOCOLS else office
                acc, seconds, skada_acc, total = run_office(
                    protocol, own, args.rounds, use_skada, args.data_home
                )
                text = office_markdown(protocol, own, acc, seconds, skada_acc, total)
                print(text, "\n", flush=True)
                parts += [text, ""]
            parts += [OFFICE_NOTE, ""]
            head = [
                provenance(
                    command,
                    seconds=time.perf_counter() - start,
                    detail=f"(the standard protocol averages {args.rounds} rounds here; the "
                    "papers average 20)",
                ),
                "",
                machine,
                "",
            ]
            write_report(
                out / "feature_office_caltech.md",
                "Feature-based strategies on Office-Caltech10 SURF",
                head + parts,
            )


if __name__ == "__main__":
    main()
