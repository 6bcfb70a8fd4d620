"""Fuzz every registered strategy with generated inputs (issue "A newcomer's toolkit").

The property, for each strategy and each generated ``(source, target)``:

* either ``fit`` succeeds and ``predict`` on the target rows returns one label per
  row, every one of them a source class (no NaN, nothing invented);
* or ``fit`` raises a ``ValueError``/``TypeError`` whose message names the argument
  at fault (``source``, ``target``, ``X``, ``y``, ``sample_domain`` or one of the
  strategy's parameters).

Anything else fails: another exception type, a message that names nothing, NaN or
foreign predictions, and a *silent success* on input that must be refused (NaN or
infinity in X, NaN labels in the source, a single source class, 1-D X, source and
target with different numbers of features).

The inputs vary the shape (1 to 20 features; tiny domains of 1 to 5 rows and
normal ones of 40), the dtype (float32/64, int, bool), the container (NumPy, nested
lists, pandas, SciPy sparse, torch), the labels (int, negative int, float, str) and
the unlabelled markers in a partly labelled target (``-1``, ``None``, ``NaN`` among
string labels), and add one defect at a time. Each data set is drawn from a seed,
so a failing case is printed as a short list of choices.

Run time is bounded: ``derandomize=True`` (the same cases on every run, so CI is
reproducible), ``deadline=None`` and a number of examples per strategy chosen so
the file runs in well under 90 s on 2 cores.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression

from domainadapt import Domain
from domainadapt.registry import AdapterEntry, get_adapter, get_adapters

pd = pytest.importorskip("pandas")
torch = pytest.importorskip("torch")

ENTRIES = get_adapters()
IDS = [e.name for e in ENTRIES]

#: Examples per strategy; slower strategies get fewer so the file stays bounded.
EXAMPLES = 40
EXAMPLES_FOR = {"auto": 12}

#: Defects that every strategy must refuse (fit must raise, never succeed).
MUST_RAISE = {
    "nan_source_X",
    "inf_source_X",
    "nan_target_X",
    "inf_target_X",
    "nan_source_y",
    "one_class",
    "source_X_1d",
    "target_X_1d",
    "mismatched_features",
}
#: Defects whose input is valid or may be valid (3-D X is an image for deep strategies).
MAY_PASS = {
    "none",
    "constant_column",
    "all_columns_constant",
    "identical_target_rows",
    "huge_values",
    "duplicated_rows",
    "markers_in_target_y",
    "X_3d",
}

ARGUMENT_NAMES = ("source", "target", "X", "y", "sample_domain", "sample_weight")


@dataclass
class Case:
    """One generated call: the choices (printed by hypothesis) and the data they give."""

    seed: int
    n_features: int
    n_source: int
    n_target: int
    dtype: str
    source_container: str
    target_container: str
    labels: str
    n_classes: int
    target_form: str
    defect: str
    y_container: str

    def __repr__(self) -> str:  # hypothesis prints the falsifying case with this
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"Case({fields})"


@st.composite
def cases(draw: Any) -> Case:
    defect = draw(
        st.sampled_from(sorted(MUST_RAISE | MAY_PASS - {"none"}))
        | st.just("none")
        | st.just("none")
    )
    labels = draw(st.sampled_from(["int", "neg_int", "float", "float_int", "str"]))
    if defect == "markers_in_target_y":
        labels = "str"
    return Case(
        seed=draw(st.integers(0, 2**16)),
        n_features=draw(st.sampled_from([1, 2, 3, 5, 20])),
        n_source=draw(st.sampled_from([1, 2, 3, 5, 40, 40])),
        n_target=draw(st.sampled_from([1, 2, 5, 40, 40])),
        dtype=draw(st.sampled_from(["float64", "float32", "int64", "int32", "bool"])),
        source_container=draw(
            st.sampled_from(
                ["numpy", "numpy", "list", "pandas", "pandas_named", "csr", "coo", "torch"]
            )
        ),
        target_container=draw(
            st.sampled_from(["numpy", "numpy", "list", "pandas", "csr", "torch"])
        ),
        labels=labels,
        n_classes=draw(st.sampled_from([2, 2, 3])),
        target_form=draw(st.sampled_from(["X", "X", "Domain", "partly_labelled", "stacked"])),
        defect=defect,
        y_container=draw(st.sampled_from(["numpy", "list", "pandas", "torch"])),
    )


CLASS_VALUES = {
    "int": [0, 1, 2],
    "neg_int": [-5, -2, -9],
    "float": [0.5, 1.5, 2.5],
    "float_int": [0.0, 1.0, 2.0],
    "str": ["cat", "dog", "eel"],
}
#: Unlabelled markers of a partly labelled target, by label kind.
MARKERS = {
    "int": [-1],
    "neg_int": [-1],
    "float": [np.nan],
    "float_int": [np.nan],
    "str": [-1, None, np.nan],
}


def _features(rng: np.random.Generator, n: int, d: int, dtype: str, shift: float) -> np.ndarray:
    X = rng.normal(size=(n, d)) + shift
    if dtype == "bool":
        return X > shift
    if dtype.startswith("int"):
        return np.round(3 * X).astype(dtype)
    return X.astype(dtype)


def _contain(X: np.ndarray, container: str) -> Any:
    if container == "list":
        return X.tolist()
    if container == "pandas":
        return pd.DataFrame(X) if X.ndim == 2 else pd.Series(X) if X.ndim == 1 else X
    if container == "pandas_named":
        if X.ndim != 2:
            return X
        return pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    if container in ("csr", "coo"):
        return (sp.csr_matrix if container == "csr" else sp.coo_matrix)(X) if X.ndim == 2 else X
    if container == "torch":
        return torch.from_numpy(np.ascontiguousarray(X))
    return X


def _inject_nonfinite(X: np.ndarray, rng: np.random.Generator, value: float) -> np.ndarray:
    X = X.astype(np.float64)
    X[rng.integers(len(X)), rng.integers(X.shape[1])] = value
    return X


def build(case: Case) -> tuple[tuple[Any, ...], dict[str, Any], Any, np.ndarray]:
    """The ``fit`` arguments, the ``predict`` rows and the source classes of a case."""
    rng = np.random.default_rng(case.seed)
    classes = CLASS_VALUES[case.labels][: case.n_classes]
    d, defect = case.n_features, case.defect
    y_idx = np.arange(case.n_source) % case.n_classes  # every class once when rows allow
    rng.shuffle(y_idx)
    if defect == "one_class":
        y_idx[:] = 0
    y_s = np.array([classes[i] for i in y_idx], dtype=object)
    X_s = _features(rng, case.n_source, d, case.dtype, 0.0)
    X_t = _features(rng, case.n_target, d, case.dtype, 0.7)
    if X_s.dtype.kind in "fi":  # separate the classes a little
        X_s = (X_s + 2 * y_idx[:, None]).astype(X_s.dtype)
    if defect == "nan_source_X":
        X_s = _inject_nonfinite(X_s, rng, np.nan)
    elif defect == "inf_source_X":
        X_s = _inject_nonfinite(X_s, rng, -np.inf)
    elif defect == "nan_target_X":
        X_t = _inject_nonfinite(X_t, rng, np.nan)
    elif defect == "inf_target_X":
        X_t = _inject_nonfinite(X_t, rng, np.inf)
    elif defect == "constant_column":
        X_s[:, 0] = X_s[0, 0]
        X_t[:, 0] = X_s[0, 0]
    elif defect == "all_columns_constant":
        X_s[:] = X_s[0]
        X_t[:] = X_s[0]
    elif defect == "identical_target_rows":
        X_t[:] = X_t[0]
    elif defect == "huge_values" and X_s.dtype.kind == "f":
        X_s, X_t = X_s * 1e12, X_t * 1e12
    elif defect == "duplicated_rows":
        X_s = np.concatenate([X_s, X_s])
        y_s = np.concatenate([y_s, y_s])
        X_t = np.concatenate([X_t, X_t[:1], X_t[:1]])
    elif defect == "source_X_1d":
        X_s = X_s[:, 0]
    elif defect == "target_X_1d":
        X_t = X_t[:, 0]
    elif defect == "X_3d":
        X_s, X_t = X_s[:, :, None], X_t[:, :, None]
    elif defect == "mismatched_features":
        X_t = np.concatenate([X_t, X_t[:, :1]], axis=1)
    if defect == "nan_source_y":
        y_s[rng.integers(len(y_s))] = None if case.labels == "str" else np.nan

    y_src = _labels(y_s, case.labels, case.y_container)
    n_t = len(X_t)
    y_t = None
    if case.target_form == "partly_labelled" or defect == "markers_in_target_y":
        y_t = np.array([classes[i] for i in rng.integers(0, case.n_classes, n_t)], dtype=object)
        unlabelled = rng.random(n_t) < 0.5
        markers = MARKERS[case.labels]
        for i in np.flatnonzero(unlabelled):
            y_t[i] = markers[rng.integers(len(markers))]
        y_t = _labels(y_t, case.labels, case.y_container)

    if case.target_form == "stacked" and y_t is None and X_s.shape[1:] == X_t.shape[1:]:
        X = np.concatenate([X_s, X_t])
        y = np.concatenate([y_s, np.full(n_t, y_s[0], dtype=object)])
        sd = np.array(["source"] * len(X_s) + ["target"] * n_t)
        return (
            (_contain(X, case.source_container), _labels(y, case.labels, case.y_container)),
            {"sample_domain": sd},
            _contain(X_t, case.target_container),
            np.array(classes, dtype=object),
        )
    source = (_contain(X_s, case.source_container), y_src)
    target_X = _contain(X_t, case.target_container)
    if y_t is not None:
        target: Any = (target_X, y_t)
    elif case.target_form == "Domain":
        target = Domain(target_X)
    else:
        target = target_X
    return (
        (source, target),
        {},
        _contain(X_t, case.target_container),
        np.array(classes, dtype=object),
    )


def _labels(y: np.ndarray, kind: str, container: str = "numpy") -> Any:
    """The labels as their kind and ``container`` give them (str labels in a list or Series)."""
    if kind == "str":
        return pd.Series(list(y)) if container == "pandas" else list(y)
    missing = [v is None or (isinstance(v, float) and np.isnan(v)) for v in y]
    if kind.startswith("float") or any(missing):
        arr = np.array([np.nan if m else v for v, m in zip(y, missing)], dtype=np.float64)
    else:
        arr = np.array(y, dtype=np.int64)
    if container == "list":
        return arr.tolist()
    if container == "pandas":
        return pd.Series(arr)
    if container == "torch":
        return torch.from_numpy(arr)
    return arr


def _names_the_argument(message: str, adapter: Any) -> bool:
    message = message.replace("regression target", "")  # scikit-learn's, not our target
    names = ARGUMENT_NAMES + tuple(adapter.get_params(deep=False))
    return any(re.search(rf"(?<![A-Za-z_]){re.escape(n)}(?![A-Za-z_])", message) for n in names)


def _in_classes(pred: np.ndarray, classes: np.ndarray) -> np.ndarray:
    if pred.dtype.kind in "fc" and np.isnan(pred).any():
        return ~np.isnan(pred) & np.isin(pred, classes.astype(np.float64))
    return np.array([any(p == c and type(p) is not bool for c in classes) for p in pred.tolist()])


def check_case(entry: AdapterEntry, case: Case) -> None:
    """Assert the property for one strategy and one case (a helper for regression tests)."""
    adapter = entry.make_for_tests(LogisticRegression(max_iter=200), 0)
    args, kwargs, X_predict, classes = build(case)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            adapter.fit(*args, **kwargs)
        except (ValueError, TypeError) as exc:
            assert _names_the_argument(str(exc), adapter), (
                f"{entry.name} raised {type(exc).__name__} naming no argument: {exc}"
            )
            return
        assert case.defect not in MUST_RAISE, (
            f"{entry.name} fitted silently on input with defect {case.defect!r}"
        )
        pred = np.asarray(adapter.predict(X_predict))
    n_t = X_predict.shape[0] if hasattr(X_predict, "shape") else len(X_predict)
    assert pred.shape == (n_t,), f"{entry.name} predicted shape {pred.shape} for {n_t} rows"
    bad = ~_in_classes(pred, classes)
    assert not bad.any(), (
        f"{entry.name} predicted {pred[bad][:5]!r}, not among the source classes {classes!r}"
    )


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_generated_inputs_fit_or_name_the_argument(entry: AdapterEntry) -> None:
    @settings(
        max_examples=EXAMPLES_FOR.get(entry.name, EXAMPLES),
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases())
    def run(case: Case) -> None:
        check_case(entry, case)

    run()


# --------------------------------------------------------------- found by the fuzzer
# Each failure the fuzzer found, pinned as an explicit case so that it stays fixed
# even if the generated cases change.


def _blobs(n_source: int = 40, n_target: int = 40, d: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = np.arange(n_source) % 2
    X_s = rng.normal(size=(n_source, d)) + 2 * y[:, None]
    X_t = rng.normal(size=(n_target, d)) + 0.5
    return X_s, y, X_t


@pytest.mark.parametrize("name", ["no_adaptation", "kmm", "coral", "tca", "auto"])
def test_non_integer_float_labels_with_a_classifier_name_source_y(name: str) -> None:
    # was scikit-learn's "Unknown label type: continuous" (auto: RuntimeError)
    X_s, y, X_t = _blobs()
    adapter = get_adapter(name).make_for_tests(LogisticRegression(), 0)
    with pytest.raises(ValueError, match=r"source y holds non-integer float labels \(e.g. 0.5\)"):
        adapter.fit((X_s, y + 0.5), X_t)


def test_non_integer_float_target_labels_with_a_classifier_name_target_y() -> None:
    from domainadapt.instance import KMM

    X_s, y, X_t = _blobs()
    y_t = np.full(len(X_t), np.nan)
    y_t[:4] = [0.0, 1.0, 0.25, 1.0]
    with pytest.raises(ValueError, match=r"target y holds non-integer float labels \(e.g. 0.25\)"):
        KMM(estimator=LogisticRegression()).fit((X_s, y.astype(float)), (X_t, y_t))


def test_non_integer_float_labels_with_a_regressor_still_fit() -> None:
    from sklearn.linear_model import Ridge

    from domainadapt.instance import KMM

    X_s, y, X_t = _blobs()
    model = KMM(estimator=Ridge()).fit((X_s, y + 0.5), X_t)
    assert np.isfinite(model.predict(X_t)).all()


def test_nn_weighting_dense_source_sparse_target() -> None:
    # was scikit-learn's "kd_tree does not work with sparse matrices"
    from domainadapt.instance import NearestNeighborWeighting

    X_s, y, X_t = _blobs()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mixed = NearestNeighborWeighting(estimator=LogisticRegression()).fit(
            (X_s, y), sp.csr_matrix(X_t)
        )
    dense = NearestNeighborWeighting(estimator=LogisticRegression()).fit((X_s, y), X_t)
    np.testing.assert_allclose(mixed.counts_, dense.counts_)


def test_dcoral_one_target_row_names_the_target() -> None:
    # was "CORAL needs at least 2 rows per domain; got 40 and 1."
    X_s, y, X_t = _blobs(n_target=1)
    adapter = get_adapter("dcoral").make_for_tests(None, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="got 40 source and 1 target rows"):
            adapter.fit((X_s, y), X_t)


def test_finetuning_single_labelled_target_class_names_target_y() -> None:
    # was LogisticRegression's "This solver needs samples of at least 2 classes"
    X_s, y, X_t = _blobs()
    y_t = np.full(len(X_t), -1)
    y_t[:5] = 1
    adapter = get_adapter("finetuning").make_for_tests(LogisticRegression(), 0)
    with pytest.raises(
        ValueError,
        match=r"target y: the labelled target rows hold a single "
        r"class \(1\)",
    ):
        adapter.fit((X_s, y), (X_t, y_t))
    adapter.set_params(estimator=None).fit((X_s, y), (X_t, y_t))  # the network alone is fine


@pytest.mark.parametrize("name", ["tca", "jda"])
def test_tca_jda_huge_features_name_x_and_mu(name: str) -> None:
    # was scipy's LinAlgError "The leading minor of order 2 of B is not positive definite"
    X_s, y, X_t = _blobs(n_source=5)
    adapter = get_adapter(name).make_for_tests(LogisticRegression(), 0)
    with pytest.raises(ValueError, match=r"source X and target X .* mu=.* Standardise X"):
        adapter.fit((X_s * 1e12, y), X_t * 1e12)
