"""GFK (closed form against a numerical integration of the geodesic) and BDA (JDA's
solver with a balance factor)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.integrate
import scipy.linalg

from domainadapt.feature import BDA, GFK, JDA, TCA
from domainadapt.feature.bda import estimate_balance, proxy_a_distance
from domainadapt.feature.gfk import geodesic_flow_kernel


def random_bases(d=9, k=3, seed=0):
    rng = np.random.default_rng(seed)
    Ps = np.linalg.qr(rng.normal(size=(d, k)))[0]
    Pt = np.linalg.qr(rng.normal(size=(d, k)))[0]
    return Ps, Pt


def geodesic(Ps, Pt):
    """``t -> Y(t)``, a basis of the geodesic's subspace, from the Grassmann log map
    (Edelman, Arias, Smith 1998): ``(I - Ps Ps^T) Pt (Ps^T Pt)^{-1} = U tan(Theta) V^T``."""
    M = Ps.T @ Pt
    direction = (Pt - Ps @ M) @ np.linalg.inv(M)
    U, tan, Vt = np.linalg.svd(direction, full_matrices=False)
    theta = np.arctan(tan)
    return lambda t: Ps @ Vt.T @ np.diag(np.cos(t * theta)) + U @ np.diag(np.sin(t * theta))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gfk_closed_form_is_the_mean_projection_along_the_geodesic(seed):
    Ps, Pt = random_bases(seed=seed)
    Y = geodesic(Ps, Pt)
    # the curve ends at the target subspace
    np.testing.assert_allclose(Y(1.0) @ Y(1.0).T, Pt @ Pt.T, atol=1e-10)
    numeric, _ = scipy.integrate.quad_vec(lambda t: Y(t) @ Y(t).T, 0.0, 1.0, epsabs=1e-12)
    basis, middle, angles = geodesic_flow_kernel(Ps, Pt)
    np.testing.assert_allclose(basis @ middle @ basis.T, numeric, atol=1e-9)
    np.testing.assert_allclose(np.cos(angles), scipy.linalg.svdvals(Ps.T @ Pt), atol=1e-12)
    # a fine Riemann (midpoint) sum agrees too
    ts = (np.arange(2000) + 0.5) / 2000
    riemann = np.mean([Y(t) @ Y(t).T for t in ts], axis=0)
    np.testing.assert_allclose(basis @ middle @ basis.T, riemann, atol=1e-6)


def test_gfk_kernel_of_a_shared_subspace_is_its_projection():
    Ps, _ = random_bases(seed=3)
    rotation = np.linalg.qr(np.random.default_rng(3).normal(size=(3, 3)))[0]
    basis, middle, angles = geodesic_flow_kernel(Ps, Ps @ rotation)
    np.testing.assert_allclose(angles, 0.0, atol=1e-7)
    np.testing.assert_allclose(basis @ middle @ basis.T, Ps @ Ps.T, atol=1e-10)


def test_gfk_mapping_gives_the_kernel_distances():
    rng = np.random.default_rng(0)
    X_s = rng.normal(size=(80, 7)) * np.arange(1, 8)
    y_s = rng.integers(0, 2, 80)
    X_t = rng.normal(size=(60, 7)) @ rng.normal(size=(7, 7))
    gfk = GFK(n_components=3).fit((X_s, y_s), X_t)
    G = gfk.kernel_
    np.testing.assert_allclose(gfk.components_ @ gfk.components_.T, G, atol=1e-10)
    Zs, Zt = gfk.transform(X_s[:5], "source"), gfk.transform(X_t[:4])
    d_mapped = ((Zs[:, None] - Zt[None]) ** 2).sum(-1)
    diff = (X_s[:5] - gfk.source_mean_)[:, None] - (X_t[:4] - gfk.target_mean_)[None]
    d_kernel = np.einsum("ijk,kl,ijl->ij", diff, G, diff)
    np.testing.assert_allclose(d_mapped, d_kernel, atol=1e-9)
    # G from the fitted PCA bases is the numerical integral of the geodesic
    Y = geodesic(gfk.source_components_, gfk.target_components_)
    numeric, _ = scipy.integrate.quad_vec(lambda t: Y(t) @ Y(t).T, 0.0, 1.0, epsabs=1e-12)
    np.testing.assert_allclose(G, numeric, atol=1e-8)
    assert gfk.transform(X_t).shape == (60, 6) and gfk.n_components_ == 3


def test_gfk_clips_n_components():
    rng = np.random.default_rng(1)
    X_s, y_s, X_t = rng.normal(size=(30, 4)), rng.integers(0, 2, 30), rng.normal(size=(20, 4))
    with pytest.warns(UserWarning, match="n_components=9"):
        gfk = GFK(n_components=9).fit((X_s, y_s), X_t)
    assert gfk.n_components_ == 4


def conditional_shift(seed, n=300):
    rng = np.random.default_rng(seed)
    centers = np.array([[0, 0, 0, 0], [4, 0, 0, 0], [0, 4, 0, 0]], dtype=float)
    moves = np.array([[0, 0, 3, 0], [0, 0, 0, 3], [0, 0, -3, -3]], dtype=float)
    y_s, y_t = rng.integers(0, 3, n), rng.integers(0, 3, n)
    X_s = centers[y_s] + rng.normal(size=(n, 4))
    X_t = centers[y_t] + moves[y_t] + 0.8 * rng.normal(size=(n, 4))
    return X_s, y_s, X_t, y_t


def test_bda_at_one_half_is_jda():
    X_s, y_s, X_t, _ = conditional_shift(0, n=150)
    jda = JDA(2, n_iter=4, normalize_embedding=False).fit((X_s, y_s), X_t)
    bda = BDA(2, mu=0.5, n_iter=4, normalize_embedding=False).fit((X_s, y_s), X_t)
    np.testing.assert_allclose(bda.projection_, jda.projection_, atol=1e-10)
    np.testing.assert_array_equal(bda.pseudo_labels_, jda.pseudo_labels_)
    assert [h["mu"] for h in bda.history_[1:]] == [0.5] * (len(bda.history_) - 1)


def test_bda_at_zero_is_tca():
    X_s, y_s, X_t, _ = conditional_shift(1, n=120)
    tca = TCA(2, mu=0.1).fit((X_s, y_s), X_t)
    bda = BDA(2, mu=0.0, reg=0.1, n_iter=3, normalize_embedding=False).fit((X_s, y_s), X_t)
    np.testing.assert_allclose(bda.eigenvalues_, tca.eigenvalues_, rtol=1e-8)


def test_bda_mu_one_aligns_only_the_classes():
    X_s, y_s, X_t, y_t = conditional_shift(0)
    accs = {}
    for mu in (0.0, 1.0):
        bda = BDA(2, mu=mu, n_iter=8, normalize_embedding=False).fit((X_s, y_s), X_t)
        assert bda.mu_ == mu
        accs[mu] = np.mean(bda.pseudo_labels_ == y_t)
        h = bda.history_[-1]
        if mu == 1.0:  # marginal term absent: the objective is the class terms alone
            assert h["objective"] == pytest.approx(2 * h["conditional_mmd"])
    assert accs[1.0] > accs[0.0] + 0.02  # 97.3 vs 93.0 %


def test_proxy_a_distance_and_auto_balance():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(100, 3))
    assert proxy_a_distance(A, A + 10.0) == 2.0
    assert proxy_a_distance(A, rng.normal(size=(100, 3))) < 0.8
    # domains far apart but each class matched: the marginal term dominates (mu small)
    y = rng.integers(0, 2, 100)
    mu = estimate_balance(A, y, A + 10.0, y)
    assert 0.0 <= mu <= 0.5
    X_s, y_s, X_t, _ = conditional_shift(3, n=150)
    bda = BDA(2, mu="auto", n_iter=3).fit((X_s, y_s), X_t)
    assert 0.0 <= bda.mu_ <= 1.0
    assert bda.history_[0]["mu"] == 0.0
    assert all(0.0 <= h["mu"] <= 1.0 for h in bda.history_[1:])


def test_bda_rejects_bad_mu():
    X_s, y_s, X_t, _ = conditional_shift(4, n=60)
    with pytest.raises(ValueError):
        BDA(2, mu=1.5).fit((X_s, y_s), X_t)
    with pytest.raises(ValueError):
        BDA(2, mu="sometimes").fit((X_s, y_s), X_t)
