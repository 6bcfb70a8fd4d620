"""DAPipeline semantics: what each step sees, routing, no global side effects."""

import numpy as np
import pytest
import sklearn
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.preprocessing import StandardScaler

import domainadapt  # noqa: F401  (importing must not switch on metadata routing)
from domainadapt import DAPipeline, Domain, make_da_pipeline
from domainadapt.feature import CORAL
from domainadapt.instance import ClassifierDensityRatio
from domainadapt.validation import check_source_target, stack_domains


def stacked(X_s, y_s, X_t, y_t):
    X, y, sd = stack_domains(*check_source_target((X_s, y_s), X_t))
    y = y.copy()
    y[sd == "target"] = y_t
    return X, y, sd


def test_import_leaves_sklearn_config_alone():
    assert sklearn.get_config()["enable_metadata_routing"] is False


def test_plain_steps_see_only_labelled_rows(shifted_blobs):
    X_s, y_s, X_t, y_t = shifted_blobs
    X, y, sd = stacked(X_s, y_s, X_t, y_t)
    pipe = make_da_pipeline(StandardScaler(), LogisticRegression()).fit(X, y, sample_domain=sd)
    np.testing.assert_allclose(pipe[0].mean_, X_s.mean(0))
    # a pipeline with no adapter is exactly source-only training
    ref = LogisticRegression().fit(StandardScaler().fit_transform(X_s), y_s)
    np.testing.assert_allclose(pipe[-1].coef_, ref.coef_)


def test_feature_adapter_step_adapts_rows_by_domain(shifted_blobs):
    X_s, y_s, X_t, y_t = shifted_blobs
    X, y, sd = stacked(X_s, y_s, X_t, y_t)
    pipe = make_da_pipeline(CORAL(), LogisticRegression()).fit(X, y, sample_domain=sd)
    coral = CORAL().fit((X_s, y_s), X_t)
    ref = LogisticRegression().fit(coral.transform(X_s, domain="source"), y_s)
    np.testing.assert_allclose(pipe[-1].coef_, ref.coef_, rtol=1e-6)
    # predict takes rows as target rows by default; with sample_domain, per row
    np.testing.assert_array_equal(pipe.predict(X_t), ref.predict(X_t))
    Xt = pipe[:-1].transform(X, sample_domain=sd)
    np.testing.assert_allclose(Xt[sd == "source"], coral.transform(X_s, domain="source"))
    np.testing.assert_allclose(Xt[sd != "source"], X_t)


def test_instance_adapter_step_feeds_weights_to_the_final_estimator(shifted_blobs):
    X_s, y_s, X_t, y_t = shifted_blobs
    X, y, sd = stacked(X_s, y_s, X_t, y_t)
    pipe = make_da_pipeline(ClassifierDensityRatio(random_state=0), LogisticRegression())
    pipe.fit(X, y, sample_domain=sd)
    weights = pipe[0].weights_
    ref = LogisticRegression().fit(X_s, y_s, sample_weight=weights)
    np.testing.assert_allclose(pipe[-1].coef_, ref.coef_, rtol=1e-6)


def test_source_target_form_equals_stacked_form(shifted_blobs):
    X_s, y_s, X_t, y_t = shifted_blobs
    X, y, sd = stacked(X_s, y_s, X_t, y_t)
    a = make_da_pipeline(StandardScaler(), CORAL(), LogisticRegression()).fit((X_s, y_s), X_t)
    b = make_da_pipeline(StandardScaler(), CORAL(), LogisticRegression())
    b.fit(X, y, sample_domain=sd)
    np.testing.assert_allclose(a.predict_proba(X_t), b.predict_proba(X_t))
    assert a.score(X, y, sample_domain=sd) == pytest.approx(a.score(X_t, y_t))


def test_clone_and_nested_params():
    pipe = make_da_pipeline(StandardScaler(), CORAL(reg=0.5), LogisticRegression(C=2.0))
    assert isinstance(pipe, DAPipeline)
    params = pipe.get_params()
    assert params["coral__reg"] == 0.5 and params["logisticregression__C"] == 2.0
    other = clone(pipe).set_params(coral__reg=0.1)
    assert other.get_params()["coral__reg"] == 0.1 and pipe.get_params()["coral__reg"] == 0.5


def test_pipeline_errors(shifted_blobs):
    X_s, y_s, X_t, y_t = shifted_blobs
    X, y, sd = stacked(X_s, y_s, X_t, y_t)
    pipe = make_da_pipeline(CORAL(), LogisticRegression())
    with pytest.raises(ValueError, match="needs sample_domain"):
        pipe.fit(X, y)
    with pytest.raises(ValueError, match="sample_domain has unknown values"):
        pipe.fit(X, y, sample_domain=np.where(sd == "source", 1, 0))
    with pytest.raises(ValueError, match="both source and target"):
        pipe.fit(X, y, sample_domain=np.full(len(X), "source"))
    with pytest.raises(ValueError, match="memory must be None"):
        make_da_pipeline(CORAL(), LogisticRegression(), memory="/tmp")


def test_invalid_steps_are_refused_as_by_a_plain_pipeline(shifted_blobs):
    X, y, sd = stacked(*shifted_blobs)
    invalid = {
        "not unique": [("a", StandardScaler()), ("a", LogisticRegression())],
        "must not contain __": [("a__b", StandardScaler()), ("c", LogisticRegression())],
        "conflict with constructor arguments": [("verbose", StandardScaler()),
                                                ("c", LogisticRegression())],
        "is a class": [("a", StandardScaler), ("c", LogisticRegression())],
        "fit and transform": [("a", LogisticRegression()), ("c", LogisticRegression())],
        "last step should implement fit": [("a", StandardScaler()), ("c", object())],
    }
    for message, steps in invalid.items():
        with pytest.raises((ValueError, TypeError), match=message):
            DAPipeline(steps).fit(X, y, sample_domain=sd)
    with pytest.raises(ValueError, match="empty"):
        DAPipeline([]).fit(X, y, sample_domain=sd)
    # passthrough steps are skipped; a passthrough last step leaves transform's rows as is
    pipe = DAPipeline([("skip", "passthrough"), ("coral", CORAL()), ("end", None)])
    assert pipe.fit(X, y, sample_domain=sd).transform(X).shape == X.shape


def test_weighted_score_is_sklearns_weighted_accuracy(shifted_blobs):
    X_s, y_s, X_t, y_t = shifted_blobs
    X, y, sd = stacked(X_s, y_s, X_t, y_t)
    pipe = make_da_pipeline(CORAL(), LogisticRegression()).fit(X, y, sample_domain=sd)
    weights = np.random.default_rng(0).uniform(0.1, 3.0, len(X))
    target = sd == "target"
    expected = accuracy_score(y[target], pipe.predict(X[target]), sample_weight=weights[target])
    assert pipe.score(X, y, sample_weight=weights, sample_domain=sd) == pytest.approx(expected)
    adapter = CORAL(estimator=LogisticRegression()).fit((X_s, y_s), X_t)
    assert adapter.score(X_t, y_t, sample_weight=weights[target]) == pytest.approx(
        accuracy_score(y_t, adapter.predict(X_t), sample_weight=weights[target])
    )


def test_labels_are_never_reserved_in_the_stacked_form():
    # class -1 is a real class here: the stacked form needs no label sentinel
    rng = np.random.default_rng(0)
    X_s = rng.normal(size=(100, 2))
    y_s = np.where(X_s[:, 0] > 0, 1, -1)
    X_t = rng.normal(size=(80, 2)) + 0.3
    X = np.r_[X_s, X_t]
    y = np.r_[y_s, np.where(X_t[:, 0] > 0, 1, -1)]
    sd = np.r_[["source"] * 100, ["target"] * 80]
    pipe = make_da_pipeline(CORAL(), LogisticRegression()).fit(X, y, sample_domain=sd)
    assert set(pipe.predict(X_t)) <= {-1, 1}
    # the (X, y) form with -1 sentinels refuses the ambiguity and says what to do
    with pytest.raises(ValueError, match="labelled=mask"):
        CORAL(estimator=LogisticRegression()).fit((X_s, y_s), (X_t, np.full(80, -1)))
    # ... and the explicit mask works
    mask = np.zeros(80, dtype=bool)
    mask[:5] = True
    CORAL(estimator=LogisticRegression()).fit(
        (X_s, y_s), Domain(X_t, y[100:], labelled=mask)
    )


def test_feature_and_instance_adapters_expose_classes(shifted_blobs):
    from sklearn.exceptions import NotFittedError

    from domainadapt.feature import CORAL
    from domainadapt.instance import KLIEP

    X_s, y_s, X_t, _ = shifted_blobs
    for adapter in (CORAL(estimator=LogisticRegression()), KLIEP(estimator=LogisticRegression())):
        assert not hasattr(adapter, "classes_")
        with pytest.raises(NotFittedError):
            adapter.classes_  # noqa: B018
        adapter.fit((X_s, y_s), X_t)
        np.testing.assert_array_equal(adapter.classes_, np.unique(y_s))
        np.testing.assert_array_equal(adapter.classes_[adapter.predict_proba(X_t).argmax(1)],
                                      adapter.predict(X_t))
