"""MMD feature selection and mSDA against independent references."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier

from domainadapt.feature import MMDFeatureSelection, mSDA
from domainadapt.feature.msda import marginalized_denoiser
from domainadapt.feature.selection import per_feature_mmd
from domainadapt.ops import mmd

# ----------------------------------------------------------------------------- selection


def partly_shifted(seed, n=300, d=12, shifted=(2, 5, 7, 11)):
    """Class signal in column 0; the ``shifted`` columns move (mean and scale) in the target."""
    rng = np.random.default_rng(seed)

    def sample(target):
        y = rng.integers(0, 2, n)
        X = rng.normal(size=(n, d))
        X[:, 0] = 0.8 * X[:, 0] + 2.0 * y
        if target:
            X[:, list(shifted)] = 1.5 * X[:, list(shifted)] + 3.0
        return X, y

    X_s, y_s = sample(False)
    X_t, y_t = sample(True)
    return X_s, y_s, X_t, y_t


def test_shifted_features_are_ranked_last():
    shifted = (2, 5, 7, 11)
    X_s, y_s, X_t, _ = partly_shifted(0, shifted=shifted)
    sel = MMDFeatureSelection(n_features_to_select=8).fit((X_s, y_s), X_t)
    assert set(np.argsort(sel.mmd_scores_)[-4:]) == set(shifted)
    assert set(np.flatnonzero(sel.ranking_ > 8)) == set(shifted)
    np.testing.assert_array_equal(sel.support_, sel.ranking_ <= 8)
    np.testing.assert_array_equal(sel.get_support(indices=True), np.flatnonzero(sel.support_))
    np.testing.assert_array_equal(sel.transform(X_t), X_t[:, sel.support_])
    np.testing.assert_array_equal(sel.transform(X_s, domain="source"), X_s[:, sel.support_])
    assert sorted(sel.ranking_) == list(range(1, 13))


@pytest.mark.parametrize("kernel", ["gaussian", "laplacian"])
@pytest.mark.parametrize("n", [120, 1500])  # exact path, and the binned path (> 1024 values)
def test_per_feature_mmd_agrees_with_ops_mmd(kernel, n):
    X_s, y_s, X_t, _ = partly_shifted(1, n=n // 2, d=4, shifted=(1,))
    scores, sigmas = per_feature_mmd(X_s, X_t, kernel=kernel)
    for j in range(4):
        ref = mmd(
            torch.from_numpy(X_s[:, [j]]),
            torch.from_numpy(X_t[:, [j]]),
            kernel=kernel,
            bandwidth=float(sigmas[j]),
        )
        # exact up to rounding below 1024 values; binned above: the Gaussian kernel is
        # smooth (error O(h^2)), the Laplacian has a kink at 0 (error O(h))
        rel = 1e-9 if n <= 1024 else (1e-5 if kernel == "gaussian" else 2e-3)
        assert scores[j] == pytest.approx(float(ref), rel=rel, abs=1e-12)
    # median heuristic of each pooled column
    Z = np.concatenate([X_s, X_t])[:, 0]
    if len(Z) <= 400:
        d = np.abs(Z[:, None] - Z[None])[np.triu_indices(len(Z), 1)]
        assert sigmas[0] == pytest.approx(np.median(d))


def test_repeated_values_are_exact():
    rng = np.random.default_rng(2)
    X_s = rng.integers(0, 6, size=(1500, 3)).astype(float)
    X_t = rng.integers(1, 7, size=(1300, 3)).astype(float)
    X_t[:, 2] = 4.0  # constant in the target
    scores, sigmas = per_feature_mmd(X_s, X_t)
    for j in range(3):
        ref = mmd(torch.from_numpy(X_s[:, [j]]), torch.from_numpy(X_t[:, [j]]), bandwidth=sigmas[j])
        assert scores[j] == pytest.approx(float(ref), rel=1e-9)


def test_linear_kernel_is_the_squared_mean_difference():
    X_s, y_s, X_t, _ = partly_shifted(3)
    sel = MMDFeatureSelection(3, kernel="linear").fit((X_s, y_s), X_t)
    np.testing.assert_allclose(sel.mmd_scores_, (X_s.mean(0) - X_t.mean(0)) ** 2)
    assert np.isnan(sel.bandwidths_).all()


def test_constant_feature_scores_zero():
    X_s, y_s, X_t, _ = partly_shifted(4)
    X_s[:, 3] = X_t[:, 3] = 1.0
    sel = MMDFeatureSelection(0.25).fit((X_s, y_s), X_t)
    assert sel.mmd_scores_[3] == 0.0 and sel.n_features_selected_ == 3


def test_selection_improves_accuracy_on_shifted_features():
    gains = []
    for seed in range(3):
        X_s, y_s, X_t, y_t = partly_shifted(seed)
        base = KNeighborsClassifier(5).fit(X_s, y_s).score(X_t, y_t)
        sel = MMDFeatureSelection(8, estimator=KNeighborsClassifier(5)).fit((X_s, y_s), X_t)
        gains.append(sel.score(X_t, y_t) - base)
    assert min(gains) > 0.05, gains


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_features_to_select": 0}, r"'n_features_to_select' parameter of MMDFeatureSelection must be .* Got 0 "),
        ({"n_features_to_select": 13}, "n_features_to_select must be at most the number of features; got 13"),
        ({"n_features_to_select": 1.5}, r"'n_features_to_select' parameter of MMDFeatureSelection must be .* Got 1\.5 "),
        ({"n_features_to_select": True}, r"'n_features_to_select' parameter of MMDFeatureSelection must be .* Got True "),
        ({"kernel": "rbf"}, r"'kernel' parameter of MMDFeatureSelection must be .* Got 'rbf' "),
        ({"bandwidth": 0.0}, r"'bandwidth' parameter of MMDFeatureSelection must be .* Got 0\.0 "),
    ],
)
def test_selection_bad_parameters(params, match):
    X_s, y_s, X_t, _ = partly_shifted(0)
    with pytest.raises(ValueError, match=match):
        clone(MMDFeatureSelection()).set_params(**params).fit((X_s, y_s), X_t)


# ----------------------------------------------------------------------------- mSDA


def naive_msda_layer(X, p, reg):
    """The paper's formulas written entry by entry (no vectorisation)."""
    n, d = X.shape
    Xb = np.hstack([X, np.ones((n, 1))])
    S = Xb.T @ Xb
    q = [1 - p] * d + [1.0]
    Q = np.empty((d + 1, d + 1))
    for i in range(d + 1):
        for j in range(d + 1):
            Q[i, j] = S[i, j] * q[i] * (q[j] if i != j else 1.0)
    P = np.empty((d, d + 1))
    for i in range(d):
        for j in range(d + 1):
            P[i, j] = S[i, j] * q[j]
    return P @ np.linalg.inv(Q + reg * np.eye(d + 1))


def test_layer_matches_the_closed_form():
    X = np.random.default_rng(0).normal(size=(25, 4))
    for p in (0.0, 0.3, 0.7):
        np.testing.assert_allclose(
            marginalized_denoiser(X, p, 1e-5), naive_msda_layer(X, p, 1e-5), rtol=1e-8, atol=1e-10
        )


def test_layer_is_the_expected_least_squares_over_dropout_masks():
    rng = np.random.default_rng(1)
    n, d, p, reps = 30, 3, 0.4, 2000
    X = rng.normal(size=(n, d)) + np.array([1.0, -0.5, 0.2])
    Xb = np.hstack([X, np.ones((n, 1))])
    # least squares of x on its corrupted copies, over `reps` random dropout masks
    targets = np.tile(X, (reps, 1))
    mask = rng.random((reps * n, d)) >= p
    corrupted = np.tile(Xb, (reps, 1))
    corrupted[:, :d] *= mask
    W_mc = np.linalg.lstsq(corrupted, targets, rcond=None)[0].T
    W = marginalized_denoiser(X, p, 0.0)
    np.testing.assert_allclose(W_mc, W, atol=0.03)
    assert np.abs(W_mc - W).max() < 0.1 * np.abs(W).max()


def test_stacking_and_concatenation():
    X_s = np.random.default_rng(2).normal(size=(40, 5))
    y_s = (X_s[:, 0] > 0).astype(int)
    X_t = np.random.default_rng(3).normal(size=(30, 5)) + 0.5
    m = mSDA(0.5, n_layers=3, scale=None).fit((X_s, y_s), X_t)
    assert len(m.weights_) == 3 and m.weights_[0].shape == (5, 6)
    # layer 1 is fitted on source and target rows together
    np.testing.assert_allclose(
        m.weights_[0], marginalized_denoiser(np.vstack([X_s, X_t]), 0.5, 1e-5)
    )
    out = m.transform(X_t)
    h1 = np.tanh(X_t @ m.weights_[0][:, :5].T + m.weights_[0][:, 5])
    h2 = np.tanh(h1 @ m.weights_[1][:, :5].T + m.weights_[1][:, 5])
    assert out.shape == (30, 20) == (30, m.n_features_out_)
    np.testing.assert_allclose(out[:, :5], X_t)
    np.testing.assert_allclose(out[:, 5:10], h1)
    np.testing.assert_allclose(out[:, 10:15], h2)
    last = mSDA(0.5, n_layers=3, concatenate=False, nonlinearity="identity", scale=None)
    last.fit((X_s, y_s), X_t)
    assert last.transform(X_t).shape == (30, 5)
    np.testing.assert_array_equal(m.transform(X_t, domain="source"), out)


def test_maxabs_scaling_divides_by_the_pooled_max_and_ignores_feature_scales():
    rng = np.random.default_rng(4)
    X_s = rng.poisson(0.5, size=(60, 6)).astype(float)
    X_t = rng.poisson(1.5, size=(50, 6)).astype(float)
    y_s = (X_s[:, 0] > 0).astype(int)
    m = mSDA(0.5, n_layers=2).fit((X_s, y_s), X_t)
    peak = np.abs(np.vstack([X_s, X_t])).max(0)
    np.testing.assert_array_equal(m.scale_, peak)
    ref = mSDA(0.5, n_layers=2, scale=None).fit((X_s / peak, y_s), X_t / peak)
    np.testing.assert_allclose(m.transform(X_t), ref.transform(X_t / peak), atol=1e-12)
    # rescaling the features (counts -> frequencies per 1000 words, say) changes nothing
    S = np.array([1e-3, 0.5, 2.0, 10.0, 1e3, 7.0])
    scaled = mSDA(0.5, n_layers=2).fit((X_s * S, y_s), X_t * S)
    np.testing.assert_allclose(scaled.transform(X_t * S), m.transform(X_t), atol=1e-9)
    # binary features are left as they are
    B_s, B_t = (X_s > 0).astype(float), (X_t > 0).astype(float)
    binary = mSDA(0.5, n_layers=1).fit((B_s, y_s), B_t)
    np.testing.assert_array_equal(binary.transform(B_t)[:, :6], B_t)


def pivot_words(seed, n=500, n_pivots=5, n_words=20):
    """Binary bag of words: class-c pivots fire in both domains (weakly); each domain has its
    own class-c words (strongly), which co-occur with the pivots of class c."""
    rng = np.random.default_rng(seed)

    def sample(block):
        y = rng.integers(0, 2, n)
        pivots = np.zeros((n, 2 * n_pivots))
        words = np.zeros((n, 4 * n_words))
        for c in (0, 1):
            rows = np.flatnonzero(y == c)
            pivots[np.ix_(rows, range(c * n_pivots, (c + 1) * n_pivots))] = (
                rng.random((len(rows), n_pivots)) < 0.15
            )
            off = block * 2 * n_words + c * n_words
            words[np.ix_(rows, range(off, off + n_words))] = rng.random((len(rows), n_words)) < 0.3
        X = np.concatenate([pivots, words], axis=1)
        return np.maximum(X, rng.random(X.shape) < 0.02).astype(float), y

    X_s, y_s = sample(0)
    X_t, y_t = sample(1)
    return X_s, y_s, X_t, y_t


def test_msda_improves_accuracy_on_pivot_words():
    gains = []
    for seed in range(3):
        X_s, y_s, X_t, y_t = pivot_words(seed)
        base = LogisticRegression(max_iter=2000).fit(X_s, y_s).score(X_t, y_t)
        m = mSDA(0.8, n_layers=1, estimator=LogisticRegression(max_iter=2000))
        gains.append(m.fit((X_s, y_s), X_t).score(X_t, y_t) - base)
    assert np.mean(gains) > 0.05 and min(gains) > 0.02, gains


@pytest.mark.parametrize(
    "params, match",
    [
        ({"noise": 1.0}, r"'noise' parameter of mSDA must be .* Got 1\.0 "),
        ({"noise": -0.1}, r"'noise' parameter of mSDA must be .* Got \-0\.1 "),
        ({"n_layers": 0}, r"'n_layers' parameter of mSDA must be .* Got 0 "),
        ({"reg": -1.0}, r"'reg' parameter of mSDA must be .* Got \-1\.0 "),
        ({"nonlinearity": "relu"}, r"'nonlinearity' parameter of mSDA must be .* Got 'relu' "),
        ({"scale": "standard"}, r"'scale' parameter of mSDA must be .* Got 'standard' "),
        ({"concatenate": "yes"}, r"'concatenate' parameter of mSDA must be .* Got 'yes' "),
    ],
)
def test_msda_bad_parameters(shifted_blobs, params, match):
    X_s, y_s, X_t, _ = shifted_blobs
    with pytest.raises(ValueError, match=match):
        clone(mSDA()).set_params(**params).fit((X_s, y_s), X_t)


def test_msda_singular_scatter_names_reg():
    X_s = np.zeros((10, 3))  # two all-zero features: Q has zero rows without a ridge
    X_s[:, 0] = np.arange(10)
    y_s = np.arange(10) % 2
    with pytest.raises(ValueError, match="increase reg"):
        mSDA(reg=0.0).fit((X_s, y_s), X_s.copy())
    assert np.all(np.isfinite(mSDA().fit((X_s, y_s), X_s.copy()).transform(X_s)))
