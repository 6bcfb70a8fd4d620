"""CORAL against an independent closed-form reference."""

import numpy as np
import pytest
import scipy.linalg
from sklearn.linear_model import LogisticRegression

from domainadapt.feature import CORAL


def reference_coral(X_s, X_t, lam, center):
    """The paper's four lines (ridge scaled by the mean variance), scipy's matrix roots."""
    c_s = np.cov(X_s, rowvar=False)
    c_t = np.cov(X_t, rowvar=False)
    d = X_s.shape[1]
    c_s = c_s + lam * np.trace(c_s) / d * np.eye(d)
    c_t = c_t + lam * np.trace(c_t) / d * np.eye(d)
    whiten = np.real(scipy.linalg.fractional_matrix_power(c_s, -0.5))
    recolour = np.real(scipy.linalg.sqrtm(c_t))
    if center:
        return (X_s - X_s.mean(0)) @ whiten @ recolour + X_t.mean(0)
    return X_s @ whiten @ recolour


def reference_pooled_coral(X_s, X_t, lam, center):
    """z-score both domains by the within-domain pooled std, CORAL with + lam I, scale back."""
    pooled = np.concatenate([X_s - X_s.mean(0), X_t - X_t.mean(0)])
    std = np.sqrt((pooled**2).sum(0) / (len(pooled) - 2))
    d = X_s.shape[1]
    c_s = np.cov(X_s / std, rowvar=False) + lam * np.eye(d)
    c_t = np.cov(X_t / std, rowvar=False) + lam * np.eye(d)
    A = np.real(scipy.linalg.fractional_matrix_power(c_s, -0.5)) @ np.real(scipy.linalg.sqrtm(c_t))
    A = np.diag(1 / std) @ A @ np.diag(std)
    if center:
        return (X_s - X_s.mean(0)) @ A + X_t.mean(0)
    return X_s @ A


@pytest.mark.parametrize("center", [True, False])
@pytest.mark.parametrize("lam", [1.0, 0.1])
def test_matches_closed_form(shifted_blobs, lam, center):
    X_s, y_s, X_t, _ = shifted_blobs
    coral = CORAL(reg=lam, center=center).fit((X_s, y_s), X_t)
    np.testing.assert_allclose(
        coral.transform(X_s, domain="source"),
        reference_pooled_coral(X_s, X_t, lam, center),
        rtol=1e-9,
        atol=1e-9,
    )
    np.testing.assert_array_equal(coral.transform(X_t), X_t)


@pytest.mark.parametrize("center", [True, False])
@pytest.mark.parametrize("lam", [1.0, 0.1])
def test_average_ridge_matches_closed_form(shifted_blobs, lam, center):
    X_s, y_s, X_t, _ = shifted_blobs
    coral = CORAL(reg=lam, ridge="average", center=center).fit((X_s, y_s), X_t)
    np.testing.assert_allclose(
        coral.transform(X_s, domain="source"),
        reference_coral(X_s, X_t, lam, center),
        rtol=1e-9,
        atol=1e-9,
    )
    np.testing.assert_array_equal(coral.transform(X_t), X_t)


@pytest.mark.parametrize("ridge", ["feature", "average"])
def test_unit_variance_ridge_is_the_papers_identity(ridge):
    rng = np.random.default_rng(0)
    X_s = rng.normal(size=(5000, 3)) @ rng.normal(size=(3, 3))
    X_t = rng.normal(size=(5000, 3)) * 2
    X_s = (X_s - X_s.mean(0)) / X_s.std(0, ddof=1)
    X_t = (X_t - X_t.mean(0)) / X_t.std(0, ddof=1)  # z-scored: trace(C)/d == 1
    coral = CORAL(reg=1.0, ridge=ridge).fit((X_s, (X_s[:, 0] > 0).astype(int)), X_t)
    np.testing.assert_allclose(coral.source_covariance_, np.cov(X_s, rowvar=False) + np.eye(3))
    # and then both ridges give the same map
    other = CORAL(reg=1.0, ridge="average" if ridge == "feature" else "feature")
    other.fit((X_s, (X_s[:, 0] > 0).astype(int)), X_t)
    np.testing.assert_allclose(coral.coral_matrix_, other.coral_matrix_, atol=1e-10)


@pytest.mark.parametrize("reg", [1.0, 0.01, "auto"])
def test_default_ridge_is_scale_invariant(reg):
    """Rescaling the features by a diagonal S maps x S to CORAL(x) S; a scale-invariant
    downstream model (standardisation + logistic regression) then predicts the same."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def invariant_model():
        return make_pipeline(StandardScaler(), LogisticRegression())

    rng = np.random.default_rng(3)
    n, d = 300, 5
    y_s, y_t = rng.integers(0, 2, n), rng.integers(0, 2, n)
    mix = rng.normal(size=(d, d))
    X_s = rng.normal(size=(n, d)) @ mix + y_s[:, None]
    X_t = (rng.normal(size=(n, d)) @ mix + y_t[:, None]) * 1.5 + 0.7
    S = np.array([1e-3, 1.0, 30.0, 1e3, 0.2])
    plain = CORAL(reg=reg, estimator=invariant_model()).fit((X_s, y_s), X_t)
    scaled = CORAL(reg=reg, estimator=invariant_model()).fit((X_s * S, y_s), X_t * S)
    np.testing.assert_allclose(
        scaled.transform(X_s * S, domain="source") / S,
        plain.transform(X_s, domain="source"),
        rtol=1e-7,
        atol=1e-7,
    )
    np.testing.assert_array_equal(scaled.predict(X_t * S), plain.predict(X_t))
    # the old average ridge is not invariant: the same check fails for it
    if reg != "auto":
        avg = CORAL(reg=reg, ridge="average").fit((X_s, y_s), X_t)
        avg_scaled = CORAL(reg=reg, ridge="average").fit((X_s * S, y_s), X_t * S)
        assert not np.allclose(
            avg_scaled.transform(X_s * S, domain="source") / S,
            avg.transform(X_s, domain="source"),
            rtol=1e-3,
            atol=1e-3,
        )


def test_feature_ridge_beats_average_ridge_on_badly_scaled_features():
    """An exact affine shift on features whose variances differ by 10^4: the average
    ridge swamps the small-variance (informative) features, the per-feature one does not."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    n, d = 1000, 6
    scales = np.array([0.1, 0.1, 0.1, 10.0, 10.0, 10.0])

    def domain(n):
        y = rng.integers(0, 2, n)
        Z = rng.normal(size=(n, d))
        Z[:, :3] += (2 * y[:, None] - 1) * 0.8  # the label lives in the small features
        return Z * scales, y
    X_s, y_s = domain(n)
    X_t, y_t = domain(n)
    # the target stretches and shears the small features (an exact affine shift)
    T = np.eye(d)
    T[:3, :3] = [[2.0, 0.0, 0.0], [-1.5, 0.4, 0.0], [0.0, 0.0, 1.0]]
    X_t = X_t @ T + 5.0 * scales
    lr = LogisticRegression(max_iter=2000)
    base = lr.fit(X_s, y_s).score(X_t, y_t)
    feature = CORAL(estimator=LogisticRegression(max_iter=2000)).fit((X_s, y_s), X_t)
    average = CORAL(ridge="average", estimator=LogisticRegression(max_iter=2000))
    average.fit((X_s, y_s), X_t)
    acc_f, acc_a = feature.score(X_t, y_t), average.score(X_t, y_t)
    assert acc_f > base + 0.1, (base, acc_f)
    assert acc_f > acc_a + 0.02, (acc_a, acc_f)


def test_aligns_covariances(shifted_blobs):
    X_s, y_s, X_t, _ = shifted_blobs
    coral = CORAL(reg=0.0).fit((X_s, y_s), X_t)
    aligned = coral.transform(X_s, domain="source")
    np.testing.assert_allclose(np.cov(aligned, rowvar=False), np.cov(X_t, rowvar=False), atol=1e-8)
    np.testing.assert_allclose(aligned.mean(0), X_t.mean(0), atol=1e-10)


def test_auto_reg_uses_shrinkage(shifted_blobs):
    X_s, y_s, X_t, _ = shifted_blobs
    from sklearn.covariance import ledoit_wolf

    coral = CORAL(reg="auto", ridge="average").fit((X_s, y_s), X_t)
    np.testing.assert_allclose(coral.target_covariance_, ledoit_wolf(X_t)[0])
    coral = CORAL(reg="auto").fit((X_s, y_s), X_t)  # shrinks the standardised covariance
    std = coral.scale_
    np.testing.assert_allclose(coral.target_covariance_, ledoit_wolf(X_t / std)[0] * np.outer(std, std))


def test_improves_target_accuracy_on_a_linear_shift():
    rng = np.random.default_rng(1)
    n = 400
    y_s, y_t = rng.integers(0, 2, n), rng.integers(0, 2, n)
    X_s = rng.normal(size=(n, 2)) * [1.0, 0.3] + np.c_[2.0 * y_s - 1, np.zeros(n)]
    # the target stretches the informative axis and shrinks the nuisance axis
    scale = np.array([0.25, 3.0])
    X_t = (rng.normal(size=(n, 2)) * [1.0, 0.3] + np.c_[2.0 * y_t - 1, np.zeros(n)]) * scale
    rotation = np.array([[np.cos(0.8), -np.sin(0.8)], [np.sin(0.8), np.cos(0.8)]])
    X_t = X_t @ rotation
    plain = LogisticRegression().fit(X_s, y_s).score(X_t, y_t)
    adapted = CORAL(reg=0.01, estimator=LogisticRegression()).fit((X_s, y_s), X_t).score(X_t, y_t)
    assert adapted > plain + 0.1, (plain, adapted)


def test_bad_reg(shifted_blobs):
    X_s, y_s, X_t, _ = shifted_blobs
    for bad in (-1.0, "shrink", np.nan):
        msg = r"'reg' parameter of CORAL must be a float in the range \[0\.0, inf\) or a str"
        with pytest.raises(ValueError, match=rf"{msg} among \{{'auto'\}}\. Got {bad!r} "):
            CORAL(reg=bad).fit((X_s, y_s), X_t)
    with pytest.raises(ValueError, match=r"'ridge' parameter of CORAL must be .* Got 'mean' "):
        CORAL(ridge="mean").fit((X_s, y_s), X_t)


def test_transform_domain_argument(shifted_blobs):
    X_s, y_s, X_t, _ = shifted_blobs
    coral = CORAL().fit((X_s, y_s), X_t)
    with pytest.raises(ValueError, match="domain must be 'source' or 'target'"):
        coral.transform(X_t, domain="tgt")
    with pytest.raises(AttributeError, match="no downstream estimator"):
        coral.predict(X_t)
