"""Built-in benchmark tasks (registered on import)."""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression

from .._domain import Domain
from ..datasets import (
    load_mnist_usps_jda,
    load_office_caltech_surf,
    make_gaussian_shift,
    make_shifted_digits,
    make_topic_shift,
)
from . import BenchmarkTask, register_task


def _logistic() -> LogisticRegression:
    return LogisticRegression(max_iter=2000)


def _digits(shift: str):
    def load(seed: int) -> tuple[Domain, Domain]:
        return make_shifted_digits(shift, random_state=seed)

    return load


for _shift, _label in (("rotation", "rotation 12°"), ("blur", "blur σ=0.9")):
    register_task(
        BenchmarkTask(
            name=f"digits {_label}",
            load=_digits(_shift),
            make_estimator=_logistic,
            protocol=(
                f"scikit-learn digits (8x8) split in two random halves per seed, target half "
                f"{_label}; pixels in [0, 1]; logistic regression; all target rows scored."
            ),
            group="digits",
        )
    )


def _gaussian(seed: int) -> tuple[Domain, Domain]:
    source, target, _ = make_gaussian_shift(1000, 1000, n_features=2, shift=1.0, scale=0.5,
                                            random_state=seed)
    return source, target


register_task(
    BenchmarkTask(
        name="gaussian covariate shift",
        load=_gaussian,
        make_estimator=_logistic,
        protocol=(
            "make_gaussian_shift: source N(0, I), target N(e, 0.25 I) in 2-D, y = 1[|<x, e>| < 1] "
            "in both domains (pure covariate shift, misspecified linear model); 1000 + 1000 rows "
            "per seed; logistic regression."
        ),
        group="synthetic",
    )
)

def _text(n_features: int, domain_specific: float):
    def load(seed: int) -> tuple[Domain, Domain]:
        return make_topic_shift(2000, 2000, n_features=n_features,
                                domain_specific=domain_specific, random_state=seed)

    return load


for _v, _ds in ((400, 0.5), (2000, 0.7)):
    register_task(
        BenchmarkTask(
            name=f"text {_v} words",
            load=_text(_v, _ds),
            make_estimator=_logistic,
            protocol=(
                f"make_topic_shift: word counts of two-class reviews, {_v} words, "
                f"domain-specific sentiment words {_ds:.0%} (a new vocabulary structure per "
                "seed), 2000 + 2000 documents, raw counts (no scaling); logistic regression."
            ),
            group="text" if _v == 400 else "text-wide",
        )
    )

_OFFICE = {"A": "amazon", "C": "caltech", "D": "dslr", "W": "webcam"}


def _office(src: str, tgt: str, per_class: int | None):
    def load(seed: int) -> tuple[Domain, Domain]:
        domains = load_office_caltech_surf(preprocess="zscore")
        source, target = domains[_OFFICE[src]], domains[_OFFICE[tgt]]
        if per_class is None:
            return source, target
        rng = np.random.default_rng(seed)
        keep = np.sort(np.concatenate([
            rng.choice(np.flatnonzero(source.y == c), min(per_class, int((source.y == c).sum())),
                       replace=False)
            for c in np.unique(source.y)
        ]))
        return Domain(source.X[keep], source.y[keep], name=source.name), target

    return load


#: (name prefix, source images per class or None for all, protocol, group)
_OFFICE_PROTOCOLS = (
    ("office", 20,
     "Office-Caltech10 SURF, L1 + per-domain z-score; 20 source images per class drawn per seed "
     "(Gong et al. 2012 standard protocol); all target images scored; logistic regression (C=1).",
     "office-caltech"),
    ("office-full", None,
     "Office-Caltech10 SURF, L1 + per-domain z-score; all source images (the full protocol of "
     "Sun et al. 2016); all target images scored; logistic regression (C=1; deterministic: seeds "
     "only change stochastic methods).",
     "office-caltech-full"),
)

for _prefix, _per_class, _protocol, _group in _OFFICE_PROTOCOLS:
    for _s in "ACDW":
        for _t in "ACDW":
            if _s != _t:
                register_task(
                    BenchmarkTask(
                        name=f"{_prefix} {_s}→{_t}",
                        load=_office(_s, _t, _per_class),
                        make_estimator=_logistic,
                        protocol=_protocol,
                        needs_data=True,
                        group=_group,
                    )
                )


def _mnist_usps(src: str, tgt: str):
    def load(seed: int) -> tuple[Domain, Domain]:
        domains = load_mnist_usps_jda(normalize="l2")
        return domains[src], domains[tgt]

    return load


for _s, _t, _label in (("mnist", "usps", "M→U"), ("usps", "mnist", "U→M")):
    register_task(
        BenchmarkTask(
            name=f"mnist-usps {_label}",
            load=_mnist_usps(_s, _t),
            make_estimator=_logistic,
            protocol=(
                "MNIST (2000) / USPS (1800) 16x16 subsets of the JDA paper, per-sample L2 "
                "normalisation; logistic regression; all target rows scored (deterministic: "
                "seeds only change stochastic methods)."
            ),
            needs_data=True,
            group="mnist-usps",
        )
    )
