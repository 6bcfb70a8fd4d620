"""Subspace Alignment against an independent eigen-decomposition and the paper's bound."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.neighbors import KNeighborsClassifier

from domainadapt.feature import SubspaceAlignment


def pca_basis(X, d):
    """Leading ``d`` eigenvectors of the covariance, by eigh (not SVD)."""
    Z = X - X.mean(0)
    vals, vecs = np.linalg.eigh(Z.T @ Z / len(Z))
    order = np.argsort(vals)[::-1]
    return vecs[:, order[:d]], vals[order]


def rotated_classes(seed, angle=45.0, n=300):
    """Three classes in a plane of 10-D; the target plane is rotated, scaled and offset."""
    rng = np.random.default_rng(seed)
    D = 10
    means = np.zeros((3, D))
    means[:, :2] = [[0, 0], [4, 0], [0, 4]]
    spread = np.r_[1.0, 1.0, np.full(D - 2, 0.3)]

    def sample():
        y = rng.integers(0, 3, n)
        return means[y] + rng.normal(size=(n, D)) * spread, y

    X_s, y_s = sample()
    X_t, y_t = sample()
    th = np.deg2rad(angle)
    R = np.eye(D)
    R[:2, :2] = [[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]]
    return X_s, y_s, X_t @ R.T * 1.5 + 2.0, y_t


@pytest.mark.parametrize("preprocess", [None, "center", "zscore"])
def test_alignment_matches_independent_pca(shifted_blobs, preprocess):
    X_s, y_s, X_t, _ = shifted_blobs
    d = 3
    sa = SubspaceAlignment(d, preprocess=preprocess).fit((X_s, y_s), X_t)
    if preprocess == "zscore":
        X_s_ = (X_s - X_s.mean(0)) / X_s.std(0)
        X_t_ = (X_t - X_t.mean(0)) / X_t.std(0)
    elif preprocess == "center":
        X_s_, X_t_ = X_s - X_s.mean(0), X_t - X_t.mean(0)
    else:
        X_s_, X_t_ = X_s, X_t
    P_s, lam_s = pca_basis(X_s_, d)
    P_t, lam_t = pca_basis(X_t_, d)
    # the bases agree up to the sign of each column: compare sign-free products
    np.testing.assert_allclose(
        sa.source_components_ @ sa.source_components_.T, P_s @ P_s.T, atol=1e-10
    )
    np.testing.assert_allclose(
        sa.source_components_ @ sa.alignment_ @ sa.target_components_.T,
        P_s @ (P_s.T @ P_t) @ P_t.T,
        atol=1e-10,
    )
    np.testing.assert_allclose(
        sa.alignment_, sa.source_components_.T @ sa.target_components_, atol=1e-12
    )
    np.testing.assert_allclose(sa.source_eigenvalues_, lam_s[: len(sa.source_eigenvalues_)])
    np.testing.assert_allclose(sa.target_eigenvalues_, lam_t[: len(sa.target_eigenvalues_)])
    # transforms: x_S P_S M and x_T P_T (sign-free: multiplied back by P_T^T)
    Z_s = sa.transform(X_s, domain="source") @ sa.target_components_.T
    np.testing.assert_allclose(Z_s, X_s_ @ P_s @ P_s.T @ P_t @ P_t.T, atol=1e-9)
    Z_t = sa.transform(X_t) @ sa.target_components_.T
    np.testing.assert_allclose(Z_t, X_t_ @ P_t @ P_t.T, atol=1e-9)


def test_full_dimension_maps_source_basis_onto_target_basis(shifted_blobs):
    X_s, y_s, X_t, _ = shifted_blobs
    sa = SubspaceAlignment(4).fit((X_s, y_s), X_t)
    P_s, P_t, M = sa.source_components_, sa.target_components_, sa.alignment_
    np.testing.assert_allclose(P_s @ M, P_t, atol=1e-10)
    np.testing.assert_allclose(M @ M.T, np.eye(4), atol=1e-10)  # a rotation when d is full


def test_partial_dimension_is_the_least_squares_alignment(shifted_blobs):
    X_s, y_s, X_t, _ = shifted_blobs
    sa = SubspaceAlignment(2).fit((X_s, y_s), X_t)
    P_s, P_t, M = sa.source_components_, sa.target_components_, sa.alignment_
    best = np.linalg.norm(P_s @ M - P_t)
    # P_S M is the orthogonal projection of P_T onto span(P_S) ...
    np.testing.assert_allclose(P_s @ M, P_s @ P_s.T @ P_t, atol=1e-12)
    # ... so no other M does better
    rng = np.random.default_rng(0)
    for _ in range(20):
        other = M + 0.1 * rng.normal(size=M.shape)
        assert np.linalg.norm(P_s @ other - P_t) > best


def hand_bound(d, n_min, B, gamma=1e5, delta=0.1):
    return (1 + np.sqrt(np.log(2 / delta) / 2)) * 16 * d**1.5 * B / (gamma * np.sqrt(n_min))


def axis_data(amplitudes):
    """Rows +-a_j e_j: mean 0, covariance diag(a_j^2 / D), largest row norm max(a)."""
    D = len(amplitudes)
    X = np.concatenate([np.diag(amplitudes), -np.diag(amplitudes)])
    return X, (np.arange(2 * D) % 2)


def test_auto_dimension_follows_the_bound():
    # eigenvalues a_j^2 / D; the gap between the 3rd and 4th is tiny, so the
    # bound (~3e-4 d^1.5 here) rejects d >= 3 while d = 1, 2 pass.
    a = np.array([40.0, 20.0, 3.0, 2.999, 2.998, 2.997, 2.996, 2.995])
    X, y = axis_data(a)
    D, n = len(a), 2 * len(a)
    lam = a**2 / D
    gaps = lam[:-1] - lam[1:]
    expected = max(d for d in range(1, D) if gaps[d - 1] >= hand_bound(d, n, a.max()))
    assert expected == 2
    sa = SubspaceAlignment("auto").fit((X, y), X.copy())
    np.testing.assert_allclose(sa.source_eigenvalues_, lam)
    assert sa.n_components_ == expected
    # a larger gamma loosens the bound: all gaps above it pass
    loose = SubspaceAlignment("auto", gamma=1e12).fit((X, y), X.copy())
    assert loose.n_components_ == max(d for d in range(1, D) if gaps[d - 1] > 0)


def test_auto_uses_the_smaller_eigenvalue_of_the_two_domains():
    a_s = np.array([40.0, 20.0, 10.0, 9.99999])  # alone: no gap after d=3
    a_t = np.array([40.0, 20.0, 10.0, 5.0])
    X_s, y = axis_data(a_s)
    X_t, _ = axis_data(a_t)
    sa = SubspaceAlignment("auto").fit((X_s, y), X_t)
    lam = np.minimum(a_s**2, a_t**2) / 4  # lambda^min_j
    gaps = lam[:-1] - lam[1:]
    expected = max(d for d in range(1, 4) if gaps[d - 1] >= hand_bound(d, 8, 40.0))
    assert sa.n_components_ == expected == 3
    # the source's own spectrum would have stopped at d=2
    alone = SubspaceAlignment("auto").fit((X_s, y), X_s.copy())
    assert alone.n_components_ == 2


def test_improves_accuracy_on_rotated_classes():
    gains = []
    for seed in range(3):
        X_s, y_s, X_t, y_t = rotated_classes(seed)
        base = KNeighborsClassifier(1).fit(X_s, y_s).score(X_t, y_t)
        sa = SubspaceAlignment(2, preprocess="center", estimator=KNeighborsClassifier(1))
        gains.append(sa.fit((X_s, y_s), X_t).score(X_t, y_t) - base)
    # no adaptation: 56-70 %; SA: 71-79 % (seeds 0-2)
    assert np.mean(gains) > 0.1 and min(gains) > 0.03, gains


def test_n_components_too_large_is_clipped_with_a_warning(shifted_blobs):
    X_s, y_s, X_t, _ = shifted_blobs
    with pytest.warns(UserWarning, match="n_components=9 exceeds"):
        sa = SubspaceAlignment(9).fit((X_s, y_s), X_t)
    assert sa.n_components_ == 4
    assert SubspaceAlignment(None).fit((X_s, y_s), X_t).n_components_ == 4


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_components": 0}, r"'n_components' parameter of SubspaceAlignment must be .* Got 0 "),
        ({"n_components": "full"}, r"'n_components' parameter of SubspaceAlignment must be .* Got 'full' "),
        ({"n_components": 2.5}, r"'n_components' parameter of SubspaceAlignment must be .* Got 2\.5 "),
        ({"n_components": 1.0}, r"'n_components' parameter of SubspaceAlignment must be .* Got 1\.0 "),
        ({"n_components": True}, r"'n_components' parameter of SubspaceAlignment must be .* Got True "),
        ({"preprocess": "scale"}, r"'preprocess' parameter of SubspaceAlignment must be .* Got 'scale' "),
        ({"n_components": "auto", "delta": 1.5}, r"'delta' parameter of SubspaceAlignment must be .* Got 1\.5 "),
        ({"n_components": "auto", "gamma": -1.0}, r"'gamma' parameter of SubspaceAlignment must be .* Got \-1\.0 "),
    ],
)
def test_bad_parameters(shifted_blobs, params, match):
    X_s, y_s, X_t, _ = shifted_blobs
    with pytest.raises(ValueError, match=match):
        clone(SubspaceAlignment()).set_params(**params).fit((X_s, y_s), X_t)


def test_float32_in_float32_out(shifted_blobs):
    X_s, y_s, X_t, _ = shifted_blobs
    sa = SubspaceAlignment(2).fit((X_s.astype(np.float32), y_s), X_t.astype(np.float32))
    assert sa.transform(X_t.astype(np.float32)).dtype == np.float32


@pytest.mark.parametrize("share", [0.5, 0.9, 0.99])
def test_float_n_components_is_the_explained_variance_rule(share):
    """d = max over domains of the smallest d explaining `share` of the domain's variance."""
    rng = np.random.default_rng(0)
    spectrum_s = np.array([10.0, 5.0, 2.0, 1.0, 0.5, 0.2, 0.1, 0.05])
    spectrum_t = np.array([20.0, 1.0, 0.8, 0.6, 0.4, 0.2, 0.1, 0.05])
    X_s = rng.normal(size=(4000, 8)) * np.sqrt(spectrum_s)
    X_t = (rng.normal(size=(4000, 8)) * np.sqrt(spectrum_t)) @ np.linalg.qr(rng.normal(size=(8, 8)))[0]
    y = (X_s[:, 0] > 0).astype(int)
    sa = SubspaceAlignment(share).fit((X_s, y), X_t)

    def needed(X):
        lam = np.linalg.eigvalsh(np.cov(X, rowvar=False, bias=True))[::-1]
        return int(np.argmax(np.cumsum(lam) / lam.sum() >= share) + 1)

    assert sa.n_components_ == max(needed(X_s), needed(X_t))
    assert sa.source_components_.shape == (8, sa.n_components_)


def test_default_is_data_driven_and_centres(shifted_blobs):
    X_s, y_s, X_t, _ = shifted_blobs
    sa = SubspaceAlignment().fit((X_s, y_s), X_t)
    lam = np.maximum(sa.source_eigenvalues_, 0)
    assert np.cumsum(lam)[sa.n_components_ - 1] / lam.sum() >= 0.95 - 1e-12
    # centred rows: each domain's projection has mean zero
    np.testing.assert_allclose(sa.transform(X_t).mean(0), 0, atol=1e-10)
    np.testing.assert_allclose(sa.transform(X_s, domain="source").mean(0), 0, atol=1e-10)


def test_warns_when_the_subspace_has_more_dimensions_than_half_the_rows():
    import warnings

    from domainadapt import NotApplicableWarning

    rng = np.random.default_rng(0)
    # 120 rows for 80 features: more rows than features, but isotropic noise needs most
    # of the 80 directions to explain 95 % of the variance
    X_s, X_t = rng.normal(size=(120, 80)), rng.normal(size=(150, 80)) + 0.2
    y_s = (X_s[:, 0] > 0).astype(int)
    with pytest.warns(NotApplicableWarning, match="more than 0.5 of them") as record:
        sa = SubspaceAlignment().fit((X_s, y_s), X_t)
    assert sa.n_components_ > 60
    assert len(record) == 1 and "fewer rows than features" not in str(record[0].message)
    # a subspace of few dimensions from the same rows is well estimated: no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", NotApplicableWarning)
        SubspaceAlignment(n_components=20).fit((X_s, y_s), X_t)
    # the rotated classes: 10 features, 300 rows per domain, d = 2
    X_s, y_s, X_t, _ = rotated_classes(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", NotApplicableWarning)
        SubspaceAlignment().fit((X_s, y_s), X_t)
