"""TCA and JDA against dense eigen-decompositions, Nyström, and their adaptation effect."""

import tracemalloc

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.neighbors import KNeighborsClassifier

import domainadapt.feature.tca as tca_module
from domainadapt.feature import JDA, TCA


def centring(n):
    return np.eye(n) - np.full((n, n), 1.0 / n)


def mmd_matrix(ns, nt):
    e = np.r_[np.full(ns, 1.0 / ns), np.full(nt, -1.0 / nt)]
    L = np.outer(e, e)
    return L / np.linalg.norm(L)  # unit Frobenius norm


def rbf(X, Y, sigma):
    sq = ((X[:, None, :] - Y[None, :, :]) ** 2).sum(-1)
    return np.exp(-sq / (2 * sigma**2))


def leading_eig(A, B, k):
    """Top-k eigenpairs of B^{-1} A by a dense non-symmetric solver (the paper's formula)."""
    vals, vecs = np.linalg.eig(np.linalg.solve(B, A))
    order = np.argsort(-vals.real)[:k]
    return vals.real[order], vecs.real[:, order]


def projector(Z):
    Q, _ = np.linalg.qr(Z)
    return Q @ Q.T


def small_problem(seed=0, ns=40, nt=30, d=5):
    rng = np.random.default_rng(seed)
    X_s = rng.normal(size=(ns, d))
    y_s = (X_s[:, 0] > 0).astype(int)
    X_t = rng.normal(size=(nt, d)) * 1.3 + np.r_[1.0, np.zeros(d - 1)]
    return X_s, y_s, X_t


def shifted_nuisance(seed, n=300, shift=3.0, n_nuisance=20):
    """Two classes apart along x0; the target is moved along 20 noisy nuisance axes."""
    rng = np.random.default_rng(seed)

    def sample(offset):
        y = rng.integers(0, 2, n)
        X = rng.normal(size=(n, 1 + n_nuisance))
        X[:, 0] = 0.7 * X[:, 0] + 2.5 * y
        X[:, 1:] += offset
        return X, y

    X_s, y_s = sample(0.0)
    X_t, y_t = sample(shift)
    return X_s, y_s, X_t, y_t


@pytest.mark.parametrize("mu", [0.1, 1.0])
def test_linear_tca_is_the_dense_primal_eigenproblem(mu):
    X_s, y_s, X_t = small_problem()
    k = 3
    tca = TCA(k, mu=mu).fit((X_s, y_s), X_t)
    X = np.concatenate([X_s, X_t])
    n, d = X.shape
    A = X.T @ centring(n) @ X
    B = X.T @ mmd_matrix(len(X_s), len(X_t)) @ X + mu * np.eye(d)
    vals, vecs = leading_eig(A, B, k)
    np.testing.assert_allclose(tca.eigenvalues_, vals, rtol=1e-8)
    np.testing.assert_allclose(projector(tca.projection_), projector(vecs), atol=1e-8)
    # the embedding is X A for both domains
    np.testing.assert_allclose(tca.transform(X_t), X_t @ tca.projection_)
    np.testing.assert_allclose(tca.transform(X_s, domain="source"), X_s @ tca.projection_)


def test_linear_tca_with_more_features_than_rows_is_exact():
    X_s, y_s, X_t = small_problem(ns=12, nt=10, d=40)
    k = 4
    tca = TCA(k).fit((X_s, y_s), X_t)
    X = np.concatenate([X_s, X_t])
    A = X.T @ centring(len(X)) @ X
    B = X.T @ mmd_matrix(12, 10) @ X + np.eye(40)
    vals, vecs = leading_eig(A, B, k)
    np.testing.assert_allclose(tca.eigenvalues_, vals, rtol=1e-7)
    np.testing.assert_allclose(projector(X @ tca.projection_), projector(X @ vecs), atol=1e-7)


@pytest.mark.parametrize("mu", [0.1, 1.0])
def test_rbf_tca_is_the_papers_eigenproblem(mu):
    X_s, y_s, X_t = small_problem(seed=1)
    k = 5
    tca = TCA(k, kernel="rbf", mu=mu, bandwidth=1.7).fit((X_s, y_s), X_t)
    X = np.concatenate([X_s, X_t])
    n = len(X)
    K = rbf(X, X, 1.7)
    L = mmd_matrix(len(X_s), len(X_t))
    # (K L K + mu I)^{-1} K H K, as written in Pan et al. (2011)
    vals, W = leading_eig(K @ centring(n) @ K, K @ L @ K + mu * np.eye(n), k)
    np.testing.assert_allclose(tca.eigenvalues_, vals, rtol=1e-6)
    np.testing.assert_allclose(projector(tca.projection_), projector(W), atol=1e-6)
    X_new = np.random.default_rng(5).normal(size=(7, 5))
    Z = tca.transform(X_new)
    np.testing.assert_allclose(Z, rbf(X_new, X, 1.7) @ tca.projection_, atol=1e-10)


@pytest.mark.parametrize("shape", [(40, 30, 5), (12, 10, 40)])
def test_linear_dual_tca_is_the_kernel_eigenproblem_with_k_equal_xxt(shape):
    """kernel="linear_dual" is Pan et al.'s (K L K + mu I)^{-1} K H K with K = X X^T
    (the ridge on the dual coefficients), solved without an n x n matrix."""
    ns, nt, d = shape
    X_s, y_s, X_t = small_problem(seed=6, ns=ns, nt=nt, d=d)
    k, mu = 3, 0.5
    tca = TCA(k, kernel="linear_dual", mu=mu).fit((X_s, y_s), X_t)
    X = np.concatenate([X_s, X_t])
    K = X @ X.T
    L = mmd_matrix(ns, nt)
    vals, W = leading_eig(K @ centring(len(X)) @ K, K @ L @ K + mu * np.eye(len(X)), k)
    np.testing.assert_allclose(tca.eigenvalues_, vals, rtol=1e-7)
    # the embedding of any row is k(x, X) W, with W normalised by W^T (KLK + mu I) W = I
    W = W / np.sqrt(np.einsum("ij,ij->j", W, (K @ L @ K + mu * np.eye(len(X))) @ W))
    X_new = np.random.default_rng(7).normal(size=(6, d))
    for rows in (X_s, X_t, X_new):
        np.testing.assert_allclose(
            np.abs(tca.transform(rows)), np.abs(rows @ X.T @ W), rtol=1e-6, atol=1e-8
        )
    # a different problem from the primal one (the ridge is on other coefficients)
    primal = TCA(k, mu=mu).fit((X_s, y_s), X_t)
    assert not np.allclose(primal.eigenvalues_, tca.eigenvalues_)


def test_rbf_bandwidth_defaults_to_the_median_heuristic():
    X_s, y_s, X_t = small_problem(seed=2)
    tca = TCA(3, kernel="rbf").fit((X_s, y_s), X_t)
    X = np.concatenate([X_s, X_t])
    dists = np.sqrt(((X[:, None] - X[None]) ** 2).sum(-1))[np.triu_indices(len(X), 1)]
    np.testing.assert_allclose(tca.bandwidth_, np.median(dists), rtol=1e-5)


def test_nystroem_with_every_row_as_landmark_is_exact():
    X_s, y_s, X_t = small_problem(seed=3)
    exact = TCA(4, kernel="rbf", bandwidth=2.0).fit((X_s, y_s), X_t)
    nys = TCA(4, kernel="rbf", bandwidth=2.0, n_landmarks=10_000).fit((X_s, y_s), X_t)
    assert nys.n_landmarks_ == len(X_s) + len(X_t)
    np.testing.assert_allclose(nys.eigenvalues_, exact.eigenvalues_, rtol=1e-6)
    X_new = np.random.default_rng(0).normal(size=(20, 5))
    for X in (X_s, X_t, X_new):
        np.testing.assert_allclose(
            projector(nys.transform(X)), projector(exact.transform(X)), atol=1e-6
        )


def test_nystroem_is_close_and_auto_switches_on():
    X_s, y_s, X_t, y_t = shifted_nuisance(0, n=250)
    exact = TCA(2, kernel="rbf", estimator=KNeighborsClassifier(5)).fit((X_s, y_s), X_t)
    nys = TCA(
        2, kernel="rbf", n_landmarks=100, estimator=KNeighborsClassifier(5), random_state=0
    ).fit((X_s, y_s), X_t)
    assert nys.n_landmarks_ == 100 and nys.projection_.shape[0] == 100
    assert abs(nys.score(X_t, y_t) - exact.score(X_t, y_t)) < 0.03
    rng = np.random.default_rng(0)
    X_big = rng.normal(size=(1001, 2))
    y_big = (X_big[:, 0] > 0).astype(int)
    auto = TCA(2, kernel="rbf", n_landmarks="auto", random_state=0).fit((X_big, y_big), X_big)
    assert auto.n_landmarks_ == tca_module.AUTO_NYSTROEM_LANDMARKS  # 2002 rows > 2000
    small = TCA(2, kernel="rbf", n_landmarks="auto").fit((X_s[:50], y_s[:50]), X_t[:50])
    assert small.n_landmarks_ is None


def test_nystroem_never_forms_an_n_by_n_matrix(monkeypatch):
    rng = np.random.default_rng(0)
    n_s = n_t = 10_000
    X_s = rng.normal(size=(n_s, 3))
    y_s = (X_s[:, 0] > 0).astype(int)
    X_t = rng.normal(size=(n_t, 3)) + 0.5
    shapes = []
    original = tca_module.gaussian_kernel

    def spy(X, C, sigma):
        shapes.append((len(X), len(C)))
        return original(X, C, sigma)

    monkeypatch.setattr(tca_module, "gaussian_kernel", spy)
    tracemalloc.start()
    tca = TCA(5, kernel="rbf", n_landmarks=100, random_state=0).fit((X_s, y_s), X_t)
    Z = tca.transform(X_t)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    n = n_s + n_t
    assert max(a * b for a, b in shapes) <= n * 100
    assert peak < 200 * 2**20, peak / 2**20  # an n x n float64 matrix is 3.2 GB
    assert Z.shape == (n_t, 5) and np.all(np.isfinite(Z))


@pytest.mark.parametrize("kernel", ["linear", "rbf"])
def test_tca_removes_a_nuisance_shift(kernel):
    gains = []
    for seed in range(3):
        X_s, y_s, X_t, y_t = shifted_nuisance(seed, n=150)
        base = KNeighborsClassifier(5).fit(X_s, y_s).score(X_t, y_t)
        tca = TCA(1 if kernel == "linear" else 2, kernel=kernel, estimator=KNeighborsClassifier(5))
        gains.append(tca.fit((X_s, y_s), X_t).score(X_t, y_t) - base)
    # no adaptation 50-69 %, TCA 90-98 % (seeds 0-2)
    assert min(gains) > 0.15, gains


def test_tca_reduces_the_embedded_mmd():
    X_s, y_s, X_t, _ = shifted_nuisance(0)
    weak = TCA(2, mu=1e6).fit((X_s, y_s), X_t)  # ridge dominates: close to PCA
    strong = TCA(2, mu=1e-3).fit((X_s, y_s), X_t)
    assert strong.mmd_ < 0.05 * weak.mmd_


def test_n_components_clipped_with_warning(shifted_blobs):
    X_s, y_s, X_t, _ = shifted_blobs
    with pytest.warns(UserWarning, match="n_components=30 exceeds the 4 dimensions"):
        tca = TCA().fit((X_s, y_s), X_t)
    assert tca.n_components_ == 4 and tca.transform(X_t).shape == (len(X_t), 4)


@pytest.mark.parametrize(
    "est, match",
    [
        (TCA(kernel="poly"), r"'kernel' parameter of TCA must be .* Got 'poly' "),
        (TCA(mu=0.0), r"'mu' parameter of TCA must be .* Got 0\.0 "),
        (TCA(n_components=0), r"'n_components' parameter of TCA must be .* Got 0 "),
        (TCA(kernel="rbf", bandwidth=-1.0), r"'bandwidth' parameter of TCA must be .* Got \-1\.0 "),
        (TCA(kernel="rbf", n_landmarks="many"), r"'n_landmarks' parameter of TCA must be .* Got 'many' "),
        (TCA(kernel="rbf", n_landmarks=0), r"'n_landmarks' parameter of TCA must be .* Got 0 "),
        (JDA(reg=-1.0), r"'reg' parameter of JDA must be .* Got \-1\.0 "),
        (JDA(n_iter=-1), r"'n_iter' parameter of JDA must be .* Got \-1 "),
        (JDA(pseudo_labeler="knn"), r"'pseudo_labeler' parameter of JDA must be .* Got 'knn' "),
    ],
)
def test_bad_parameters(shifted_blobs, est, match):
    X_s, y_s, X_t, _ = shifted_blobs
    est = clone(est)
    if est.n_components > 3:
        est.set_params(n_components=3)
    with pytest.raises((ValueError, TypeError), match=match):
        est.fit((X_s, y_s), X_t)


# ----------------------------------------------------------------------------- JDA


@pytest.mark.parametrize("kernel", ["linear", "linear_dual", "rbf"])
def test_jda_without_iterations_is_tca(kernel):
    X_s, y_s, X_t = small_problem(seed=4)
    tca = TCA(3, kernel=kernel, mu=0.3, bandwidth=1.5).fit((X_s, y_s), X_t)
    jda = JDA(3, kernel=kernel, reg=0.3, n_iter=0, bandwidth=1.5, normalize_embedding=False).fit(
        (X_s, y_s), X_t
    )
    np.testing.assert_allclose(jda.eigenvalues_, tca.eigenvalues_, rtol=1e-10)
    np.testing.assert_allclose(
        projector(jda.transform(X_t)), projector(tca.transform(X_t)), atol=1e-8
    )
    assert len(jda.history_) == 1 and jda.history_[0]["conditional_mmd"] == 0.0


def jda_conditional_mmd(Z_s, y_s, Z_t, y_t):
    """Sum over classes of the squared distance of class means, over the total variance."""
    Z = np.concatenate([Z_s, Z_t])
    total = np.sum(np.var(Z, axis=0))
    return (
        sum(np.sum((Z_s[y_s == c].mean(0) - Z_t[y_t == c].mean(0)) ** 2) for c in np.unique(y_s))
        / total
    )


def conditional_shift(seed, n=300):
    """Classes moved in different directions in the target (a marginal fix is not enough)."""
    rng = np.random.default_rng(seed)
    centers = np.array([[0, 0, 0, 0], [4, 0, 0, 0], [0, 4, 0, 0]], dtype=float)
    moves = np.array([[0, 0, 3, 0], [0, 0, 0, 3], [0, 0, -3, -3]], dtype=float)
    y_s, y_t = rng.integers(0, 3, n), rng.integers(0, 3, n)
    X_s = centers[y_s] + rng.normal(size=(n, 4))
    X_t = centers[y_t] + moves[y_t] + 0.8 * rng.normal(size=(n, 4))
    return X_s, y_s, X_t, y_t


def test_jda_lowers_the_class_conditional_mmd_and_records_history():
    X_s, y_s, X_t, y_t = conditional_shift(0)
    tca_like = JDA(2, n_iter=0, normalize_embedding=False).fit((X_s, y_s), X_t)
    jda = JDA(2, n_iter=8, normalize_embedding=False).fit((X_s, y_s), X_t)
    before = jda_conditional_mmd(
        tca_like.transform(X_s, "source"), y_s, tca_like.transform(X_t), y_t
    )
    after = jda_conditional_mmd(jda.transform(X_s, "source"), y_s, jda.transform(X_t), y_t)
    assert after < 0.5 * before, (before, after)
    assert len(jda.history_) == jda.n_iter_ + 1 <= 9
    assert jda.history_[0]["changed"] == 1.0
    assert [h["iteration"] for h in jda.history_] == list(range(len(jda.history_)))
    # the iterations settle: fewer pseudo-labels change at the end than at the start
    assert jda.history_[-1]["changed"] < jda.history_[1]["changed"] or jda.n_iter_ < 8
    # the pseudo-labels are the 1-NN predictions on the final embedding
    knn = KNeighborsClassifier(1).fit(jda.transform(X_s, "source"), y_s)
    np.testing.assert_array_equal(jda.pseudo_labels_, knn.predict(jda.transform(X_t)))
    acc_tca = np.mean(tca_like.pseudo_labels_ == y_t)
    assert np.mean(jda.pseudo_labels_ == y_t) > acc_tca + 0.02  # 97.3 vs 93.0 %


def test_jda_history_objective_is_the_embedded_mmd():
    X_s, y_s, X_t, _ = conditional_shift(1, n=120)
    jda = JDA(2, n_iter=3, normalize_embedding=False).fit((X_s, y_s), X_t)
    for h in jda.history_:
        assert h["objective"] == pytest.approx(h["marginal_mmd"] + h["conditional_mmd"])
        assert 0.0 <= h["changed"] <= 1.0


def test_jda_uses_labelled_target_rows(shifted_blobs):
    X_s, y_s, X_t, y_t = shifted_blobs
    y_partial = np.full_like(y_t, -1)
    y_partial[:15] = y_t[:15]
    jda = JDA(3, n_iter=2).fit((X_s, y_s), (X_t, y_partial))
    np.testing.assert_array_equal(jda.pseudo_labels_[:15], y_t[:15])


def test_jda_normalized_embedding_has_unit_rows(shifted_blobs):
    X_s, y_s, X_t, _ = shifted_blobs
    jda = JDA(3, n_iter=1).fit((X_s, y_s), X_t)
    np.testing.assert_allclose(np.linalg.norm(jda.transform(X_t), axis=1), 1.0)
