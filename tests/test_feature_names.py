"""Column names of pandas DataFrames, checked as scikit-learn does, for every strategy.

A strategy fitted on DataFrames with string column names records them in
``feature_names_in_``; rows with other names, or the same names in another order,
are refused (never silently matched by position), and names that appear or
disappear after ``fit`` give scikit-learn's warnings.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression

from domainadapt import Domain, make_da_pipeline
from domainadapt.feature import CORAL
from domainadapt.instance import KMM
from domainadapt.registry import get_adapters
from domainadapt.validation import check_feature_names, fit_feature_names, get_feature_names

pd = pytest.importorskip("pandas")

ENTRIES = get_adapters(contract=True)
IDS = [e.name for e in ENTRIES]
COLUMNS = ["age", "income", "height", "score"]


def make(entry, random_state=0):
    return entry.make_for_tests(LogisticRegression(max_iter=500), random_state)


def frames(X_s, X_t, columns=COLUMNS):
    return pd.DataFrame(X_s, columns=columns), pd.DataFrame(X_t, columns=columns)


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_dataframe_round_trip_sets_names_and_matches_arrays(entry, shifted_blobs):
    X_s, y_s, X_t, y_t = shifted_blobs
    df_s, df_t = frames(X_s, X_t)
    by_array = make(entry).fit((X_s, y_s), X_t)
    assert not hasattr(by_array, "feature_names_in_")
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*feature names")
        by_frame = make(entry).fit((df_s, pd.Series(y_s)), df_t)
        pred = by_frame.predict(df_t)
        score = by_frame.score(df_t, y_t)  # no warning from score's inner predict
    np.testing.assert_array_equal(by_frame.feature_names_in_, COLUMNS)
    assert by_frame.feature_names_in_.dtype == object
    assert by_frame.n_features_in_ == len(COLUMNS)
    np.testing.assert_array_equal(pred, by_array.predict(X_t))
    assert score == by_array.score(X_t, y_t)


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_reordered_or_renamed_columns_raise(entry, shifted_blobs):
    X_s, y_s, X_t, y_t = shifted_blobs
    df_s, df_t = frames(X_s, X_t)
    fitted = make(entry).fit((df_s, y_s), df_t)
    reordered = df_t[COLUMNS[::-1]]
    with pytest.raises(ValueError, match="same columns in another order"):
        fitted.predict(reordered)
    with pytest.raises(ValueError, match="feature names should match"):
        fitted.score(reordered, y_t)
    renamed = df_t.rename(columns={"score": "grade"})
    with pytest.raises(ValueError, match=r"only in X: \['grade'\].*only in fit: \['score'\]"):
        fitted.predict(renamed)
    # reordering back gives the fitted predictions: the names, not the positions, count
    np.testing.assert_array_equal(
        fitted.predict(reordered[fitted.feature_names_in_]), fitted.predict(df_t)
    )


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_source_and_target_names_must_agree(entry, shifted_blobs):
    X_s, y_s, X_t, _ = shifted_blobs
    df_s, df_t = frames(X_s, X_t)
    with pytest.raises(ValueError, match="source X and target X.*same columns in another order"):
        clone(make(entry)).fit((df_s, y_s), df_t[COLUMNS[::-1]])
    other = df_t.rename(columns={"age": "years"})
    with pytest.raises(ValueError, match=r"only in target X: \['years'\].*only in source X: \['age'\]"):
        clone(make(entry)).fit(Domain(df_s, y_s), Domain(other))


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_names_appearing_or_disappearing_warn(entry, shifted_blobs):
    X_s, y_s, X_t, _ = shifted_blobs
    df_s, df_t = frames(X_s, X_t)
    on_frames = make(entry).fit((df_s, y_s), df_t)
    with pytest.warns(UserWarning, match="X does not have valid feature names, but"):
        on_frames.predict(X_t)
    on_arrays = make(entry).fit((X_s, y_s), X_t)
    with pytest.warns(UserWarning, match="X has feature names, but .* fitted without feature"):
        on_arrays.predict(df_t)
    # refitting on arrays forgets the names, as in scikit-learn
    on_frames.fit((X_s, y_s), X_t)
    assert not hasattr(on_frames, "feature_names_in_")


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_stacked_form_records_names(entry, shifted_blobs):
    X_s, y_s, X_t, _ = shifted_blobs
    X = pd.DataFrame(np.concatenate([X_s, X_t]), columns=COLUMNS)
    y = np.concatenate([y_s, np.full(len(X_t), -1)])
    sd = np.array(["source"] * len(X_s) + ["target"] * len(X_t))
    fitted = make(entry).fit(X, y, sample_domain=sd)
    np.testing.assert_array_equal(fitted.feature_names_in_, COLUMNS)
    with pytest.raises(ValueError, match="another order"):
        fitted.predict(X[COLUMNS[::-1]])


def test_reordered_columns_no_longer_give_a_silent_wrong_answer(shifted_blobs):
    """The bug: CORAL accepted permuted columns and its accuracy collapsed silently."""
    X_s, y_s, X_t, y_t = shifted_blobs
    df_s, df_t = frames(X_s, X_t)
    model = CORAL(estimator=LogisticRegression(max_iter=500)).fit((df_s, y_s), df_t)
    permuted = df_t[["income", "age", "height", "score"]]
    # positionally, the permuted frame is a different matrix: it would predict otherwise
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        positional = model.predict(permuted.to_numpy())
    assert not np.array_equal(positional, model.predict(df_t))
    with pytest.raises(ValueError, match="column 0 is 'age' in fit but 'income' in X"):
        model.predict(permuted)


def test_dapipeline_checks_names(shifted_blobs):
    X_s, y_s, X_t, y_t = shifted_blobs
    df_s, df_t = frames(X_s, X_t)
    pipe = make_da_pipeline(KMM(flatten=1), LogisticRegression(max_iter=500))
    with pytest.raises(AttributeError):
        pipe.feature_names_in_  # noqa: B018 - not fitted
    pipe.fit((df_s, y_s), df_t)
    np.testing.assert_array_equal(pipe.feature_names_in_, COLUMNS)
    ref = make_da_pipeline(KMM(flatten=1), LogisticRegression(max_iter=500))
    ref.fit((X_s, y_s), X_t)
    np.testing.assert_array_equal(pipe.predict(df_t), ref.predict(X_t))
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*feature names")
        assert pipe.score(df_t, y_t) == ref.score(X_t, y_t)
    for method in ("predict", "predict_proba", "transform"):
        with pytest.raises(ValueError, match="another order"):
            getattr(pipe, method)(df_t[COLUMNS[::-1]])
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        pipe.predict(X_t)
    with pytest.raises(ValueError, match="source X and target X have different feature names"):
        clone(pipe).fit((df_s, y_s), df_t[COLUMNS[::-1]])
    X = pd.concat([df_s, df_t], ignore_index=True)
    sd = np.array(["source"] * len(X_s) + ["target"] * len(X_t))
    y = np.concatenate([y_s, y_t])
    pipe.fit(X, y, sample_domain=sd)
    np.testing.assert_array_equal(pipe.feature_names_in_, COLUMNS)
    pipe.fit(X.to_numpy(), y, sample_domain=sd)
    assert not hasattr(pipe, "feature_names_in_")


def test_get_feature_names_follows_sklearn():
    X = np.zeros((2, 3))
    assert get_feature_names(X) is None
    assert get_feature_names(pd.DataFrame(X)) is None  # RangeIndex: no names
    np.testing.assert_array_equal(
        get_feature_names(pd.DataFrame(X, columns=["a", "b", "c"])), ["a", "b", "c"]
    )
    with pytest.raises(TypeError, match="source X has column names of several types"):
        get_feature_names(pd.DataFrame(X, columns=["a", 1, "c"]), "source X")


def test_fit_feature_names_takes_the_one_with_names():
    a = pd.DataFrame(np.zeros((2, 2)), columns=["x", "y"])
    assert list(fit_feature_names((a, [0, 1]), np.zeros((2, 2)))) == ["x", "y"]
    assert list(fit_feature_names((np.zeros((2, 2)), [0, 1]), a)) == ["x", "y"]
    assert fit_feature_names((np.zeros((2, 2)), [0, 1]), np.zeros((2, 2))) is None
    with pytest.raises(ValueError, match=r"columns only in target X: \['z'\]"):
        fit_feature_names((a, [0, 1]), a.rename(columns={"y": "z"}))


def test_check_feature_names_lists_what_differs():
    fitted = np.array(["a", "b", "c"], dtype=object)
    check_feature_names(pd.DataFrame(np.zeros((1, 3)), columns=["a", "b", "c"]), fitted,
                        owner="M")
    with pytest.raises(ValueError, match=r"only in X: \['d'\].*only in fit: \['c'\]"):
        check_feature_names(pd.DataFrame(np.zeros((1, 3)), columns=["a", "b", "d"]), fitted,
                            owner="M")
    with pytest.raises(ValueError, match=r"only in fit: \['c'\]"):
        check_feature_names(pd.DataFrame(np.zeros((1, 2)), columns=["a", "b"]), fitted,
                            owner="M")
