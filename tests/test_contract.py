"""The contract every registered strategy must honour.

A strategy joins this suite through the ``domainadapt.registry.register`` decorator.
"""

from __future__ import annotations

import inspect
import pickle
import re

import numpy as np
import pytest
import sklearn
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    generate_invalid_param_val,
    make_constraint,
)

from domainadapt import Domain, make_da_pipeline
from domainadapt.base import BaseAdapter
from domainadapt.registry import get_adapters
from domainadapt.validation import check_source_target, stack_domains

ENTRIES = get_adapters(contract=True)
IDS = [e.name for e in ENTRIES]


def make(entry, random_state=0):
    return entry.make_for_tests(LogisticRegression(max_iter=500), random_state)


def stacked(X_s, y_s, X_t, y_t):
    X, y, sd = stack_domains(*check_source_target((X_s, y_s), X_t))
    y = y.copy()
    y[sd == "target"] = y_t  # true target labels, for scoring only
    return X, y, sd


def test_registry_covers_the_families():
    families = {e.family for e in ENTRIES}
    assert {"instance", "feature", "model"} <= families


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_is_base_adapter_with_clean_init(entry):
    adapter = make(entry)
    assert isinstance(adapter, BaseAdapter)
    params = adapter.get_params(deep=False)
    cloned = clone(adapter)
    assert cloned.get_params(deep=False).keys() == params.keys()
    assert not [k for k in vars(adapter) if k.endswith("_") and not k.startswith("__")], (
        "__init__ must only store parameters"
    )
    # set_params round trip
    key = next(iter(params))
    adapter.set_params(**{key: params[key]})


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_fit_forms_agree(entry, shifted_blobs):
    X_s, y_s, X_t, y_t = shifted_blobs
    by_tuple = make(entry).fit((X_s, y_s), X_t)
    by_domain = make(entry).fit(Domain(X_s, y_s, name="s"), Domain(X_t))
    X, y, sd = stacked(X_s, y_s, X_t, y_t)
    by_stack = make(entry).fit(X, y, sample_domain=sd)
    ref = by_tuple.predict(X_t)
    np.testing.assert_array_equal(by_domain.predict(X_t), ref)
    np.testing.assert_array_equal(by_stack.predict(X_t), ref)
    assert 0.0 <= by_tuple.score(X_t, y_t) <= 1.0
    fitted = [k for k in vars(by_tuple) if k.endswith("_")]
    assert "n_features_in_" in fitted


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_input_containers(entry, shifted_blobs):
    torch = pytest.importorskip("torch")
    pd = pytest.importorskip("pandas")
    X_s, y_s, X_t, _ = shifted_blobs
    ref = make(entry).fit((X_s, y_s), X_t).predict(X_t)
    as_torch = make(entry).fit((torch.tensor(X_s), torch.tensor(y_s)), torch.tensor(X_t))
    np.testing.assert_array_equal(as_torch.predict(X_t), ref)
    as_pandas = make(entry).fit((pd.DataFrame(X_s), pd.Series(y_s)), pd.DataFrame(X_t))
    np.testing.assert_array_equal(as_pandas.predict(pd.DataFrame(X_t)), ref)
    as_lists = make(entry).fit((X_s.tolist(), y_s.tolist()), X_t.tolist())
    np.testing.assert_array_equal(as_lists.predict(X_t), ref)


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_semi_supervised_target(entry, shifted_blobs):
    X_s, y_s, X_t, y_t = shifted_blobs
    y_partial = np.full_like(y_t, -1)
    y_partial[:10] = y_t[:10]
    adapter = make(entry).fit((X_s, y_s), (X_t, y_partial))
    # the same through the stacked form with 'target_labelled'
    X, y, sd = stack_domains(*check_source_target((X_s, y_s), (X_t, y_partial)))
    assert (sd == "target_labelled").sum() == 10
    other = make(entry).fit(X, y, sample_domain=sd)
    np.testing.assert_array_equal(other.predict(X_t), adapter.predict(X_t))


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_does_not_mutate_inputs(entry, shifted_blobs):
    X_s, y_s, X_t, _ = shifted_blobs
    copies = [a.copy() for a in (X_s, y_s, X_t)]
    make(entry).fit((X_s, y_s), X_t)
    for a, b in zip((X_s, y_s, X_t), copies):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_pickle_round_trip(entry, shifted_blobs):
    X_s, y_s, X_t, _ = shifted_blobs
    adapter = make(entry).fit((X_s, y_s), X_t)
    restored = pickle.loads(pickle.dumps(adapter))
    np.testing.assert_array_equal(restored.predict(X_t), adapter.predict(X_t))
    np.testing.assert_allclose(restored.predict_proba(X_t), adapter.predict_proba(X_t))


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_score_weighs_rows_like_sklearn(entry, shifted_blobs):
    X_s, y_s, X_t, y_t = shifted_blobs
    adapter = make(entry).fit((X_s, y_s), X_t)
    weights = np.random.default_rng(0).uniform(0.1, 3.0, len(X_t))
    expected = accuracy_score(y_t, adapter.predict(X_t), sample_weight=weights)
    assert adapter.score(X_t, y_t, sample_weight=weights) == pytest.approx(expected)
    # stacked: the source rows and their weights are left out of the score
    X, y, sd = stacked(X_s, y_s, X_t, y_t)
    stacked_weights = np.ones(len(X))
    stacked_weights[sd == "target"] = weights
    scored = adapter.score(X, y, sample_weight=stacked_weights, sample_domain=sd)
    assert scored == pytest.approx(expected)


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_deterministic_under_random_state(entry, shifted_blobs):
    X_s, y_s, X_t, _ = shifted_blobs
    a = make(entry, random_state=3).fit((X_s, y_s), X_t).predict_proba(X_t)
    b = make(entry, random_state=3).fit((X_s, y_s), X_t).predict_proba(X_t)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("routing", [False, True], ids=["plain", "metadata-routing"])
@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_pipeline_gridsearch_cross_val(entry, routing, shifted_blobs):
    X, y, sd = stacked(*shifted_blobs)
    pipe = make_da_pipeline(StandardScaler(), make(entry))
    step = pipe.steps[-1][0]
    folds = StratifiedKFold(3, shuffle=True, random_state=0)
    with sklearn.config_context(enable_metadata_routing=routing):
        search = GridSearchCV(pipe, {f"{step}__estimator__C": [0.1, 1.0]}, cv=folds)
        search.fit(X, y, sample_domain=sd)
        assert np.isfinite(search.cv_results_["mean_test_score"]).all()
        assert search.best_estimator_.predict(X).shape == (len(X),)
        scores = cross_val_score(pipe, X, y, params={"sample_domain": sd}, cv=folds)
        assert np.isfinite(scores).all() and (scores > 0.3).all()
    assert sklearn.get_config()["enable_metadata_routing"] is False or routing


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_bad_inputs_name_the_argument(entry, shifted_blobs):
    X_s, y_s, X_t, _ = shifted_blobs
    adapter = make(entry)
    cases = [
        (((X_s, y_s), X_t[:, :3]), ValueError, "different feature shapes"),
        (((np.where(X_s > 2, np.nan, X_s), y_s), X_t), ValueError, "source X contains NaN"),
        (((X_s, y_s), np.where(X_t > 2, np.inf, X_t)), ValueError, "target X contains NaN or inf"),
        (((X_s[:0], y_s[:0]), X_t), ValueError, "source X is empty"),
        (((X_s, y_s), X_t[:0]), ValueError, "target X is empty"),
        (((X_s, y_s[:-1]), X_t), ValueError, "source y has 149 labels"),
        ((X_s, X_t), ValueError, "source must be labelled"),
        ((Domain(X_s), X_t), ValueError, "source must be labelled"),
        (((X_s, np.zeros_like(y_s)), X_t), ValueError, "single class"),
        (((np.full(X_s.shape, "a"), y_s), X_t), TypeError, "source X must be numeric"),
        (((X_s[:, 0], y_s), X_t), ValueError, "source X must be 2-D"),
        (((X_s, y_s), None), ValueError, "target is missing"),
    ]
    for args, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            clone(adapter).fit(*args)
    X, y, sd = stacked(*shifted_blobs)
    with pytest.raises(ValueError, match="sample_domain has unknown values"):
        clone(adapter).fit(X, y, sample_domain=np.where(sd == "source", "src", sd))
    with pytest.raises(ValueError, match="sample_domain has 10 entries"):
        clone(adapter).fit(X, y, sample_domain=sd[:10])
    with pytest.raises(ValueError, match="no row as 'source'"):
        clone(adapter).fit(X, y, sample_domain=np.full(len(X), "target"))
    fitted = clone(adapter).fit((X_s, y_s), X_t)
    with pytest.raises(ValueError, match="fitted with 4"):
        fitted.predict(X_t[:, :3])


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_unfitted_raises(entry, shifted_blobs):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        make(entry).predict(shifted_blobs[2])


# ----------------------------------------------------------- declared hyper-parameters
CLASSES = list({type(e.make()): None for e in get_adapters()})


@pytest.mark.parametrize("cls", CLASSES, ids=[c.__name__ for c in CLASSES])
def test_every_parameter_has_a_declared_constraint(cls):
    """Every registered class declares a constraint for each ``__init__`` parameter
    (deep strategies take their base's parameters through ``**kwargs``: those are the
    ones ``get_params`` lists)."""
    signature = inspect.signature(cls.__init__).parameters
    named = {n for n, p in signature.items() if p.kind != p.VAR_KEYWORD} - {"self"}
    if any(p.kind == p.VAR_KEYWORD for p in signature.values()):
        expected = set(cls._get_param_names())
        assert named <= expected
    else:
        expected = named
    assert expected == set(cls._parameter_constraints)


class _Untouchable:
    """Data that fails the test if ``fit`` reads it before checking the parameters."""

    def __getattr__(self, name):
        raise AssertionError(f"fit touched the data ({name}) before checking its parameters")

    def __len__(self):
        raise AssertionError("fit touched the data (len) before checking its parameters")

    def __iter__(self):
        raise AssertionError("fit touched the data (iter) before checking its parameters")


def _clearly_bad(constraints):
    """A number no constraint of the list accepts: out of the first interval, else NaN."""
    checks = [make_constraint(c) for c in constraints]
    intervals = [c for c in checks if isinstance(c, Interval)]
    candidates = [generate_invalid_param_val(intervals[0]), float("nan")]
    return next(v for v in candidates if not any(c.is_satisfied_by(v) for c in checks))


NUMERIC = [
    (entry, name)
    for entry in get_adapters()
    for name, constraints in sorted(type(entry.make())._parameter_constraints.items())
    if any(isinstance(make_constraint(c), Interval) for c in constraints)
]


@pytest.mark.parametrize(
    ("entry", "name"), NUMERIC, ids=[f"{e.name}-{n}" for e, n in NUMERIC]
)
def test_bad_numeric_parameter_raises_at_fit_before_the_data(entry, name):
    adapter = entry.make_for_tests(LogisticRegression(max_iter=500), 0)
    bad = _clearly_bad(type(adapter)._parameter_constraints[name])
    adapter.set_params(**{name: bad})
    message = rf"'{name}' parameter of {type(adapter).__name__} must be .* Got {re.escape(repr(bad))} "
    with pytest.raises(InvalidParameterError, match=message):
        adapter.fit(_Untouchable(), _Untouchable())
