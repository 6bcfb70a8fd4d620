"""Classifier-based density ratio against the analytic ratio of a Gaussian shift."""

import numpy as np
import pytest
from scipy.stats import multivariate_normal, spearmanr
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.svm import SVC

from domainadapt.instance import ClassifierDensityRatio


def gaussian_shift(n_s=800, n_t=500, d=3, seed=0):
    rng = np.random.default_rng(seed)
    mu = np.full(d, 0.8 / np.sqrt(d))
    X_s = rng.normal(size=(n_s, d))
    X_t = rng.normal(size=(n_t, d)) * 0.8 + mu
    log_ratio = multivariate_normal(mu, 0.64 * np.eye(d)).logpdf(X_s) - multivariate_normal(
        np.zeros(d), np.eye(d)
    ).logpdf(X_s)
    return X_s, X_t, np.exp(log_ratio)


def labels(X):
    return (X[:, 0] + 0.5 * X[:, 1] ** 2 > 0.3).astype(int)


def test_weights_rank_correlate_with_the_analytic_ratio():
    X_s, X_t, true_ratio = gaussian_shift()
    # the log-ratio of two Gaussians is quadratic: give the classifier squared features
    def quad(X):
        return np.c_[X, X**2]

    model = ClassifierDensityRatio(flatten=1.0, random_state=0).fit(
        (quad(X_s), labels(X_s)), quad(X_t)
    )
    rho = spearmanr(model.weights_, true_ratio).statistic
    assert rho > 0.9, rho
    np.testing.assert_allclose(model.weights_.mean(), 1.0)
    assert 0 < model.ess_ <= len(X_s)


def test_prior_correction_and_scale():
    # identical domains of different sizes: every weight ~ 1 after the n_s/n_t correction
    rng = np.random.default_rng(0)
    X_s, X_t = rng.normal(size=(600, 2)), rng.normal(size=(200, 2))
    model = ClassifierDensityRatio(cv=None).fit((X_s, labels(X_s)), X_t)
    assert np.median(np.abs(model.weights_ - 1)) < 0.15
    assert model.ess_ > 0.9 * len(X_s)
    raw = model.compute_weights(X_s)
    assert 0.7 < raw.mean() < 1.3  # the ratio itself has mean ~1 under the source


def test_max_weight_caps_and_keeps_mean_one():
    X_s, X_t, _ = gaussian_shift(seed=1)
    model = ClassifierDensityRatio(max_weight=3.0, flatten=1.0, random_state=0).fit(
        (X_s, labels(X_s)), X_t + 1
    )
    assert model.weights_.max() <= 3.0 + 1e-9
    np.testing.assert_allclose(model.weights_.mean(), 1.0)


def test_any_probabilistic_classifier():
    X_s, X_t, true_ratio = gaussian_shift(n_s=300, n_t=300)
    model = ClassifierDensityRatio(
        domain_classifier=RandomForestClassifier(50, min_samples_leaf=10, random_state=0),
        flatten=1.0,
        random_state=0,
    ).fit((X_s, labels(X_s)), X_t)
    assert spearmanr(model.weights_, true_ratio).statistic > 0.6


def test_importance_weighting_helps_a_misspecified_regression():
    # Shimodaira's setting: linear fit of a non-linear function, target centred elsewhere
    rng = np.random.default_rng(0)
    X_s = rng.normal(0.5, 0.5, size=(400, 1))
    X_t = rng.normal(0.0, 0.3, size=(400, 1))

    def f(x):
        return (-x + x**3).ravel()

    y_s = f(X_s) + rng.normal(0, 0.1, 400)
    y_t = f(X_t)
    plain = LinearRegression().fit(X_s, y_s)
    weighted = ClassifierDensityRatio(
        domain_classifier=LogisticRegression(), estimator=LinearRegression(), random_state=0
    ).fit((np.c_[X_s, X_s**2], y_s), np.c_[X_t, X_t**2])
    w = weighted.weights_
    iw = LinearRegression().fit(X_s, y_s, sample_weight=w)
    err_plain = np.mean((plain.predict(X_t) - y_t) ** 2)
    err_iw = np.mean((iw.predict(X_t) - y_t) ** 2)
    assert err_iw < 0.7 * err_plain, (err_plain, err_iw)


def test_bad_parameters():
    X_s, X_t, _ = gaussian_shift(n_s=50, n_t=50)
    y = labels(X_s)
    with pytest.raises(TypeError, match=r"'domain_classifier' parameter of ClassifierDensityRatio must be an object "
                       r"implementing 'fit' and 'predict_proba' or None\. Got SVC\(\) "):
        ClassifierDensityRatio(domain_classifier=SVC()).fit((X_s, y), X_t)
    with pytest.raises(ValueError, match=r"'eps' parameter .* in the range \(0\.0, 0\.5\)\. Got 0\.7 "):
        ClassifierDensityRatio(eps=0.7).fit((X_s, y), X_t)
    with pytest.raises(ValueError, match=r"'cv' parameter .* in the range \[2, inf\) or None\. Got 1 "):
        ClassifierDensityRatio(cv=1).fit((X_s, y), X_t)
    with pytest.raises(ValueError, match=r"'max_weight' parameter .* \(1\.0, inf\) or None\. Got 0\.5 "):
        ClassifierDensityRatio(max_weight=0.5).fit((X_s, y), X_t)


def test_estimator_without_sample_weight_is_reported():
    from sklearn.neighbors import KNeighborsClassifier

    X_s, X_t, _ = gaussian_shift(n_s=50, n_t=50)
    with pytest.raises(TypeError, match="does not accept sample_weight"):
        ClassifierDensityRatio(estimator=KNeighborsClassifier()).fit((X_s, labels(X_s)), X_t)


def test_far_target_warns_about_effective_sample_size():
    X_s, X_t, _ = gaussian_shift(n_s=300, n_t=300)
    for offset in (1.5, 6.0):  # ESS collapses; then the classifier separates perfectly
        with pytest.warns(UserWarning, match="barely overlap"):
            model = ClassifierDensityRatio(random_state=0).fit((X_s, labels(X_s)), X_t + offset)
        assert np.all(np.isfinite(model.weights_))


def test_weights_match_the_generators_exact_ratio():
    from domainadapt.datasets import make_gaussian_shift

    source, target, density_ratio = make_gaussian_shift(
        1000, 1000, n_features=2, shift=1.0, scale=1.0, random_state=0
    )
    model = ClassifierDensityRatio(flatten=1.0, random_state=0).fit(source, target.X)
    # equal covariances: the log-ratio is linear, so logistic regression is well specified
    assert spearmanr(model.weights_, density_ratio(source.X)).statistic > 0.95
