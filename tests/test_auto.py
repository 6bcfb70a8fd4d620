"""AutoAdapter: the automatic choice of strategy without target labels."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from domainadapt import Domain, NotApplicableWarning, make_da_pipeline
from domainadapt.base import FeatureAdapter
from domainadapt.datasets import make_shifted_digits
from domainadapt.feature import CORAL, SubspaceAlignment
from domainadapt.model import NoAdaptation
from domainadapt.selection import AutoAdapter
from domainadapt.selection.auto import majority_vote
from domainadapt.validation import check_source_target, stack_domains


def _lr(C=1.0):
    return LogisticRegression(C=C, max_iter=500)


@pytest.fixture(scope="module")
def rotated_digits():
    return make_shifted_digits("rotation", random_state=0)


@pytest.fixture(scope="module")
def small_digits(rotated_digits):
    """300 source and 300 target rows of the rotated digits (for the slower checks)."""
    source, target = rotated_digits
    return (Domain(source.X[:300], source.y[:300]), Domain(target.X[:300], target.y[:300]))


class _Broken(FeatureAdapter):
    """A candidate whose fit always fails."""

    def __init__(self, estimator=None):
        self.estimator = estimator

    def _fit_transform_params(self, source, target):
        raise RuntimeError("this candidate always fails")


def test_picks_coral_on_rotated_digits_and_gains(rotated_digits):
    source, target = rotated_digits
    auto = AutoAdapter(candidates=["no_adaptation", "coral", "subspace_alignment"],
                       estimator=_lr(), random_state=0).fit(source, target.X)
    baseline = NoAdaptation(_lr()).fit(source, target.X).score(target.X, target.y)
    assert auto.best_name_ in ("coral", "subspace_alignment")
    assert auto.score(target.X, target.y) > baseline + 0.08
    assert set(auto.cv_results_["candidate"]) == {"no_adaptation", "coral", "subspace_alignment"}
    assert sorted(auto.cv_results_["rank"]) == [1, 2, 3]
    assert auto.ranking_[0] == auto.cv_results_["candidate"][auto.cv_results_["rank"] == 1][0]
    # refit: every committee member is fitted on every source row, as if fitted alone,
    # and the prediction is their majority vote
    assert auto.committee_ == auto.ranking_[:3] and auto.committee_[0] == auto.best_name_
    alone = [clone(auto.candidates_[n]).fit(source, target.X).predict(target.X)
             for n in auto.committee_]
    np.testing.assert_array_equal(auto.best_adapter_.predict(target.X), alone[0])
    np.testing.assert_array_equal(auto.predict(target.X), majority_vote(alone))
    assert auto.n_features_in_ == source.X.shape[1]
    assert "kept: " in auto.report()


def test_never_reads_target_labels(small_digits):
    source, target = small_digits
    X, y, sd = stack_domains(*check_source_target(source, target.X))
    y_true = y.copy()
    y_true[sd == "target"] = target.y
    y_noise = y.copy()
    y_noise[sd == "target"] = np.random.default_rng(1).permutation(target.y)[::-1]
    kwargs = dict(candidates=["no_adaptation", "coral", "kliep"], estimator=_lr(),
                  random_state=0, cv=1)
    a = AutoAdapter(**kwargs).fit(X, y_true, sample_domain=sd)
    b = AutoAdapter(**kwargs).fit(X, y_noise, sample_domain=sd)
    for key, value in a.cv_results_.items():
        if key.startswith("score_") and key != "score_time":
            np.testing.assert_array_equal(value, b.cv_results_[key])
    assert a.best_name_ == b.best_name_
    np.testing.assert_array_equal(a.predict(target.X), b.predict(target.X))


def _lookup_scorer(table):
    """A scorer returning a fixed score per candidate, told apart by the estimator's C."""

    def score(estimator, X, y=None, sample_domain=None):
        return table[estimator.estimator_.C if hasattr(estimator, "estimator_") else None]

    return score


def _guard_candidates():
    return {"no_adaptation": NoAdaptation(_lr(1.0)), "x": NoAdaptation(_lr(2.0)),
            "y": NoAdaptation(_lr(3.0)), "z": NoAdaptation(_lr(4.0))}


def test_guard_keeps_no_adaptation_when_most_scorers_prefer_it(small_digits):
    source, target = small_digits
    # s1 ranks x first and no adaptation last; s2 and s3 prefer no adaptation to x.
    # Mean ranks: x (4+3+3)/3 = 3.33 beats no adaptation (1+4+4)/3 = 3.0, yet 2 of 3
    # scorers rate x below no adaptation: the guard keeps no adaptation.
    scorers = {
        "s1": _lookup_scorer({2.0: 4, 3.0: 3, 4.0: 2, 1.0: 1}),
        "s2": _lookup_scorer({1.0: 4, 2.0: 3, 3.0: 2, 4.0: 1}),
        "s3": _lookup_scorer({1.0: 4, 2.0: 3, 3.0: 2, 4.0: 1}),
    }
    auto = AutoAdapter(candidates=_guard_candidates(), scorers=scorers, random_state=0, cv=1)
    auto.fit(source, target.X)
    assert auto.ranking_[0] == "x"
    assert auto.guard_vetoed_ and auto.best_name_ == "no_adaptation"
    # a veto leaves no adaptation alone, whatever the committee size
    assert auto.committee_ == ["no_adaptation"]
    np.testing.assert_array_equal(
        auto.predict(target.X), NoAdaptation(_lr()).fit(source, target.X).predict(target.X))
    unguarded = clone(auto).set_params(guard=False).fit(source, target.X)
    assert not unguarded.guard_vetoed_ and unguarded.best_name_ == "x"


def test_failed_candidate_is_recorded_not_fatal(small_digits):
    source, target = small_digits
    auto = AutoAdapter(candidates={"broken": _Broken(), "coral": CORAL()}, estimator=_lr(),
                       random_state=0, cv=1).fit(source, target.X)
    errors = dict(zip(auto.cv_results_["candidate"], auto.cv_results_["error"]))
    assert "always fails" in errors["broken"] and errors["coral"] == ""
    assert auto.ranking_[-1] == "broken" and "broken" not in auto.candidates_
    with pytest.raises(RuntimeError, match="every candidate failed"):
        AutoAdapter(candidates={"b1": _Broken(), "no_adaptation": _Broken()},
                    random_state=0, cv=1).fit(source, target.X)


def test_k_fold_scores_are_the_mean_over_folds(rotated_digits):
    source, target = rotated_digits
    X, y = source.X[:300], source.y[:300]
    kwargs = dict(candidates=["no_adaptation", "coral"], estimator=_lr(), scorers=["reverse"])
    auto = AutoAdapter(cv=3, random_state=0, **kwargs).fit((X, y), target.X)
    assert auto.n_splits_ == 3
    # the same folds by hand: each candidate fitted on two folds, scored on the third
    from sklearn.model_selection import StratifiedKFold

    from domainadapt.selection import ReverseValidationScorer

    seed = np.random.RandomState(0).randint(np.iinfo(np.int32).max)
    per_fold = {"no_adaptation": [], "coral": []}
    for tr, va in StratifiedKFold(3, shuffle=True, random_state=seed).split(y, y):
        X_val = np.concatenate([X[va], target.X])
        y_val = np.concatenate([y[va], np.zeros(len(target.X), dtype=y.dtype)])
        sd = np.array(["source"] * len(va) + ["target"] * len(target.X))
        for name, model in (("no_adaptation", NoAdaptation(_lr())), ("coral", CORAL(estimator=_lr()))):
            model.fit((X[np.sort(tr)], y[np.sort(tr)]), target.X)
            per_fold[name].append(ReverseValidationScorer()(model, X_val, y_val, sample_domain=sd))
    got = dict(zip(auto.cv_results_["candidate"], auto.cv_results_["score_reverse"]))
    for name, values in per_fold.items():
        assert got[name] == pytest.approx(np.mean(values))
    # a small source gets 3 folds with cv="auto"; the default is one hold-out
    assert AutoAdapter(cv="auto", random_state=0, **kwargs).fit((X, y), target.X).n_splits_ == 3
    assert AutoAdapter(random_state=0, **kwargs).fit((X, y), target.X).n_splits_ == 1


def test_not_applicable_candidate_is_left_out():
    rng = np.random.default_rng(0)
    # 60 source rows for 80 features: SA's subspace is estimated from fewer rows than
    # features, SA warns NotApplicableWarning and the automatic choice leaves it out
    X_s = rng.normal(size=(60, 80))
    y_s = (X_s[:, 0] > 0).astype(int)
    X_t = rng.normal(size=(100, 80)) + 0.3
    with pytest.warns(NotApplicableWarning, match="fewer rows than features"):
        SubspaceAlignment(estimator=_lr()).fit((X_s, y_s), X_t)
    auto = AutoAdapter(candidates=["no_adaptation", "subspace_alignment", "coral"],
                       estimator=_lr(), random_state=0, cv=1).fit((X_s, y_s), X_t)
    errors = dict(zip(auto.cv_results_["candidate"], auto.cv_results_["error"]))
    assert errors["subspace_alignment"].startswith("not applicable: SubspaceAlignment")
    assert "subspace_alignment" not in auto.candidates_
    assert auto.best_name_ in ("no_adaptation", "coral")


_REACHED = []


class _WarnsThenSolves(CORAL):
    """Warns that it cannot apply, then would do its (expensive) work."""

    def _fit_transform_params(self, source, target):
        import warnings

        warnings.warn("WarnsThenSolves cannot apply here", NotApplicableWarning, stacklevel=2)
        _REACHED.append("the work after the warning")
        super()._fit_transform_params(source, target)


def test_not_applicable_candidate_stops_at_its_warning(small_digits):
    # a candidate that warns is dropped, so its fit is stopped at the warning
    source, target = small_digits
    _REACHED.clear()
    auto = AutoAdapter(candidates={"no_adaptation": "no_adaptation",
                                   "warns": _WarnsThenSolves()},
                       estimator=_lr(), random_state=0, cv=1).fit(source, target.X)
    errors = dict(zip(auto.cv_results_["candidate"], auto.cv_results_["error"]))
    assert errors["warns"] == "not applicable: WarnsThenSolves cannot apply here"
    assert _REACHED == []
    assert auto.best_name_ == "no_adaptation"
    # outside AutoAdapter the same strategy warns and still fits
    with pytest.warns(NotApplicableWarning):
        _WarnsThenSolves(estimator=_lr()).fit(source, target.X)
    assert _REACHED == ["the work after the warning"]


def test_in_a_pipeline_and_parallel(small_digits):
    source, target = small_digits
    X, y, sd = stack_domains(*check_source_target(source, target.X))
    kwargs = dict(candidates=["no_adaptation", "coral", "kliep"], estimator=_lr(),
                  random_state=0, cv=1)
    pipe = make_da_pipeline(StandardScaler(), AutoAdapter(**kwargs)).fit(X, y, sample_domain=sd)
    scaler = StandardScaler().fit(source.X)
    direct = AutoAdapter(**kwargs).fit((scaler.transform(source.X), source.y),
                                       scaler.transform(target.X))
    np.testing.assert_array_equal(pipe.predict(target.X), direct.predict(scaler.transform(target.X)))
    import joblib

    with joblib.parallel_config(backend="threading"):  # the n_jobs path, without new processes
        parallel = AutoAdapter(**kwargs, n_jobs=2).fit(source, target.X)
    serial = AutoAdapter(**kwargs).fit(source, target.X)
    np.testing.assert_allclose(parallel.cv_results_["mean_rank"], serial.cv_results_["mean_rank"])
    assert parallel.best_name_ == serial.best_name_


@pytest.mark.parametrize(
    "params, match",
    [
        ({"validation_size": 1.5}, "validation_size"),
        ({"cv": 0}, "cv"),
        ({"cv": "many"}, "cv"),
        ({"committee_size": 0}, "committee_size"),
        ({"scorers": ["no_such_scorer"]}, "unknown names \\['no_such_scorer'\\]"),
        ({"candidates": ["no_such_strategy"]}, "no strategy named 'no_such_strategy'"),
        ({"candidates": [LogisticRegression()]}, "not a domainadapt strategy"),
        ({"candidates": []}, "candidates is empty"),
    ],
)
def test_bad_parameters_name_the_parameter(params, match, shifted_blobs):
    X_s, y_s, X_t, _ = shifted_blobs
    with pytest.raises((ValueError, TypeError), match=match):
        AutoAdapter(**params).fit((X_s, y_s), X_t)


def _vote_reference(predictions):
    """Row by row: the most frequent label; a tie goes to the earliest member voting a tied one."""
    out = []
    for column in zip(*predictions):
        counts = {label: column.count(label) for label in column}
        top = max(counts.values())
        out.append(next(label for label in column if counts[label] == top))
    return np.array(out)


def test_majority_vote_by_hand_and_against_a_reference():
    votes = [np.array([0, 1, 2, 5]), np.array([1, 1, 0, 5]), np.array([2, 0, 0, 3])]
    # all differ -> the first member; 2 of 3 -> the majority, even against the first
    np.testing.assert_array_equal(majority_vote(votes), [0, 1, 0, 5])
    np.testing.assert_array_equal(majority_vote(votes[:2]), votes[0])  # 1-1 ties: the first
    np.testing.assert_array_equal(majority_vote([np.array(["b", "a"])]), ["b", "a"])
    strings = [np.array(["cat", "dog"]), np.array(["dog", "dog"]), np.array(["dog", "cat"])]
    np.testing.assert_array_equal(majority_vote(strings), ["dog", "dog"])
    rng = np.random.default_rng(0)
    for n_members in (2, 3, 4, 5):
        preds = [rng.integers(0, 4, size=200) for _ in range(n_members)]
        np.testing.assert_array_equal(majority_vote(preds),
                                      _vote_reference([p.tolist() for p in preds]))


def test_committee_size_one_keeps_the_best_alone(small_digits):
    source, target = small_digits
    kwargs = dict(candidates=["no_adaptation", "coral", "subspace_alignment"],
                  estimator=_lr(), random_state=0)
    one = AutoAdapter(committee_size=1, **kwargs).fit(source, target.X)
    assert one.committee_ == [one.best_name_] == one.ranking_[:1]
    alone = clone(one.candidates_[one.best_name_]).fit(source, target.X)
    np.testing.assert_array_equal(one.predict(target.X), alone.predict(target.X))
    np.testing.assert_allclose(one.predict_proba(target.X), alone.predict_proba(target.X))
    # more members asked for than candidates fitted: all of them vote
    many = AutoAdapter(committee_size=10, **kwargs).fit(source, target.X)
    assert many.committee_ == many.ranking_
    # refit=False: the members are the candidates as fitted on the training part
    kept = AutoAdapter(refit=False, **kwargs).fit(source, target.X)
    assert all(m is kept.candidates_[n]
               for n, m in zip(kept.committee_, kept.committee_adapters_))


def test_progress_bar_covers_the_refits(small_digits, capsys):
    source, target = small_digits
    AutoAdapter(candidates=["no_adaptation", "coral", "subspace_alignment"], estimator=_lr(),
                random_state=0, progress=True).fit(source, target.X)
    err = capsys.readouterr().err
    assert "AutoAdapter: 100%" in err and "3/3" in err
    assert "AutoAdapter refit: 100%" in err


def test_committee_probabilities_are_the_members_mean(small_digits):
    source, target = small_digits
    auto = AutoAdapter(candidates=["no_adaptation", "coral", "subspace_alignment"],
                       estimator=_lr(), random_state=0).fit(source, target.X)
    proba = auto.predict_proba(target.X)
    members = [m.predict_proba(target.X) for m in auto.committee_adapters_]
    np.testing.assert_allclose(proba, np.mean(members, axis=0), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert "majority vote of " + ", ".join(auto.committee_) in auto.report()


def test_too_few_source_rows_says_so():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="too few to hold out"):
        AutoAdapter(candidates=["coral"]).fit((rng.normal(size=(3, 2)), [0, 1, 0]),
                                              Domain(rng.normal(size=(5, 2))))


@pytest.mark.parametrize("seed", [1, 2])
def test_default_does_no_harm_without_a_shift(seed):
    """Two random halves of scikit-learn's digits: nothing to adapt to.

    Whatever the default portfolio, scorers and guard keep, it must stay within a
    point of no adaptation (measured: 0.0 and -0.4 with the committee of three;
    -0.4 and -0.3 with subspace alignment alone, committee_size=1).
    """
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    idx = np.random.RandomState(seed).permutation(len(X))
    half = len(X) // 2
    source = Domain(X[idx[:half]] / 16, y[idx[:half]])
    target = Domain(X[idx[half:]] / 16, y[idx[half:]])
    baseline = NoAdaptation(_lr()).fit(source, target.X).score(target.X, target.y)
    auto = AutoAdapter(estimator=_lr(), random_state=seed).fit(source, target.X)
    assert auto.score(target.X, target.y) >= baseline - 0.01
