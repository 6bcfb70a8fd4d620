"""Instance-based strategies: density-ratio quality, KMM solvers, edge cases, TrAdaBoost."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.base import clone
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from domainadapt import Domain
from domainadapt.datasets import make_gaussian_shift
from domainadapt.instance import (
    KLIEP,
    KMM,
    ULSIF,
    NearestNeighborWeighting,
    RuLSIF,
    TrAdaBoost,
)
from domainadapt.instance.kmm import kmm_objective

ALL = [
    lambda: KMM(),
    lambda: KLIEP(random_state=0),
    lambda: ULSIF(random_state=0),
    lambda: RuLSIF(random_state=0),
    lambda: NearestNeighborWeighting(),
]
ALL_IDS = ["kmm", "kliep", "ulsif", "rulsif", "nn"]


@pytest.fixture(scope="module")
def gauss():
    return make_gaussian_shift(400, 400, 2, shift=1.0, scale=1.0, random_state=0)


# ----------------------------------------------------------------------------- ratio quality
@pytest.mark.parametrize(
    "make",
    [
        # flatten=1: the untempered ratio estimate is what is compared
        lambda bw: KLIEP(flatten=1.0, random_state=0),
        lambda bw: ULSIF(flatten=1.0, random_state=0),
        lambda bw: RuLSIF(alpha=0.0, flatten=1.0, random_state=0),
        # the default B=2, eps=B/sqrt(n) (exact QP here) with the median bandwidth
        lambda bw: KMM(flatten=1.0),
        # a wider kernel also works
        lambda bw: KMM(bandwidth=4.0 * bw, flatten=1.0),
    ],
    ids=["kliep", "ulsif", "rulsif0", "kmm", "kmm_wide"],
)
def test_weights_rank_correlate_with_true_ratio(make, gauss):
    source, target, ratio = gauss
    bw = KMM(solver="qp", max_iter=1).fit(source, target.X).bandwidth_
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model = make(bw).fit(source, target.X)
    rho = spearmanr(model.weights_, ratio(source.X))[0]
    assert rho >= 0.8, rho
    assert np.isclose(model.weights_.mean(), 1.0)


def test_kliep_cross_validation_attributes(gauss):
    source, target, _ = gauss
    m = KLIEP(n_centers=50, random_state=0).fit(source, target.X)
    assert m.cv_scores_.shape == m.bandwidths_.shape == (5,)
    assert m.bandwidth_ == m.bandwidths_[np.nanargmax(m.cv_scores_)]
    assert m.centers_.shape == (50, 2) and np.all(m.alpha_ >= 0)
    # the ratio model is normalised on the source: mean of w(x_s) is 1
    assert np.isclose(m.compute_weights(source.X).mean(), 1.0, rtol=1e-6)
    fixed = KLIEP(bandwidths=0.7, random_state=0).fit(source, target.X)
    assert fixed.bandwidth_ == 0.7 and np.isnan(fixed.cv_scores_).all()


def test_registered_for_contract_and_benchmark():
    from domainadapt.registry import get_adapters

    names = {e.name: e for e in get_adapters("instance")}
    for name in ("kmm", "kliep", "ulsif", "rulsif", "nn_weighting"):
        assert names[name].contract and names[name].benchmark
    assert not names["tradaboost"].contract and not names["tradaboost"].benchmark


def test_rulsif_alpha_bounds_the_ratio(gauss):
    source, target, _ = gauss
    m = RuLSIF(alpha=0.5, random_state=0).fit(source, target.X)
    raw = m.compute_weights(source.X)
    assert raw.max() < 2.0 * 1.5  # r_alpha <= 1/alpha, up to estimation error
    assert m.bandwidth_ > 0 and m.reg_ > 0 and m.loo_scores_.shape == (5, 4)


@pytest.mark.parametrize("make", [lambda: KLIEP(random_state=0), lambda: ULSIF(random_state=0)])
def test_importance_weighted_least_squares_beats_unweighted(make):
    source, target, _ = make_gaussian_shift(
        500, 500, 1, shift=1.0, scale=0.6, random_state=1, task="regression"
    )
    model = make().fit(source, target.X)
    plain = LinearRegression().fit(source.X, source.y)
    weighted = LinearRegression().fit(source.X, source.y, sample_weight=model.weights_)
    err = [np.mean((m.predict(target.X) - target.y) ** 2) for m in (plain, weighted)]
    assert err[1] < 0.9 * err[0], err


# ----------------------------------------------------------------------------- KMM solvers
def test_kmm_fista_matches_exact_qp_and_constraints():
    source, target, _ = make_gaussian_shift(200, 160, 3, shift=0.8, random_state=2)
    kw = dict(B=5.0, eps=0.1)
    exact = KMM(solver="qp", **kw).fit(source, target.X)
    fista = KMM(solver="fista", device="cpu", max_iter=1500, tol=1e-8, **kw).fit(source, target.X)
    assert exact.solver_ == "qp" and fista.solver_ == "fista"
    rel = abs(fista.objective_ - exact.objective_) / abs(exact.objective_)
    assert rel < 1e-3, rel
    assert fista.objective_ >= exact.objective_ - 1e-6 * abs(exact.objective_)
    for m in (exact, fista):
        w = m.raw_weights_
        assert w.min() >= 0.0 and w.max() <= 5.0 + 1e-9
        assert abs(w.mean() - 1.0) <= 0.1 + 1e-9
        # objective_ is the QP objective at the returned weights
        obj = kmm_objective(source.X, target.X, w, m.bandwidth_)
        assert np.isclose(obj, m.objective_, rtol=1e-4)
        assert m.mmd2_ >= 0.0


def test_kmm_exact_qp_is_optimal_on_identical_domains():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    m = KMM(solver="qp").fit((X, rng.integers(0, 2, 80)), X)
    np.testing.assert_allclose(m.weights_, 1.0, atol=1e-3)
    assert m.mmd2_ < 1e-8


def test_kmm_fista_never_builds_the_kernel_matrix():
    # a 20000 x 20000 float64 kernel would take 3.2 GB; the tiled solver needs O(n d)
    rng = np.random.default_rng(0)
    Xs, Xt = rng.normal(size=(20_000, 5)), rng.normal(0.3, 1.0, size=(2_000, 5))
    m = KMM(solver="fista", device="cpu", max_iter=1).fit((Xs, rng.integers(0, 2, 20_000)), Xt)
    assert m.n_iter_ == 1 and m.weights_.shape == (20_000,) and np.isfinite(m.objective_)


def test_kmm_auto_solver_switches_on_size():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 2)), rng.integers(0, 2, 60)
    assert KMM().fit((X, y), X + 0.3).solver_ == "qp"
    assert KMM(exact_max_n=10, max_iter=5).fit((X, y), X + 0.3).solver_ == "fista"


# ----------------------------------------------------------------------------- edge cases
@pytest.mark.parametrize("make", ALL, ids=ALL_IDS)
def test_identical_domains_give_weights_near_one(make):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(150, 2))
    m = make().fit((X, rng.integers(0, 2, 150)), X)
    assert np.median(np.abs(m.weights_ - 1.0)) < 0.3


@pytest.mark.parametrize("make", ALL[1:], ids=ALL_IDS[1:])
def test_far_target_warns_and_stays_finite(make):
    rng = np.random.default_rng(4)
    Xs = rng.normal(size=(120, 2))
    Xt = rng.normal(size=(80, 2)) + 6.0
    with pytest.warns(UserWarning, match="collapsed"):
        m = make().fit((Xs, rng.integers(0, 2, 120)), Xt)
    assert np.all(np.isfinite(m.weights_)) and np.isclose(m.weights_.mean(), 1.0)


def test_far_target_kmm_box_keeps_the_effective_sample_size():
    # KMM's weights lie in [0, B] with mean >= 1 - eps: ESS >= n (1 - eps) / B, whatever
    # the shift (the default B=2 cannot collapse onto a few rows)
    rng = np.random.default_rng(4)
    Xs = rng.normal(size=(120, 2))
    Xt = rng.normal(size=(80, 2)) + 6.0
    m = KMM(flatten=1.0).fit((Xs, rng.integers(0, 2, 120)), Xt)
    assert m.ess_ >= 120 * (1.0 - m.eps_) / 2.0 - 1e-9
    assert m.raw_weights_.max() <= 2.0 + 1e-9


@pytest.mark.parametrize("make", ALL, ids=ALL_IDS)
def test_single_target_row_and_duplicates(make):
    rng = np.random.default_rng(5)
    Xs = np.repeat(rng.normal(size=(40, 2)), 2, axis=0)  # every row twice
    y = rng.integers(0, 2, 80)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        one = make().fit((Xs, y), Xs[:1] + 0.1)
        dup = make().fit((Xs, y), np.repeat(Xs[:30], 3, axis=0))
    for m in (one, dup):
        assert m.weights_.shape == (80,) and np.all(np.isfinite(m.weights_))
        assert np.isclose(m.weights_.mean(), 1.0)


@pytest.mark.parametrize(
    ("model", "match"),
    [
        (KMM(B=0), r"'B' parameter of KMM must be .* Got 0 "),
        (KMM(B=-1.0), r"'B' parameter of KMM must be .* Got \-1\.0 "),
        (KMM(eps=-0.1), r"'eps' parameter of KMM must be .* Got \-0\.1 "),
        (KMM(solver="newton"), r"'solver' parameter of KMM must be .* Got 'newton' "),
        (KMM(B=0.01, eps=0.0), "B=0.01 is infeasible"),
        (KMM(bandwidth=-1.0), r"'bandwidth' parameter of KMM must be .* Got \-1\.0 "),
        (KMM(bandwidth="mode"), r"'bandwidth' parameter of KMM must be .* Got 'mode' "),
        (KMM(max_iter=0), r"'max_iter' parameter of KMM must be .* Got 0 "),
        (KMM(device="tpu"), "device must"),
        (KLIEP(n_centers=0), r"'n_centers' parameter of KLIEP must be an int in the range \[1, inf\)\. Got 0 "),
        (KLIEP(bandwidths=[1.0, -2.0]), "bandwidths must"),
        (KLIEP(cv=1), r"'cv' parameter of KLIEP must be an int in the range \[2, inf\)\. Got 1 "),
        (RuLSIF(alpha=1.0), r"'alpha' parameter of RuLSIF must be .* \[0\.0, 1\.0\)\. Got 1\.0 "),
        (RuLSIF(alpha=-0.1), r"'alpha' parameter of RuLSIF must be .* \[0\.0, 1\.0\)\. Got -0\.1 "),
        (ULSIF(regs=[]), "regs must"),
        (NearestNeighborWeighting(smoothing=-1), r"'smoothing' parameter .* \[0\.0, inf\)\. Got -1 "),
        (KMM(flatten=1.5), r"'flatten' parameter of KMM must be .* Got 1\.5 "),
        (KLIEP(flatten="yes"), r"'flatten' parameter of KLIEP must be a str among \{'auto'\} or a float in the range \[0\.0, 1\.0\]\. Got 'yes' "),
        (ULSIF(flatten=-0.1), r"'flatten' parameter of ULSIF must be .* Got -0\.1 "),
        (RuLSIF(flatten=True), r"'flatten' parameter of RuLSIF must be .* Got True "),
        (NearestNeighborWeighting(flatten=float("nan")), r"'flatten' parameter .* Got nan "),
        (TrAdaBoost(n_estimators=0), r"'n_estimators' parameter of TrAdaBoost must be an int in the range \[1, inf\)\. Got 0 "),
    ],
)
def test_invalid_params_name_the_parameter(model, match):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(30, 2)), rng.integers(0, 2, 30)
    y_t = np.full(20, -1)
    y_t[:4] = [0, 1, 0, 1]
    with pytest.raises(ValueError, match=match):
        model.fit((X, y), (X[:20] + 0.5, y_t))


def test_weights_feed_any_downstream_learner(gauss):
    source, target, _ = gauss
    m = ULSIF(estimator=DecisionTreeClassifier(max_depth=3, random_state=0), random_state=0)
    m.fit(source, target.X)
    assert 0.0 <= m.score(target.X, target.y) <= 1.0


# ----------------------------------------------------------------------------- TrAdaBoost
def _semi(gauss, n_lab=20):
    source, target, _ = gauss
    y = np.full(len(target.X), -1)
    y[:n_lab] = target.y[:n_lab]
    return source, (target.X, y), target


def test_tradaboost_fits_and_predicts(gauss):
    source, tgt, target = _semi(gauss)
    m = TrAdaBoost(estimator=DecisionTreeClassifier(max_depth=2), random_state=0)
    m.fit(source, tgt)
    assert m.weights_.shape == (400,) and np.isclose(m.weights_.mean(), 1.0)
    proba = m.predict_proba(target.X)
    np.testing.assert_allclose(proba.sum(1), 1.0)
    assert m.score(target.X, target.y) > 0.6
    assert len(m.estimators_) == 20 and np.all(m.betas_ < 1.0)
    # the stacked form with target_labelled rows gives the same model
    from domainadapt.validation import check_source_target, stack_domains

    X, y, sd = stack_domains(*check_source_target((source.X, source.y), tgt))
    other = clone(m).fit(X, y, sample_domain=sd)
    np.testing.assert_array_equal(other.predict(target.X), m.predict(target.X))


def test_tradaboost_clone_pickle_and_determinism(gauss):
    source, tgt, target = _semi(gauss)
    m = TrAdaBoost(estimator=LogisticRegression(max_iter=500), n_estimators=6, random_state=1)
    assert not [k for k in vars(m) if k.endswith("_")]
    c = clone(m)
    assert c.get_params().keys() == m.get_params().keys()
    m.fit(source, tgt)
    restored = pickle.loads(pickle.dumps(m))
    np.testing.assert_array_equal(restored.predict(target.X), m.predict(target.X))
    np.testing.assert_allclose(restored.predict_proba(target.X), m.predict_proba(target.X))
    again = clone(m).fit(source, tgt)
    np.testing.assert_array_equal(again.weights_, m.weights_)


def test_tradaboost_needs_labelled_target(gauss):
    source, target, _ = gauss
    with pytest.raises(ValueError, match="target"):
        TrAdaBoost().fit(source, target.X)
    with pytest.raises(ValueError, match="target"):
        TrAdaBoost().fit(source, Domain(target.X))
    with pytest.raises(ValueError, match="estimator must be a classifier"):
        TrAdaBoost(estimator=LinearRegression()).fit(source, _semi(gauss)[1])
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        TrAdaBoost().predict(target.X)
