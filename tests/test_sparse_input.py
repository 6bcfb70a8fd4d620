"""SciPy sparse input (word counts, TF-IDF): kept sparse where a strategy can work on
it, densified with a warning elsewhere, refused above the size limit with what to do.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

import domainadapt._sparse as sparse_mod
from domainadapt import make_da_pipeline
from domainadapt.datasets import make_topic_shift
from domainadapt.feature import CORAL, mSDA
from domainadapt.instance import KMM, ClassifierDensityRatio, NearestNeighborWeighting
from domainadapt.model import NoAdaptation
from domainadapt.registry import get_adapters
from domainadapt.validation import check_features

ENTRIES = get_adapters(contract=True)
IDS = [e.name for e in ENTRIES]
#: Strategies that never densify: weights, scatter matrix and estimator work on CSR.
KEEP_SPARSE = {"no_adaptation", "classifier_ratio", "nn_weighting", "msda"}
#: Instance weighting that densifies for its kernel weights only; the estimator gets CSR.
DENSE_WEIGHTS = {"kmm", "kliep", "ulsif", "rulsif"}
DENSIFY = "needs dense input"


def make(entry, random_state=0):
    return entry.make_for_tests(LogisticRegression(max_iter=500), random_state)


@pytest.fixture(scope="module")
def sparse_blobs():
    """Three classes in 4-D with small values zeroed: sparse-looking rows."""
    rng = np.random.default_rng(0)
    centers = np.array([[0, 0, 0, 0], [3, 0, 0, 0], [0, 3, 0, 0]], dtype=float)
    y_s, y_t = rng.integers(0, 3, 150), rng.integers(0, 3, 120)
    X_s = centers[y_s] + rng.normal(size=(150, 4))
    X_t = centers[y_t] + rng.normal(size=(120, 4)) + 0.5
    X_s[np.abs(X_s) < 0.5] = 0.0
    X_t[np.abs(X_t) < 0.5] = 0.0
    return X_s, y_s, X_t, y_t


def densify_messages(record):
    return [str(w.message) for w in record if DENSIFY in str(w.message)]


def test_sparse_sets_name_registered_strategies():
    assert KEEP_SPARSE | DENSE_WEIGHTS <= set(IDS)


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_sparse_input_is_accepted_and_agrees_with_dense(entry, sparse_blobs):
    X_s, y_s, X_t, _ = sparse_blobs
    ref = make(entry).fit((X_s, y_s), X_t).predict(X_t)
    model = make(entry)
    with warnings.catch_warnings(record=True) as fit_record:
        warnings.simplefilter("always")
        model.fit((sp.csr_matrix(X_s), y_s), sp.coo_array(X_t))
    with warnings.catch_warnings(record=True) as predict_record:
        warnings.simplefilter("always")
        pred = model.predict(sp.csc_matrix(X_t))
    name = type(model).__name__
    if entry.name in KEEP_SPARSE:
        assert not densify_messages(fit_record + predict_record)
    elif entry.name in DENSE_WEIGHTS:  # the weights need dense rows, predict does not
        msgs = densify_messages(fit_record)
        assert msgs and all(m.startswith(f"{name} needs dense input") for m in msgs)
        assert not densify_messages(predict_record)
    else:
        for record, rows in ((fit_record, 150), (predict_record, 120)):
            msgs = densify_messages(record)  # a wrapper may also name the model it wraps
            assert any(m.startswith(f"{name} needs dense input") for m in msgs)
            assert any(f"of shape ({rows}, 4)" in m for m in msgs)
            assert all("TruncatedSVD" in m for m in msgs)
    if entry.name == "classifier_ratio":  # the default scaler cannot centre sparse rows
        assert np.mean(pred == ref) >= 0.95
    else:
        np.testing.assert_array_equal(pred, ref)


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_above_the_limit_dense_strategies_refuse_with_advice(entry, sparse_blobs, monkeypatch):
    X_s, y_s, X_t, _ = sparse_blobs
    monkeypatch.setattr(sparse_mod, "DENSIFY_LIMIT", 100)
    model = make(entry)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if entry.name in KEEP_SPARSE:
            model.fit((sp.csr_matrix(X_s), y_s), sp.csr_matrix(X_t))
            assert len(model.predict(sp.csr_matrix(X_t))) == len(X_t)
            return
        with pytest.raises(ValueError, match=r"needs dense input.*source X is a sparse CSR "
                           r"matrix of shape \(150, 4\).*TruncatedSVD") as err:
            model.fit((sp.csr_matrix(X_s), y_s), sp.csr_matrix(X_t))
        # RelationalDistillation first fits its teacher, a DeepAdapter, which refuses
        owner = "DeepAdapter" if entry.name == "relational_distillation" else type(model).__name__
        assert str(err.value).startswith(f"{owner} needs dense input")


def test_sparse_is_never_reported_as_dtype_object():
    X = sp.random(20, 5, density=0.3, format="csr", random_state=0)
    with pytest.warns(UserWarning, match="source X is a sparse CSR matrix of shape"):
        out = check_features(X, "source X", owner="CORAL")
    np.testing.assert_array_equal(out, X.toarray())
    with pytest.raises(TypeError, match="source X is a sparse matrix of dtype complex128"):
        check_features(X.astype(complex), "source X", accept_sparse=True)


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo", "lil"])
@pytest.mark.parametrize("kind", ["matrix", "array"])
def test_check_features_keeps_every_format_as_float_csr(fmt, kind):
    dense = np.array([[0, 2, 0], [1, 0, 0], [0, 0, 3]], dtype=np.int64)
    X = (sp.csr_matrix if kind == "matrix" else sp.csr_array)(dense).asformat(fmt)
    out = check_features(X, "X", accept_sparse=True)
    assert sp.issparse(out) and out.format == "csr" and out.dtype == np.float64
    np.testing.assert_array_equal(out.toarray(), dense)
    f32 = check_features(X.astype(np.float32), "X", accept_sparse=True)
    assert f32.dtype == np.float32


def test_check_features_sparse_errors_name_the_argument():
    X = sp.csr_matrix(np.array([[0.0, 1.0], [np.nan, 0.0], [0.0, np.inf]]))
    with pytest.raises(ValueError, match="target X contains NaN or infinity in 2 of 3 rows"):
        check_features(X, "target X", accept_sparse=True)
    with pytest.raises(ValueError, match="X must be 2-D.*sparse array of shape"):
        check_features(sp.coo_array(np.array([0.0, 1.0])), "X", accept_sparse=True)
    with pytest.raises(ValueError, match="X is empty"):
        check_features(sp.csr_matrix((0, 3)), "X", accept_sparse=True)
    with pytest.raises(ValueError, match="has 3 features, but the strategy was fitted with 2"):
        check_features(sp.eye(3, format="csr"), "X", accept_sparse=True, n_features=2)


# ------------------------------------------------------------------------- text
@pytest.fixture(scope="module")
def text_domains():
    """Generated reviews as documents, vectorised by TfidfVectorizer into CSR rows."""
    src, tgt = make_topic_shift(n_source=300, n_target=300, n_features=200, random_state=0)

    def documents(counts):
        return [
            " ".join(f"w{j}" for j in np.repeat(np.arange(len(row)), row.astype(int)))
            for row in counts
        ]

    vec = TfidfVectorizer(token_pattern=r"\S+").fit(documents(src.X) + documents(tgt.X))
    S, T = vec.transform(documents(src.X)), vec.transform(documents(tgt.X))
    assert sp.issparse(S) and S.nnz < 0.5 * np.prod(S.shape)
    return S, src.y, T, tgt.y


@pytest.mark.parametrize(
    "model",
    [
        NoAdaptation(LogisticRegression(max_iter=1000)),
        NearestNeighborWeighting(estimator=LogisticRegression(max_iter=1000)),  # IWCV on CSR
        mSDA(n_layers=2, estimator=LogisticRegression(max_iter=1000)),
        ClassifierDensityRatio(
            flatten=1, domain_classifier=LogisticRegression(max_iter=1000),
            estimator=LogisticRegression(max_iter=1000),
        ),
    ],
    ids=["no_adaptation", "nn_weighting", "msda", "classifier_ratio"],
)
def test_tfidf_text_same_accuracy_sparse_and_dense(model, text_domains):
    S, y_s, T, y_t = text_domains
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=f".*{DENSIFY}")
        sparse_model = clone(model).fit((S, y_s), T)
    dense_model = clone(model).fit((S.toarray(), y_s), T.toarray())
    assert sparse_model.score(T, y_t) > 0.55
    # lbfgs on CSR and on the dense copy differ in the last digits, and with importance
    # weights (a second lbfgs fit) the difference passes on to the weights: a few
    # borderline rows may flip, no more
    agree = np.mean(sparse_model.predict(T) == dense_model.predict(T.toarray()))
    assert agree >= 0.97


def test_tfidf_text_instance_weights_reach_the_estimator_sparse(text_domains):
    S, y_s, T, y_t = text_domains
    seen = {}

    class Spy(LogisticRegression):
        def fit(self, X, y, sample_weight=None):
            seen["sparse"], seen["weights"] = sp.issparse(X), sample_weight
            return super().fit(X, y, sample_weight=sample_weight)

    model = NearestNeighborWeighting(flatten=1, estimator=Spy(max_iter=1000)).fit((S, y_s), T)
    assert seen["sparse"]
    np.testing.assert_allclose(seen["weights"], model.weights_)


def test_tfidf_text_dense_strategies_warn_or_refuse(text_domains, monkeypatch):
    S, y_s, T, y_t = text_domains
    with pytest.warns(UserWarning, match=r"CORAL needs dense input: source X is a sparse CSR"):
        acc = CORAL(estimator=LogisticRegression(max_iter=1000)).fit((S, y_s), T).score(T, y_t)
    assert 0.0 <= acc <= 1.0
    with pytest.warns(UserWarning, match="KMM needs dense input"):
        KMM(flatten=1, estimator=LogisticRegression(max_iter=1000)).fit((S, y_s), T)
    monkeypatch.setattr(sparse_mod, "DENSIFY_LIMIT", S.shape[0] * S.shape[1] - 1)
    with pytest.raises(ValueError, match="KMM needs dense input.*TruncatedSVD"):
        KMM(flatten=1).fit((S, y_s), T)


def test_tfidf_text_in_dapipeline(text_domains):
    S, y_s, T, y_t = text_domains
    pipe = make_da_pipeline(NearestNeighborWeighting(), LogisticRegression(max_iter=1000))
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=f".*{DENSIFY}")
        sparse_acc = pipe.fit((S, y_s), T).score(T, y_t)
        X = sp.vstack([S, T]).tocsr()
        sd = np.r_[["source"] * S.shape[0], ["target"] * T.shape[0]]
        stacked_acc = clone(pipe).fit(X, np.r_[y_s, y_t], sample_domain=sd).score(T, y_t)
    dense_acc = clone(pipe).fit((S.toarray(), y_s), T.toarray()).score(T.toarray(), y_t)
    assert sparse_acc == stacked_acc
    assert sparse_acc == pytest.approx(dense_acc, abs=2 / len(y_t))
    with pytest.warns(UserWarning, match="CORAL needs dense input"):
        make_da_pipeline(CORAL(), LogisticRegression(max_iter=1000)).fit((S, y_s), T)


def test_msda_denoiser_scatter_formed_sparsely_matches_dense():
    from domainadapt.feature.msda import marginalized_denoiser

    X = sp.random(60, 12, density=0.2, format="csr", random_state=1)
    np.testing.assert_allclose(
        marginalized_denoiser(X, 0.5, 1e-3), marginalized_denoiser(X.toarray(), 0.5, 1e-3),
        rtol=1e-10, atol=1e-12,
    )
