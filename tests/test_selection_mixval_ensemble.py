"""MixVal, information maximisation, BNM, SoftmaxCorr and the scorer ensembles.

Hand-computed values on stand-in classifiers with known outputs, invariances,
and the rank aggregation used by the automatic choice of method.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from domainadapt import make_da_pipeline
from domainadapt.feature import CORAL
from domainadapt.selection import (
    RECOMMENDED_SCORERS,
    BatchNuclearNormScorer,
    EnsembleScorer,
    InformationMaximizationScorer,
    MixValScorer,
    PredictionEntropyScorer,
    ReverseValidationScorer,
    SoftmaxCorrelationScorer,
    batch_nuclear_norm,
    ensemble_validation,
    get_scorers,
    information_maximization,
    mixval_scores,
    rank_candidates,
    softmax_correlation,
)
from domainadapt.validation import check_source_target, stack_domains


class _Threshold:
    """Stand-in classifier on the first feature: class 1 iff x0 > threshold."""

    def __init__(self, threshold: float):
        self.threshold = threshold
        self.classes_ = np.array([0, 1])
        self.seen = []

    def predict(self, X):
        X = np.asarray(X)
        self.seen.append(X.copy())
        return (X[:, 0] > self.threshold).astype(int)


class _SoftmaxOfX:
    """Stand-in: class probabilities are the softmax of the rows themselves."""

    def predict_proba(self, X):
        e = np.exp(np.asarray(X, dtype=float))
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X):
        return np.asarray(X).argmax(1)


def _two_clusters(n_per=6):
    X_t = np.r_[-np.ones(n_per), np.ones(n_per)][:, None] * np.array([[1.0, 0.0]])
    X_s = np.random.default_rng(0).normal(size=(5, 2))
    X = np.r_[X_s, X_t]
    sd = np.array(["source"] * len(X_s) + ["target"] * len(X_t))
    y = np.r_[np.zeros(len(X_s), int), np.zeros(len(X_t), int)]
    return X, y, sd


# ----------------------------------------------------------------- MixVal by hand
def test_mixval_boundary_in_the_middle_scores_one():
    # clusters at -1 and +1, boundary at 0: a 0.55/0.45 mix stays on the side of its
    # dominant row (-0.1 or +0.1), and a same-cluster mix stays in the cluster
    X, y, sd = _two_clusters()
    assert MixValScorer()(_Threshold(0.0), X, y, sample_domain=sd) == pytest.approx(1.0)
    intra, inter = mixval_scores(_Threshold(0.0).predict, X[sd == "target"])
    assert (intra, inter) == (1.0, 1.0)


def test_mixval_boundary_next_to_a_cluster_fails_half_the_inter_probes():
    # boundary at 0.5: a mix dominated by a +1 row sits at +0.1 < 0.5 and is called 0
    # (wrong), one dominated by a -1 row sits at -0.1 (right). A permutation sends as
    # many positive rows to negative ones as the reverse, so exactly half of the
    # inter-cluster probes fail, whatever the pairing.
    X, y, sd = _two_clusters()
    X_t = X[sd == "target"]
    for seed in range(5):
        intra, inter = mixval_scores(_Threshold(0.5).predict, X_t, random_state=seed)
        assert intra == 1.0 and inter == 0.5
    assert MixValScorer(probe="inter")(_Threshold(0.5), X, y, sample_domain=sd) == 0.5
    assert MixValScorer(probe="intra")(_Threshold(0.5), X, y, sample_domain=sd) == 1.0
    assert MixValScorer()(_Threshold(0.5), X, y, sample_domain=sd) == pytest.approx(0.75)
    # and entropy-free: the ICE scores depend on hard predictions only


def test_mixval_collapsed_model_has_no_inter_probe():
    X, y, sd = _two_clusters()
    collapsed = _Threshold(10.0)  # predicts 0 everywhere
    intra, inter = mixval_scores(collapsed.predict, X[sd == "target"])
    assert intra == 1.0 and inter == 0.0
    assert MixValScorer()(collapsed, X, y, sample_domain=sd) == pytest.approx(0.5)
    assert MixValScorer()(_Threshold(0.0), X, y, sample_domain=sd) > 0.5


def test_mixval_mixes_target_rows_only_with_the_mix_ratio():
    X, y, sd = _two_clusters()
    model = _Threshold(0.0)
    MixValScorer(mix_ratio=0.7, n_rounds=2)(model, X, y, sample_domain=sd)
    first, mixed = model.seen
    np.testing.assert_array_equal(first, X[sd == "target"])  # pseudo-labels: target rows
    # every mixed row is 0.7 a + 0.3 b of two target rows: first feature in {±1, ±0.4}
    assert np.isin(np.round(mixed[:, 0], 12), [-1.0, 1.0, -0.4, 0.4]).all()
    assert len(mixed) <= 2 * len(first)
    np.testing.assert_array_equal(mixed[:, 1], 0.0)


def test_mixval_ignores_source_rows():
    X, y, sd = _two_clusters()
    X2 = X.copy()
    X2[sd == "source"] = 100.0
    scorer = MixValScorer()
    for thr in (0.0, 0.5):
        assert scorer(_Threshold(thr), X, y, sample_domain=sd) == scorer(
            _Threshold(thr), X2, y, sample_domain=sd
        )


def test_mixval_prefers_the_adapted_model_on_a_shift(shifted_blobs):
    X_s, y_s, X_t, y_t = shifted_blobs
    X, y, sd = stack_domains(*check_source_target((X_s, y_s), X_t))
    good = make_da_pipeline(StandardScaler(), LogisticRegression()).fit(X, y, sample_domain=sd)
    rng = np.random.default_rng(0)
    y_bad = y.copy()
    y_bad[sd == "source"] = rng.permutation(y_bad[sd == "source"])
    bad = make_da_pipeline(StandardScaler(), LogisticRegression(C=1e-4)).fit(
        X, y_bad, sample_domain=sd
    )
    acc_good = np.mean(good.predict(X_t) == y_t)
    acc_bad = np.mean(bad.predict(X_t) == y_t)
    assert acc_good > acc_bad + 0.2
    scorer = MixValScorer()
    assert scorer(good, X, y, sample_domain=sd) > scorer(bad, X, y, sample_domain=sd)


def test_mixval_parameter_errors():
    for bad in (0.5, 1.0, 0.3, "0.6", True):
        with pytest.raises(ValueError, match="mix_ratio"):
            MixValScorer(mix_ratio=bad)
    with pytest.raises(ValueError, match="probe"):
        MixValScorer(probe="both_")
    with pytest.raises(ValueError, match="n_rounds"):
        MixValScorer(n_rounds=0)
    with pytest.raises(ValueError, match="max_rows"):
        MixValScorer(max_rows=1)
    with pytest.raises(ValueError, match="random_state"):
        MixValScorer(random_state=None)
    with pytest.raises(ValueError, match="at least two"):
        mixval_scores(lambda X: np.zeros(len(X)), np.zeros((1, 2)))


# --------------------------------------------------- IM, BNM, SoftmaxCorr by hand
P_SOFT = np.array([[0.6, 0.4], [0.4, 0.6]])


def test_information_maximization_by_hand():
    h = lambda p: -sum(v * np.log(v) for v in p if v > 0)  # noqa: E731
    assert information_maximization(np.eye(2)) == pytest.approx(np.log(2))
    assert information_maximization(np.full((3, 2), 0.5)) == pytest.approx(0.0, abs=1e-12)
    assert information_maximization([[1.0, 0.0], [1.0, 0.0]]) == pytest.approx(0.0, abs=1e-9)
    P = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]])
    expected = h(P.mean(0)) - np.mean([h(p) for p in P])
    assert information_maximization(P) == pytest.approx(expected)


def test_batch_nuclear_norm_by_hand():
    # symmetric [[.6,.4],[.4,.6]] has eigenvalues 1.0 and 0.2: ||P||_* = 1.2, /sqrt(2*2)
    assert batch_nuclear_norm(P_SOFT) == pytest.approx(0.6)
    assert batch_nuclear_norm(np.eye(3)[[0, 1, 2, 0, 1, 2]]) == pytest.approx(1.0)
    assert batch_nuclear_norm(np.eye(3)[[0] * 6]) == pytest.approx(1 / np.sqrt(3))


def test_softmax_correlation_by_hand():
    # C = P'P/2 = [[.26,.24],[.24,.26]]: tr 0.52, ||C||_F = sqrt(2*.26^2 + 2*.24^2)
    expected = 0.52 / (np.sqrt(2 * 0.26**2 + 2 * 0.24**2) * np.sqrt(2))
    assert softmax_correlation(P_SOFT) == pytest.approx(expected)
    assert softmax_correlation(np.eye(4)[[0, 1, 2, 3, 3, 2, 1, 0]]) == pytest.approx(1.0)
    assert softmax_correlation(np.eye(4)[[2] * 8]) == pytest.approx(0.5)  # 1/sqrt(4)
    assert softmax_correlation(np.full((5, 4), 0.25)) == pytest.approx(0.5)


@pytest.mark.parametrize("fn", [information_maximization, batch_nuclear_norm, softmax_correlation])
def test_prediction_scores_invariant_to_row_and_class_order(fn):
    P = np.random.default_rng(0).dirichlet(np.ones(4) * 0.5, 30)
    rows, cols = np.random.default_rng(1).permutation(30), [2, 0, 3, 1]
    assert fn(P[rows][:, cols]) == pytest.approx(fn(P))


@pytest.mark.parametrize("fn", [information_maximization, batch_nuclear_norm, softmax_correlation])
def test_diversity_term_ranks_collapse_below_balanced(fn):
    # both predictors are fully confident, so entropy cannot tell them apart
    balanced = np.eye(3)[np.arange(30) % 3] * 0.98 + 0.01 / 1.5
    collapsed = np.eye(3)[np.zeros(30, int)] * 0.98 + 0.01 / 1.5
    assert fn(balanced) > fn(collapsed) + 0.1


def test_probability_scorers_read_target_probabilities_only():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 3))
    sd = np.array(["source"] * 4 + ["target"] * 8)
    P_t = _SoftmaxOfX().predict_proba(X[4:])
    X2 = X.copy()
    X2[:4] = 50.0
    for scorer, fn in [
        (InformationMaximizationScorer(), information_maximization),
        (BatchNuclearNormScorer(), batch_nuclear_norm),
        (SoftmaxCorrelationScorer(), softmax_correlation),
    ]:
        s = scorer(_SoftmaxOfX(), X, None, sample_domain=sd)
        assert s == pytest.approx(fn(P_t))
        assert scorer(_SoftmaxOfX(), X2, None, sample_domain=sd) == s


def test_probability_score_input_errors():
    with pytest.raises(ValueError, match="2-D"):
        batch_nuclear_norm(np.ones(3))
    with pytest.raises(ValueError, match="non-negative"):
        softmax_correlation([[0.5, -0.5]])
    with pytest.raises(ValueError, match="max_rows"):
        InformationMaximizationScorer(max_rows=0)


# ------------------------------------------------------------- rank aggregation
def test_rank_candidates_by_hand():
    scores = {
        "a": {"s": 0.9, "t": 10.0},
        "b": {"s": 0.5, "t": 30.0},
        "c": {"s": 0.7, "t": 20.0},
    }
    r = rank_candidates(scores)
    # s ranks: a 1, b 0, c .5 ; t ranks: a 0, b 1, c .5  -> a .5, b .5, c .5
    assert r.aggregate == pytest.approx({"a": 0.5, "b": 0.5, "c": 0.5})
    assert r.order == ["a", "b", "c"]  # ties keep the input order
    r = rank_candidates(scores, weights={"s": 3.0, "t": 1.0})
    assert r.aggregate == pytest.approx({"a": 0.75, "b": 0.25, "c": 0.5})
    assert r.best == "a" and r.order == ["a", "c", "b"]
    r = rank_candidates(scores, scorers=["t"])
    assert r.order == ["b", "c", "a"] and r.scorers == ["t"]
    z = rank_candidates(scores, method="zscore")
    zs = (np.array([0.9, 0.5, 0.7]) - 0.7) / np.std([0.9, 0.5, 0.7])
    assert z.per_scorer["s"]["a"] == pytest.approx(zs[0])
    assert z.aggregate["c"] == pytest.approx(0.0)


def test_rank_candidates_scale_invariance_and_failures():
    rng = np.random.default_rng(0)
    raw = {f"m{i}": {"s": rng.random(), "t": rng.random()} for i in range(6)}
    # any increasing transform of one scorer leaves the rank ensemble unchanged
    squashed = {k: {"s": np.exp(5 * v["s"]), "t": v["t"] * 1000 - 3} for k, v in raw.items()}
    assert rank_candidates(raw).aggregate == pytest.approx(rank_candidates(squashed).aggregate)
    # a failed (NaN) or missing score counts as the worst for that scorer
    raw["m0"]["s"] = float("nan")
    del raw["m1"]["t"]
    r = rank_candidates(raw)
    assert r.per_scorer["s"]["m0"] == 0.0 and r.per_scorer["t"]["m1"] == 0.0


def test_rank_candidates_errors():
    with pytest.raises(ValueError, match="method"):
        rank_candidates({"a": {"s": 1.0}}, method="borda")
    with pytest.raises(ValueError, match="non-empty"):
        rank_candidates({})
    with pytest.raises(ValueError, match="appear in no"):
        rank_candidates({"a": {"s": 1.0}}, scorers=["x"])
    with pytest.raises(ValueError, match="weights"):
        rank_candidates({"a": {"s": 1.0}}, weights={"s": -1.0})
    with pytest.raises(ValueError, match="mapping"):
        rank_candidates({"a": 1.0})


# ------------------------------------------------------------ EnsembleScorer
def test_ensemble_scorer_is_the_mean_of_its_members(shifted_blobs):
    X_s, y_s, X_t, _ = shifted_blobs
    X, y, sd = stack_domains(*check_source_target((X_s, y_s), X_t))
    model = make_da_pipeline(StandardScaler(), CORAL(), LogisticRegression())
    model.fit(X, y, sample_domain=sd)
    ens = EnsembleScorer()
    assert tuple(ens.scorers_) == RECOMMENDED_SCORERS
    parts = ens.member_scores(model, X, y, sample_domain=sd)
    assert set(parts) == set(RECOMMENDED_SCORERS)
    assert ens(model, X, y, sample_domain=sd) == pytest.approx(np.mean(list(parts.values())))
    members = {"rev": ReverseValidationScorer(), "ent": PredictionEntropyScorer()}
    weighted = EnsembleScorer(members, weights={"rev": 3.0, "ent": 1.0})
    p = weighted.member_scores(model, X, y, sample_domain=sd)
    assert weighted(model, X, y, sample_domain=sd) == pytest.approx(
        (3 * p["rev"] + p["ent"]) / 4
    )


def test_ensemble_scorer_errors():
    with pytest.raises(ValueError, match="unknown names"):
        EnsembleScorer(["reverse", "nope"])
    with pytest.raises(ValueError, match="not a string"):
        EnsembleScorer("reverse")
    with pytest.raises(ValueError, match="weights"):
        EnsembleScorer(["reverse"], weights={"mixval": 1.0})
    with pytest.raises(ValueError, match="weights must be"):
        EnsembleScorer(["reverse", "mixval"], weights={"reverse": -1.0})


def test_recommended_scorers_are_registered():
    assert set(RECOMMENDED_SCORERS) <= set(get_scorers())
    assert {"mixval", "im", "bnm", "corr_c"} <= set(get_scorers())


# ------------------------------------------------------------------------ EnsV
def test_ensemble_validation_by_hand():
    # three candidates on four target rows, two classes
    a = np.array([[0.9, 0.1], [0.8, 0.2], [0.4, 0.6], [0.3, 0.7]])  # 0 0 1 1
    b = np.array([[0.6, 0.4], [0.3, 0.7], [0.2, 0.8], [0.1, 0.9]])  # 0 1 1 1
    c = np.array([[0.2, 0.8], [0.7, 0.3], [0.6, 0.4], [0.4, 0.6]])  # 1 0 0 1
    # mean: [.567,.433] [.6,.4] [.4,.6] [.267,.733] -> pseudo-labels 0 0 1 1
    out = ensemble_validation({"a": a, "b": b, "c": c})
    assert out == pytest.approx({"a": 1.0, "b": 0.75, "c": 0.5})
    # weights move the ensemble: b alone
    out = ensemble_validation({"a": a, "b": b, "c": c}, weights={"a": 0.0, "c": 0.0})
    assert out["b"] == 1.0 and out["a"] == pytest.approx(0.75)
    # hard labels: majority vote
    labels = {"a": np.array([0, 0, 1, 1]), "b": np.array([0, 1, 1, 1]), "c": np.array([1, 0, 0, 1])}
    assert ensemble_validation(labels) == pytest.approx({"a": 1.0, "b": 0.75, "c": 0.5})


def test_ensemble_validation_is_label_permutation_equivariant():
    rng = np.random.default_rng(0)
    preds = {f"m{i}": rng.dirichlet(np.ones(3), 20) for i in range(5)}
    cols = [2, 0, 1]
    permuted = {k: v[:, cols] for k, v in preds.items()}
    assert ensemble_validation(preds) == pytest.approx(ensemble_validation(permuted))


def test_ensemble_validation_errors():
    with pytest.raises(ValueError, match="non-empty"):
        ensemble_validation({})
    with pytest.raises(ValueError, match="all be 1-D"):
        ensemble_validation({"a": np.zeros(3), "b": np.zeros((3, 2))})
    with pytest.raises(ValueError, match="same shape"):
        ensemble_validation({"a": np.zeros((3, 2)), "b": np.zeros((4, 2))})
    with pytest.raises(ValueError, match="unknown candidates"):
        ensemble_validation({"a": np.zeros(3)}, weights={"b": 1.0})
