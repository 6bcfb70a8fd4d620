"""ClassAMI (Musgrave et al. 2022): reference value, extremes, determinism, no target labels."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import adjusted_mutual_info_score

from domainadapt import make_da_pipeline
from domainadapt.feature import SubspaceAlignment
from domainadapt.model import NoAdaptation
from domainadapt.selection import ClassAMIScorer, class_ami, get_scorers
from domainadapt.selection.scorers import resolve_scorers


def _blobs(n_per=40, n_classes=3, dim=5, shift=0.5, spread=6.0, seed=0):
    rng = np.random.RandomState(seed)
    centres = rng.randn(n_classes, dim) * spread
    y = np.repeat(np.arange(n_classes), n_per)
    X_s = centres[y] + rng.randn(len(y), dim)
    X_t = centres[y] + rng.randn(len(y), dim) + shift
    X = np.vstack([X_s, X_t])
    sd = np.array(["source"] * len(y) + ["target"] * len(y))
    return X, np.concatenate([y, y]), sd


class _FixedPredictor:
    """A 'model' predicting given labels for the target rows (by row order)."""

    def __init__(self, labels, n_classes):
        self.labels = np.asarray(labels)
        self.classes_ = np.arange(n_classes)

    def predict(self, X):
        return self.labels[: len(X)]

    def predict_proba(self, X):
        return np.eye(len(self.classes_))[self.predict(X)]


def test_equals_sklearn_ami_of_the_kmeans_clustering_of_the_representation():
    # reference: PCA (64 > dim, so none here; then with pca_size=3) + KMeans + sklearn AMI
    X, y, sd = _blobs(dim=8)
    model = NoAdaptation(estimator=LogisticRegression(C=0.01)).fit(
        (X[sd == "source"], y[sd == "source"]), X[sd == "target"]
    )
    X_t = X[sd == "target"]
    pred = model.predict(X_t)
    km = KMeans(n_clusters=3, n_init=10, random_state=0).fit_predict(X_t)
    expected = adjusted_mutual_info_score(pred, km)
    assert ClassAMIScorer()(model, X, y, sample_domain=sd) == pytest.approx(expected, abs=1e-12)

    F = PCA(n_components=3, random_state=0).fit_transform(X_t)
    km3 = KMeans(n_clusters=3, n_init=10, random_state=0).fit_predict(F)
    got = ClassAMIScorer(pca_size=3)(model, X, y, sample_domain=sd)
    assert got == pytest.approx(adjusted_mutual_info_score(pred, km3), abs=1e-12)


def test_pipeline_is_scored_on_its_own_representation():
    X, y, sd = _blobs(dim=8)
    pipe = make_da_pipeline(SubspaceAlignment(n_components=4, preprocess=None), LogisticRegression())
    pipe.fit(X, y, sample_domain=sd)
    X_t = X[sd == "target"]
    Z = pipe.steps[0][1].transform(X_t, domain="target")  # what the regression is applied to
    assert Z.shape == (len(X_t), 4)
    expected = class_ami(Z, pipe.predict(X_t), n_clusters=3)
    assert ClassAMIScorer()(pipe, X, y, sample_domain=sd) == pytest.approx(expected, abs=1e-12)
    # the fitted SA adapter used as a model (its own estimator) maps the rows the same way
    sa = SubspaceAlignment(n_components=4, preprocess=None, estimator=LogisticRegression())
    sa.fit(X, y, sample_domain=sd)
    Z2 = sa.transform(X_t, domain="target")
    expected2 = class_ami(Z2, sa.predict(X_t), n_clusters=3)
    assert ClassAMIScorer()(sa, X, y, sample_domain=sd) == pytest.approx(expected2, abs=1e-12)


def test_perfect_clusters_score_one_and_random_labels_about_zero():
    X, y, sd = _blobs(n_per=100, spread=10.0)
    y_t = y[sd == "target"]
    perfect = _FixedPredictor(y_t, 3)
    assert ClassAMIScorer()(perfect, X, sample_domain=sd) == pytest.approx(1.0, abs=1e-9)
    # a relabelling of the clusters is just as good: AMI ignores label names
    renamed = _FixedPredictor((y_t + 1) % 3, 3)
    assert ClassAMIScorer()(renamed, X, sample_domain=sd) == pytest.approx(1.0, abs=1e-9)
    rand = _FixedPredictor(np.random.RandomState(1).randint(0, 3, len(y_t)), 3)
    assert abs(ClassAMIScorer()(rand, X, sample_domain=sd)) < 0.03
    constant = _FixedPredictor(np.zeros(len(y_t), dtype=int), 3)
    assert ClassAMIScorer()(constant, X, sample_domain=sd) == pytest.approx(0.0, abs=1e-12)
    # a better model (fewer flipped labels) scores higher
    flipped = y_t.copy()
    flipped[::4] = (flipped[::4] + 1) % 3
    half = ClassAMIScorer()(_FixedPredictor(flipped, 3), X, sample_domain=sd)
    assert 0.05 < half < 1.0


def test_proba_features():
    X, y, sd = _blobs()
    model = NoAdaptation().fit((X[sd == "source"], y[sd == "source"]), X[sd == "target"])
    X_t = X[sd == "target"]
    expected = class_ami(model.predict_proba(X_t), model.predict(X_t), n_clusters=3)
    got = ClassAMIScorer(features="proba")(model, X, sample_domain=sd)
    assert got == pytest.approx(expected, abs=1e-12)


def test_deterministic_under_random_state():
    rng = np.random.RandomState(0)
    X_s, X_t = rng.randn(150, 70), rng.randn(150, 70) + 0.3  # no clear clusters, PCA active
    y_s = rng.randint(0, 4, 150)
    model = NoAdaptation().fit((X_s, y_s), X_t)
    X = np.vstack([X_s, X_t])
    sd = np.array(["source"] * 150 + ["target"] * 150)
    a = ClassAMIScorer(random_state=3)(model, X, sample_domain=sd)
    b = ClassAMIScorer(random_state=3)(model, X, sample_domain=sd)
    assert a == b
    sub = ClassAMIScorer(max_rows=100, random_state=3)
    assert sub(model, X, sample_domain=sd) == sub(model, X, sample_domain=sd)


def test_target_labels_are_never_read():
    X, y, sd = _blobs()
    model = NoAdaptation().fit((X[sd == "source"], y[sd == "source"]), X[sd == "target"])
    scorer = ClassAMIScorer()
    with_labels = scorer(model, X, y, sample_domain=sd)
    scrambled = y.copy()
    is_t = sd == "target"
    scrambled[is_t] = np.random.default_rng(0).permutation(scrambled[is_t]) + 7
    assert scorer(model, X, scrambled, sample_domain=sd) == with_labels
    assert scorer(model, X, None, sample_domain=sd) == with_labels  # no labels at all
    # the source rows are not used either
    X_src_changed = X.copy()
    X_src_changed[~is_t] = 0.0
    assert scorer(model, X_src_changed, sample_domain=sd) == with_labels


def test_registered_by_name():
    assert isinstance(get_scorers()["class_ami"], ClassAMIScorer)
    assert isinstance(resolve_scorers(["class_ami"])["class_ami"], ClassAMIScorer)


def test_bad_input_errors():
    with pytest.raises(ValueError, match="features must be one of"):
        ClassAMIScorer(features="logits")
    with pytest.raises(ValueError, match="pca_size"):
        ClassAMIScorer(pca_size=0)
    with pytest.raises(ValueError, match="n_init"):
        ClassAMIScorer(n_init=0)
    with pytest.raises(ValueError, match="max_rows"):
        ClassAMIScorer(max_rows=1)
    X, y, sd = _blobs(n_per=10)
    model = NoAdaptation().fit((X[sd == "source"], y[sd == "source"]), X[sd == "target"])
    few = np.concatenate([np.flatnonzero(sd == "source"), np.flatnonzero(sd == "target")[:2]])
    with pytest.raises(ValueError, match="needs at least that many target rows"):
        ClassAMIScorer()(model, X[few], sample_domain=sd[few])
    with pytest.raises(ValueError, match="needs sample_domain"):
        ClassAMIScorer()(model, X)
    with pytest.raises(ValueError, match="rows"):
        class_ami(np.zeros((3, 2)), [0, 1], n_clusters=2)
    with pytest.raises(ValueError, match="n_clusters"):
        class_ami(np.zeros((3, 2)), [0, 1, 0], n_clusters=1)
