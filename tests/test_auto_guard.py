"""The guard's paired test: per-row scores, the paired z, and the decision they drive."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm, ttest_rel
from sklearn.linear_model import LogisticRegression

from domainadapt import Domain
from domainadapt.datasets import make_shifted_digits
from domainadapt.model import NoAdaptation
from domainadapt.selection import (
    AutoAdapter,
    MixValScorer,
    ReverseValidationScorer,
    combined_evidence,
    ensemble_validation,
    paired_z,
)
from domainadapt.selection._ensemble import ensemble_agreement_rows


@pytest.fixture(scope="module")
def digits():
    source, target = make_shifted_digits("rotation", random_state=0)
    return Domain(source.X[:300], source.y[:300]), Domain(target.X[:300], target.y[:300])


def _stacked(source, target):
    X = np.vstack([source.X, target.X])
    y = np.concatenate([source.y, np.full(len(target.X), -1)])
    sd = np.array(["source"] * len(source.X) + ["target"] * len(target.X))
    return X, y, sd


def test_paired_z_is_the_paired_t_statistic():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 2, 200).astype(float)
    b = np.where(rng.random(200) < 0.8, a, 1 - a)
    assert paired_z(a, b) == pytest.approx(ttest_rel(a, b).statistic, rel=1e-12)
    assert paired_z(b, a) == pytest.approx(-paired_z(a, b))
    assert paired_z(a, a) == 0.0
    assert paired_z([1.0, 1.0], [0.0, 0.0]) == np.inf
    assert np.isnan(paired_z([1.0], [0.0]))
    with pytest.raises(ValueError, match="same length"):
        paired_z([1, 0, 1], [1, 0])


def test_combined_evidence_is_stouffers_sum():
    assert combined_evidence([1.0, 2.0, 3.0]) == pytest.approx(6 / np.sqrt(3))
    assert combined_evidence([2.0, np.nan]) == pytest.approx(2.0)
    assert np.isnan(combined_evidence([np.nan]))
    assert combined_evidence([np.inf, -5.0]) == np.inf


@pytest.mark.parametrize(
    "scorer",
    [ReverseValidationScorer(), MixValScorer(), MixValScorer(probe="intra"),
     MixValScorer(probe="inter")],
    ids=["reverse", "mixval", "mixval-intra", "mixval-inter"],
)
def test_row_values_average_to_the_score_and_are_paired(digits, scorer):
    source, target = digits
    X, y, sd = _stacked(source, target)
    models = [NoAdaptation(estimator=LogisticRegression(C=c, max_iter=300)).fit(source, target.X)
              for c in (1.0, 1e-3)]
    lengths = set()
    for model in models:
        score, rows = scorer.score_rows(model, X, y, sample_domain=sd)
        assert score == pytest.approx(scorer(model, X, y, sample_domain=sd), abs=1e-12)
        assert rows.mean() == pytest.approx(score, abs=1e-12)
        lengths.add(len(rows))
    assert len(lengths) == 1  # the same rows for both models: they can be paired


def test_ensemble_rows_average_to_ensv():
    rng = np.random.default_rng(1)
    preds = {k: rng.dirichlet(np.ones(3), size=50) for k in "abc"}
    rows = ensemble_agreement_rows(preds)
    scores = ensemble_validation(preds)
    assert set(np.unique(np.concatenate(list(rows.values())))) <= {0.0, 1.0}
    assert {k: v.mean() for k, v in rows.items()} == pytest.approx(scores)


def test_guard_z_recomputed_from_the_scorers_rows(digits):
    """cv_results_["guard_z"] is the Stouffer sum of the paired z of the per-row scorers."""
    source, target = digits
    auto = AutoAdapter(candidates=["no_adaptation", "coral", "subspace_alignment"],
                       estimator=LogisticRegression(max_iter=300), refit=False,
                       scorers=["reverse", "mixval", "ensv", "class_ami"],
                       random_state=0).fit(source, target.X)
    val = auto.validation_index_
    X, y, sd = _stacked(Domain(source.X[val], source.y[val]), target)
    names = list(auto.candidates_)
    rows = {n: {} for n in names}
    for s_name, scorer in {"reverse": ReverseValidationScorer(), "mixval": MixValScorer()}.items():
        for n in names:
            rows[n][s_name] = scorer.score_rows(auto.candidates_[n], X, y, sample_domain=sd)[1]
    ens = ensemble_agreement_rows({n: auto.candidates_[n].predict_proba(target.X) for n in names})
    for n in names:
        rows[n]["ensv"] = ens[n]
    res = auto.cv_results_
    for i, n in enumerate(res["candidate"]):
        if n == "no_adaptation":
            assert np.isnan(res["guard_z"][i])
            continue
        expected = combined_evidence(
            [paired_z(rows[n][s], rows["no_adaptation"][s]) for s in ("reverse", "mixval", "ensv")]
        )
        assert res["guard_z"][i] == pytest.approx(expected, rel=1e-9)


def test_lead_guard_vetoes_exactly_below_the_confidence_threshold(digits):
    """The same fits, two confidence levels on either side of the top candidate's z."""
    source, target = digits
    kwargs = dict(candidates=["no_adaptation", "coral"], estimator=LogisticRegression(max_iter=300),
                  scorers=["reverse", "mixval", "ensv"], guard="lead", random_state=0)
    first = AutoAdapter(guard_confidence=0.5, **kwargs).fit(source, target.X)
    assert first.ranking_[0] == "coral" and not first.guard_vetoed_
    z = first.cv_results_["guard_z"][list(first.cv_results_["candidate"]).index("coral")]
    assert np.isfinite(z) and z > 0
    above = AutoAdapter(guard_confidence=float(norm.cdf(z + 0.01)), **kwargs).fit(source, target.X)
    below = AutoAdapter(guard_confidence=float(norm.cdf(z - 0.01)), **kwargs).fit(source, target.X)
    assert above.guard_vetoed_ and above.best_name_ == "no_adaptation"
    assert "within the scorers' noise" in above.guard_reason_
    assert "within the scorers' noise" in above.report()
    assert not below.guard_vetoed_ and below.best_name_ == "coral"
    assert below.guard_reason_ == ""


def _by_c(table):
    """A scorer that rates each NoAdaptation candidate by its regression's C."""

    def score(estimator, X, y=None, sample_domain=None):
        return table[estimator.estimator_.C]

    return score


def test_harm_guard_vetoes_exactly_at_the_confidence_threshold(digits):
    """The default guard keeps no adaptation once the per-row evidence says "worse".

    A lookup scorer ranks two strongly regularised regressions above no adaptation, so one
    of them is ranked first; reverse validation rates it below no adaptation, row by row.
    One scorer of two against it is no majority: only the paired test can veto it.
    """
    source, target = digits
    candidates = {"no_adaptation": NoAdaptation(LogisticRegression(C=1.0, max_iter=300)),
                  "weak": NoAdaptation(LogisticRegression(C=0.05, max_iter=300)),
                  "weaker": NoAdaptation(LogisticRegression(C=0.005, max_iter=300))}
    scorers = {"lookup": _by_c({0.05: 3.0, 0.005: 2.0, 1.0: 1.0}),
               "reverse": ReverseValidationScorer()}
    kwargs = dict(candidates=candidates, scorers=scorers, random_state=0)
    first = AutoAdapter(guard=False, **kwargs).fit(source, target.X)
    assert first.ranking_[0] == "weak"
    res = first.cv_results_
    i, base = list(res["candidate"]).index("weak"), list(res["candidate"]).index("no_adaptation")
    assert res["score_reverse"][i] < res["score_reverse"][base]
    z = res["guard_z"][i]
    assert np.isfinite(z) and z < 0
    vetoes = AutoAdapter(guard_confidence=float(norm.cdf(-z - 0.01)), **kwargs).fit(
        source, target.X)
    keeps = AutoAdapter(guard="harm", guard_confidence=float(norm.cdf(-z + 0.01)),
                        **kwargs).fit(source, target.X)
    assert vetoes.guard_vetoed_ and vetoes.best_name_ == "no_adaptation"
    assert "says it is worse than no adaptation" in vetoes.guard_reason_
    assert not keeps.guard_vetoed_ and keeps.best_name_ == "weak"
    # the former guard ("lead") vetoes it for want of a majority, whatever the level
    lead = AutoAdapter(guard="lead", **kwargs).fit(source, target.X)
    assert lead.guard_vetoed_ and "most scorers" in lead.guard_reason_


def test_guard_confidence_is_validated(digits):
    source, target = digits
    with pytest.raises(ValueError, match="guard_confidence"):
        AutoAdapter(candidates=["no_adaptation"], guard_confidence=1.0).fit(source, target.X)
    with pytest.raises(ValueError, match="guard"):
        AutoAdapter(candidates=["no_adaptation"], guard="always").fit(source, target.X)


def test_candidates_with_identical_target_labels_count_once_in_ensv():
    """A copy of no adaptation must not pull EnsV's ensemble towards no adaptation."""
    from domainadapt.selection._search import _ensemble_agreement

    class Fixed:
        def __init__(self, proba):
            self.proba = np.asarray(proba, dtype=float)

        def predict_proba(self, X):
            return self.proba

    base = [[0.9, 0.1], [0.6, 0.4], [0.55, 0.45]]
    other = [[0.2, 0.8], [0.1, 0.9], [0.3, 0.7]]
    copy = [[0.8, 0.2], [0.55, 0.45], [0.7, 0.3]]  # other probabilities, the same labels
    X = np.zeros((3, 1))
    once = _ensemble_agreement({"base": Fixed(base), "other": Fixed(other)}, X)
    twice = _ensemble_agreement({"base": Fixed(base), "copy": Fixed(copy),
                                 "other": Fixed(other)}, X)
    weights = {"base": 0.5, "copy": 0.5, "other": 1.0}
    expected = ensemble_agreement_rows({"base": base, "copy": copy, "other": other}, weights)
    for name in twice:
        np.testing.assert_array_equal(twice[name], expected[name])
    # without the de-duplication the two copies would outvote "other" on row 2
    assert ensemble_agreement_rows({"base": base, "copy": copy, "other": other})["other"][2] == 0
    assert twice["other"][2] == 1
    np.testing.assert_array_equal(twice["other"], once["other"])
