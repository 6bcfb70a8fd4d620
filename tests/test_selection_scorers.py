"""Unsupervised selection scorers: unbiasedness, hand-computed values, scikit-learn use."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.preprocessing import StandardScaler

from domainadapt import make_da_pipeline
from domainadapt.datasets import make_gaussian_shift
from domainadapt.feature import CORAL
from domainadapt.selection import (
    DeepEmbeddedValidationScorer,
    ImportanceWeightedScorer,
    PredictionEntropyScorer,
    ReverseValidationScorer,
    SoftNeighborhoodDensityScorer,
    dev_risk,
    get_scorers,
    soft_neighborhood_density,
)
from domainadapt.validation import check_source_target, stack_domains


class _TrueRatio:
    """A weight estimator that knows the exact density ratio (for the unbiasedness test)."""

    def __init__(self, ratio):
        self.ratio = ratio

    def get_params(self, deep=True):
        return {"ratio": self.ratio}

    def set_params(self, **params):
        self.ratio = params["ratio"]
        return self

    def fit(self, source, target):
        self.weights_ = self.ratio(source[0])
        return self


class _FixedProba:
    """A stand-in classifier returning fixed probabilities for any rows."""

    def __init__(self, proba):
        self.proba = np.asarray(proba, dtype=float)
        self.classes_ = np.arange(self.proba.shape[1])

    def predict_proba(self, X):
        return self.proba[: len(X)]

    def predict(self, X):
        return self.proba[: len(X)].argmax(1)


def _stacked(X_s, y_s, X_t, y_t=None):
    X, y, sd = stack_domains(*check_source_target((X_s, y_s), X_t))
    y = y.copy()
    if y_t is not None:
        y[sd == "target"] = y_t
    return X, y, sd


def test_iwcv_with_true_ratio_is_unbiased():
    source, target, ratio = make_gaussian_shift(
        2000, 20_000, n_features=2, shift=1.0, random_state=0
    )
    model = LogisticRegression().fit(source.X, source.y)
    true_acc = model.score(target.X, target.y)
    source_acc = model.score(source.X, source.y)
    scorer = ImportanceWeightedScorer(weight_estimator=_TrueRatio(ratio))
    estimates = []
    for seed in range(40):
        s, t, _ = make_gaussian_shift(300, 300, n_features=2, shift=1.0, random_state=100 + seed)
        X, y, sd = _stacked(s.X, s.y, t.X)
        estimates.append(scorer(model, X, y, sample_domain=sd))
    assert abs(source_acc - true_acc) > 0.1  # the unweighted estimate is far off
    assert abs(np.mean(estimates) - true_acc) < 0.02, (np.mean(estimates), true_acc)


def test_iwcv_default_weights_beat_unweighted_validation():
    source, target, _ = make_gaussian_shift(2000, 20_000, n_features=2, shift=1.0, random_state=0)
    model = LogisticRegression().fit(source.X, source.y)
    true_acc = model.score(target.X, target.y)
    s, t, _ = make_gaussian_shift(1000, 1000, n_features=2, shift=1.0, random_state=7)
    X, y, sd = _stacked(s.X, s.y, t.X)
    iwcv = ImportanceWeightedScorer()(model, X, y, sample_domain=sd)
    plain = model.score(s.X, s.y)
    assert abs(iwcv - true_acc) < 0.5 * abs(plain - true_acc), (iwcv, plain, true_acc)


def test_dev_control_variate_formula():
    rng = np.random.default_rng(0)
    losses, w = rng.random(50), rng.gamma(2.0, 0.5, 50)
    L = w * losses
    eta = -np.cov(L, w)[0, 1] / np.var(w, ddof=1)
    assert dev_risk(losses, w) == pytest.approx(L.mean() + eta * w.mean() - eta)
    assert dev_risk(losses, np.ones(50)) == pytest.approx(losses.mean())


def test_dev_has_lower_variance_than_iwcv():
    source, _, ratio = make_gaussian_shift(2000, 10, n_features=2, shift=1.5, random_state=0)
    model = LogisticRegression().fit(source.X, source.y)
    iw, dev = [], []
    for seed in range(30):
        s, t, _ = make_gaussian_shift(200, 200, n_features=2, shift=1.5, random_state=seed)
        X, y, sd = _stacked(s.X, s.y, t.X)
        iw.append(
            ImportanceWeightedScorer(_TrueRatio(ratio), loss="log_loss")(
                model, X, y, sample_domain=sd
            )
        )
        dev.append(DeepEmbeddedValidationScorer(_TrueRatio(ratio))(model, X, y, sample_domain=sd))
    assert np.std(dev) < np.std(iw), (np.std(dev), np.std(iw))


def test_entropy_by_hand():
    proba = np.array([[0.5, 0.5], [1.0, 0.0], [0.9, 0.1]])
    est = _FixedProba(proba)
    X = np.zeros((5, 2))
    sd = np.array(["source", "source", "target", "target", "target"])
    by_hand = -(-(0.5 * np.log(0.5)) * 2 + -(0.9 * np.log(0.9) + 0.1 * np.log(0.1))) / 3
    assert PredictionEntropyScorer()(est, X, None, sample_domain=sd) == pytest.approx(by_hand)


def test_snd_by_hand():
    proba = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])  # third row already unit norm
    tau = 0.5
    sims = np.array([[0, 0.0, 0.6], [0.0, 0, 0.8], [0.6, 0.8, 0]]) / tau
    total = 0.0
    for i in range(3):
        others = [j for j in range(3) if j != i]
        e = np.exp([sims[i, j] for j in others])
        p = e / e.sum()
        total += -(p * np.log(p)).sum()
    assert soft_neighborhood_density(proba, tau) == pytest.approx(total / 3)
    X = np.zeros((4, 2))
    sd = np.array(["source", "target", "target", "target"])
    scorer = SoftNeighborhoodDensityScorer(temperature=tau)
    assert scorer(_FixedProba(proba), X, None, sample_domain=sd) == pytest.approx(total / 3)


def test_snd_prefers_clustered_over_uniform_predictions():
    rng = np.random.default_rng(0)
    confident = np.eye(3)[rng.integers(0, 3, 60)] * 0.98 + 0.01 / 1.5
    spread = rng.dirichlet(np.ones(3), 60)
    assert soft_neighborhood_density(confident) > soft_neighborhood_density(spread)


@pytest.fixture
def shifted(shifted_blobs):
    X_s, y_s, X_t, y_t = shifted_blobs
    return _stacked(X_s, y_s, X_t, y_t)


@pytest.mark.parametrize("name", sorted(get_scorers()))
def test_gridsearch_with_routing(name, shifted):
    X, y, sd = shifted
    pipe = make_da_pipeline(StandardScaler(), CORAL(), LogisticRegression())
    folds = StratifiedKFold(3, shuffle=True, random_state=0)
    scorer = get_scorers()[name]
    with sklearn.config_context(enable_metadata_routing=True):
        search = GridSearchCV(
            pipe,
            {"logisticregression__C": [0.01, 1.0]},
            scoring=scorer,
            cv=folds,
            error_score="raise",
        )
        search.fit(X, y, sample_domain=sd)
        assert np.isfinite(search.cv_results_["mean_test_score"]).all()
        scores = cross_val_score(
            pipe, X, y, params={"sample_domain": sd}, cv=folds, scoring=scorer, error_score="raise"
        )
        assert np.isfinite(scores).all()


@pytest.mark.parametrize("name", sorted(get_scorers()))
def test_target_labels_are_never_read(name, shifted):
    X, y, sd = shifted
    model = make_da_pipeline(StandardScaler(), CORAL(), LogisticRegression())
    model.fit(X, y, sample_domain=sd)
    scrambled = y.copy()
    is_t = sd == "target"
    scrambled[is_t] = np.random.default_rng(0).permutation(scrambled[is_t] + 7)
    scorer = get_scorers()[name]
    assert scorer(model, X, y, sample_domain=sd) == scorer(model, X, scrambled, sample_domain=sd)


@pytest.mark.parametrize("name", sorted(get_scorers()))
def test_clear_error_without_sample_domain(name, shifted):
    X, y, sd = shifted
    pipe = make_da_pipeline(StandardScaler(), CORAL(), LogisticRegression())
    model = pipe.fit(X, y, sample_domain=sd)
    scorer = get_scorers()[name]
    with pytest.raises(ValueError, match="needs sample_domain.*enable_metadata_routing"):
        scorer(model, X, y)
    # plain (no routing) GridSearchCV cannot hand it over: an error, not a wrong score
    search = GridSearchCV(
        pipe, {"logisticregression__C": [1.0]}, scoring=scorer, cv=2, error_score="raise"
    )
    with pytest.raises(ValueError, match="needs sample_domain"):
        search.fit(X, y, sample_domain=sd)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lenient = GridSearchCV(pipe, {"logisticregression__C": [1.0]}, scoring=scorer, cv=2)
        lenient.fit(X, y, sample_domain=sd)
    assert np.isnan(lenient.cv_results_["mean_test_score"]).all()


def test_fold_without_target_rows(shifted):
    X, y, sd = shifted
    model = make_da_pipeline(CORAL(), LogisticRegression()).fit(X, y, sample_domain=sd)
    src = sd == "source"
    with pytest.raises(ValueError, match="no target row"):
        PredictionEntropyScorer()(model, X[src], y[src], sample_domain=sd[src])
    with pytest.raises(ValueError, match="no source row"):
        ImportanceWeightedScorer()(model, X[~src], y[~src], sample_domain=sd[~src])


def test_reverse_validation_ranks_a_broken_model_low(shifted):
    X, y, sd = shifted
    good = make_da_pipeline(StandardScaler(), LogisticRegression()).fit(X, y, sample_domain=sd)
    rng = np.random.default_rng(0)
    y_bad = y.copy()
    y_bad[sd == "source"] = rng.permutation(y_bad[sd == "source"])
    bad = make_da_pipeline(StandardScaler(), LogisticRegression()).fit(X, y_bad, sample_domain=sd)
    scorer = ReverseValidationScorer()
    assert scorer(good, X, y, sample_domain=sd) > scorer(bad, X, y, sample_domain=sd) + 0.3


def test_scorer_parameter_errors():
    with pytest.raises(ValueError, match="loss must be"):
        ImportanceWeightedScorer(loss="hinge")
    with pytest.raises(ValueError, match="temperature must be"):
        SoftNeighborhoodDensityScorer(temperature=0)
