"""Defaults of the instance-based strategies: tempering (``flatten``) and KMM's exact path.

The properties checked here are the ones the defaults were changed for: the tempered
weights are the untempered ones to a power chosen from the data (``flatten=1``
recovers them exactly), the power drops when the domains barely overlap (so the
effective sample size rises) and stays high under a genuine covariate shift, and the
default configuration does not lose accuracy against no adaptation on a shift that
reweighting cannot fix, while it keeps its gain on one that it can.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.linear_model import LogisticRegression

from domainadapt._tempering import (
    FLATTEN_GRID,
    effective_sample_size,
    select_flattening,
    temper_weights,
)
from domainadapt.datasets import make_gaussian_shift, make_shifted_digits
from domainadapt.instance import (
    KLIEP,
    KMM,
    ULSIF,
    ClassifierDensityRatio,
    NearestNeighborWeighting,
    RuLSIF,
)

MAKERS = {
    "classifier_ratio": lambda **kw: ClassifierDensityRatio(random_state=0, **kw),
    "kmm": lambda **kw: KMM(**kw),
    "kliep": lambda **kw: KLIEP(random_state=0, **kw),
    "ulsif": lambda **kw: ULSIF(random_state=0, **kw),
    "rulsif": lambda **kw: RuLSIF(random_state=0, **kw),
    "nn": lambda **kw: NearestNeighborWeighting(**kw),
}


def _quiet_fit(model, source, target):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return model.fit(source, target)


@pytest.fixture(scope="module")
def covariate_shift():
    # the synthetic benchmark task: reweighting is exactly right here
    return make_gaussian_shift(600, 600, 2, shift=1.0, scale=0.5, random_state=0)


@pytest.fixture(scope="module")
def separable():
    # target far outside the source: the ratio is extrapolated, weights collapse
    rng = np.random.default_rng(4)
    Xs = rng.normal(size=(300, 2))
    y = (Xs[:, 0] + 0.3 * rng.normal(size=300) > 0).astype(int)
    Xt = rng.normal(size=(200, 2)) + np.array([0.0, 5.0])
    return (Xs, y), Xt


# ----------------------------------------------------------------------------- the helper
def test_temper_weights_endpoints_and_power():
    w = np.random.default_rng(0).exponential(size=200)
    w *= len(w) / w.sum()
    np.testing.assert_array_equal(temper_weights(w, 1.0), w * (len(w) / w.sum()))
    np.testing.assert_array_equal(temper_weights(w, 0.0), np.ones_like(w))
    half = temper_weights(w, 0.5)
    np.testing.assert_allclose(half, np.sqrt(w) / np.sqrt(w).mean())
    # flattening raises the effective sample size monotonically
    ess = [effective_sample_size(temper_weights(w, lam)) for lam in (1.0, 0.75, 0.5, 0.25, 0.0)]
    assert all(a < b for a, b in zip(ess, ess[1:])) and ess[-1] == pytest.approx(200)


# ----------------------------------------------------------------------------- flatten=1
@pytest.mark.parametrize("name", list(MAKERS))
def test_flatten_one_and_auto_are_powers_of_the_same_weights(name, covariate_shift):
    source, target, _ = covariate_shift
    raw = _quiet_fit(MAKERS[name](flatten=1.0), source, target.X)
    auto = _quiet_fit(MAKERS[name](), source, target.X)
    assert raw.flatten_ == 1.0 and np.isnan(raw.flatten_risks_).all()
    assert raw.ess_ == pytest.approx(raw.ess_untempered_)
    assert auto.flatten_ in FLATTEN_GRID and np.isfinite(auto.flatten_risks_).all()
    assert auto.ess_untempered_ == pytest.approx(raw.ess_untempered_)
    # the auto weights are exactly the untempered ones to the chosen power
    np.testing.assert_allclose(auto.weights_, temper_weights(raw.weights_, auto.flatten_))
    fixed = _quiet_fit(MAKERS[name](flatten=0.5), source, target.X)
    np.testing.assert_allclose(fixed.weights_, temper_weights(raw.weights_, 0.5))


def test_kmm_flatten_one_returns_the_normalised_qp_solution(covariate_shift):
    source, target, _ = covariate_shift
    m = KMM(flatten=1.0).fit(source, target.X)
    np.testing.assert_allclose(m.weights_, m.raw_weights_ / m.raw_weights_.mean())


# ----------------------------------------------------------------------------- adaptivity
@pytest.mark.parametrize("name", ["classifier_ratio", "kmm", "kliep", "ulsif"])
def test_auto_keeps_reweighting_under_covariate_shift(name, covariate_shift):
    source, target, _ = covariate_shift
    m = _quiet_fit(
        MAKERS[name](estimator=LogisticRegression(max_iter=2000)), source, target.X
    )
    plain = LogisticRegression(max_iter=2000).fit(source.X, source.y).score(target.X, target.y)
    assert m.flatten_ >= 0.25, m.flatten_risks_
    # the band y = 1[|t| < 1] is learnt only with weights: a large gain (~+45 points)
    assert m.score(target.X, target.y) > plain + 0.3


@pytest.mark.parametrize("name", ["classifier_ratio", "kliep", "nn"])
def test_auto_tempers_when_the_domains_are_separable(name, separable, covariate_shift):
    source, target = separable
    m = _quiet_fit(MAKERS[name](), source, target)
    assert m.flatten_ < 1.0
    assert m.ess_ > m.ess_untempered_  # flattening gave rows back
    # the same strategy keeps a larger exponent where reweighting is right
    s, t, _ = covariate_shift
    assert _quiet_fit(MAKERS[name](), s, t.X).flatten_ > m.flatten_


def test_collapse_warning_reports_the_tempering(separable):
    source, target = separable
    with pytest.warns(UserWarning, match="collapsed.*tempered with flatten_=0"):
        KLIEP(random_state=0).fit(source, target)


def test_select_flattening_regression_probe():
    source, target, _ = make_gaussian_shift(
        400, 400, 1, shift=1.0, scale=0.6, random_state=1, task="regression"
    )
    w = KLIEP(flatten=1.0, random_state=0).fit(source, target.X).weights_
    lam, risks, ses = select_flattening(source.X, source.y, w)  # Ridge probe
    assert lam in FLATTEN_GRID and risks.shape == ses.shape == (5,)
    assert np.all(ses > 0)
    best = int(np.argmin(risks))
    # the one-SE rule: the smallest exponent within one standard error of the best
    assert risks[FLATTEN_GRID.index(lam)] <= risks[best] + ses[best]
    assert all(risks[i] > risks[best] + ses[best] for i in range(FLATTEN_GRID.index(lam)))


# ----------------------------------------------------------------------------- accuracy floor
@pytest.mark.parametrize("name", ["classifier_ratio", "kmm", "nn"])
def test_defaults_do_not_lose_to_no_adaptation_on_blurred_digits(name):
    # untempered, ClassifierDensityRatio lost ~50 points here and KMM (B=1000) ~15
    source, target = make_shifted_digits("blur", random_state=0)
    plain = LogisticRegression(max_iter=2000).fit(source.X, source.y).score(target.X, target.y)
    m = _quiet_fit(MAKERS[name](estimator=LogisticRegression(max_iter=2000)), source, target.X)
    assert m.score(target.X, target.y) >= plain - 0.02


# ----------------------------------------------------------------------------- KMM exact path
def test_kmm_default_exact_path_recovers_the_density_ratio():
    # 1-D mean shift embedded in 4 dims; with B=1000 the QP optimum had rho ~0.03-0.16
    source, target, ratio = make_gaussian_shift(1500, 1500, 4, shift=1.0, random_state=0)
    m = KMM(flatten=1.0).fit(source, target.X)
    assert m.solver_ == "qp"
    assert spearmanr(m.weights_, ratio(source.X)).statistic > 0.8
    assert m.ess_ > 0.3 * len(source.X)
    assert m.raw_weights_.max() <= 2.0 + 1e-9 and m.eps_ == pytest.approx(2.0 / np.sqrt(1500))
