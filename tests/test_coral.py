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


@pytest.mark.parametrize("center", [True, False])
@pytest.mark.parametrize("lam", [1.0, 0.1])
def test_matches_closed_form(shifted_blobs, lam, center):
    X_s, y_s, X_t, _ = shifted_blobs
    coral = CORAL(reg=lam, center=center).fit((X_s, y_s), X_t)
    np.testing.assert_allclose(
        coral.transform(X_s, domain="source"),
        reference_coral(X_s, X_t, lam, center),
        rtol=1e-9,
        atol=1e-9,
    )
    np.testing.assert_array_equal(coral.transform(X_t), X_t)


def test_unit_variance_ridge_is_the_papers_identity():
    rng = np.random.default_rng(0)
    X_s = rng.normal(size=(5000, 3))
    X_t = rng.normal(size=(5000, 3)) * 2
    X_s = (X_s - X_s.mean(0)) / X_s.std(0, ddof=1)
    X_t = (X_t - X_t.mean(0)) / X_t.std(0, ddof=1)  # z-scored: trace(C)/d == 1
    coral = CORAL(reg=1.0).fit((X_s, (X_s[:, 0] > 0).astype(int)), X_t)
    np.testing.assert_allclose(coral.source_covariance_, np.cov(X_s, rowvar=False) + np.eye(3))


def test_aligns_covariances(shifted_blobs):
    X_s, y_s, X_t, _ = shifted_blobs
    coral = CORAL(reg=0.0).fit((X_s, y_s), X_t)
    aligned = coral.transform(X_s, domain="source")
    np.testing.assert_allclose(np.cov(aligned, rowvar=False), np.cov(X_t, rowvar=False), atol=1e-8)
    np.testing.assert_allclose(aligned.mean(0), X_t.mean(0), atol=1e-10)


def test_auto_reg_uses_shrinkage(shifted_blobs):
    X_s, y_s, X_t, _ = shifted_blobs
    coral = CORAL(reg="auto").fit((X_s, y_s), X_t)
    from sklearn.covariance import ledoit_wolf

    np.testing.assert_allclose(coral.target_covariance_, ledoit_wolf(X_t)[0])


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
        with pytest.raises(ValueError, match="reg must be"):
            CORAL(reg=bad).fit((X_s, y_s), X_t)


def test_transform_domain_argument(shifted_blobs):
    X_s, y_s, X_t, _ = shifted_blobs
    coral = CORAL().fit((X_s, y_s), X_t)
    with pytest.raises(ValueError, match="domain must be 'source' or 'target'"):
        coral.transform(X_t, domain="tgt")
    with pytest.raises(AttributeError, match="no downstream estimator"):
        coral.predict(X_t)
