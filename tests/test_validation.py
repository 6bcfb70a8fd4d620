"""The shared validation module: errors name the argument and the problem."""

import numpy as np
import pytest

from domainadapt import Domain
from domainadapt.validation import (
    check_domain,
    check_features,
    check_source_target,
    split_sample_domain,
    stack_domains,
)


def test_domain_basics():
    dom = Domain(np.zeros((5, 2)), y=[0, 1, -1, 1, -1], name="t")
    assert dom.n_samples == 5
    np.testing.assert_array_equal(dom.label_mask(), [True, True, False, True, False])
    assert "2 labelled" not in repr(dom) and "3 labelled" in repr(dom)
    assert not Domain(np.zeros((3, 2))).is_labelled
    float_labels = Domain(np.zeros((3, 1)), y=[0.5, np.nan, 1.0])
    np.testing.assert_array_equal(float_labels.label_mask(), [True, False, True])


@pytest.mark.parametrize(
    ("X", "exc", "message"),
    [
        (None, ValueError, "X is None"),
        (np.zeros(5), ValueError, "must be 2-D"),
        (np.zeros((0, 3)), ValueError, "is empty"),
        (np.zeros((3, 0)), ValueError, "0 features"),
        (np.array([[1.0, np.nan]]), ValueError, "NaN or infinity in 1 of 1 rows"),
        (np.array([["a", "b"]]), TypeError, "must be numeric"),
        (np.zeros((2, 2), dtype=complex), TypeError, "real-valued"),
        ([[1, 2], [3]], TypeError, "could not be read"),
        (np.zeros((2, 3, 4)), ValueError, "Flatten it first"),
    ],
)
def test_check_features_errors(X, exc, message):
    with pytest.raises(exc, match=message):
        check_features(X, "target X")


def test_check_features_keeps_float32_and_converts_the_rest():
    assert check_features(np.zeros((2, 2), np.float32)).dtype == np.float32
    assert check_features(np.zeros((2, 2), np.int64)).dtype == np.float64
    assert check_features([[True, False]]).dtype == np.float64
    assert check_features(np.zeros((2, 1, 3, 3)), allow_nd=True).shape == (2, 1, 3, 3)


def test_check_domain_labels():
    X = np.zeros((4, 2))
    with pytest.raises(ValueError, match="source y contains NaN"):
        check_domain((X, [0.0, 1.0, np.nan, 1.0]), "source", require_labels=True)
    with pytest.raises(ValueError, match="source y must be 1-D"):
        check_domain((X, np.zeros((4, 2))), "source", require_labels=True)
    with pytest.raises(ValueError, match="source sample_weight must be non-negative"):
        check_domain(Domain(X, [0, 1, 0, 1], sample_weight=[1, -1, 1, 1]), "source")
    with pytest.raises(ValueError, match="source sample_weight has 3 entries"):
        check_domain((X, [0, 1, 0, 1], [1, 1, 1]), "source")
    with pytest.raises(ValueError, match="labelled mask has 3 entries"):
        check_domain(Domain(X, [0, 1, 0, 1], labelled=[True, False, True]), "target")
    # regression targets may be continuous and are not checked for classes
    reg = check_domain((X, [0.1, 0.2, 0.3, 0.4]), "source", require_labels=True)
    assert reg.y.dtype.kind == "f"
    # an all-unlabelled target becomes an unlabelled domain
    assert check_domain((X, [-1, -1, -1, -1]), "target").y is None


def test_split_and_stack_round_trip():
    rng = np.random.default_rng(0)
    X_s, X_t = rng.normal(size=(6, 2)), rng.normal(size=(4, 2))
    y_s, y_t = np.array([0, 1, 0, 1, 0, 1]), np.array([1, -1, 0, -1])
    src, tgt = check_source_target((X_s, y_s), (X_t, y_t))
    X, y, sd = stack_domains(src, tgt)
    assert list(sd) == ["source"] * 6 + ["target_labelled", "target", "target_labelled", "target"]
    src2, tgt2 = split_sample_domain(X, y, sd)
    np.testing.assert_array_equal(src2.X, X_s)
    np.testing.assert_array_equal(tgt2.X, X_t)
    np.testing.assert_array_equal(tgt2.labelled, [True, False, True, False])
    np.testing.assert_array_equal(np.asarray(tgt2.y)[tgt2.labelled], [1, 0])


def test_split_sample_domain_errors():
    X = np.zeros((4, 2))
    with pytest.raises(ValueError, match="y is None"):
        split_sample_domain(X, None, ["source", "source", "target", "target"])
    with pytest.raises(ValueError, match="sample_domain must be 1-D"):
        split_sample_domain(X, [0, 1, 0, 1], np.zeros((4, 1)))
    with pytest.raises(ValueError, match="no row as 'target'"):
        split_sample_domain(X, [0, 1, 0, 1], ["source"] * 4)


def test_target_label_kind_must_match_source():
    X = np.zeros((4, 2))
    with pytest.raises(TypeError, match="differ in kind"):
        check_source_target((X, [0, 1, 0, 1]), Domain(X, np.array(["a", "b", "c", "d"])))


# ---------------------------------------------------------------- newcomer's silent failures
@pytest.mark.parametrize("marker", [-1, None, float("nan"), "-1", ""])
def test_string_target_labels_with_an_unlabelled_marker(marker):
    from domainadapt.validation import check_source_target

    rng = np.random.default_rng(0)
    X_s, X_t = rng.normal(size=(40, 3)), rng.normal(size=(30, 3))
    y_s = np.where(X_s[:, 0] > 0, "cat", "dog")
    y_t = np.array(list(np.where(X_t[:, 0] > 0, "cat", "dog")), dtype=object)
    y_t[5:] = marker
    _, target = check_source_target((X_s, y_s), (X_t, y_t))
    assert target.labelled.sum() == 5  # the marker is not a class
    assert set(target.y[target.labelled]) <= {"cat", "dog"}


def test_string_source_labels_must_not_be_missing_and_minus_one_is_a_class():
    from domainadapt.validation import check_source_target

    rng = np.random.default_rng(0)
    X_s, X_t = rng.normal(size=(40, 3)), rng.normal(size=(30, 3))
    y_s = np.array(["cat", "dog"] * 20, dtype=object)
    y_s[3] = None
    with pytest.raises(ValueError, match="source y has 1 missing labels"):
        check_source_target((X_s, y_s), X_t)
    y_pm = np.array(["-1", "1"] * 20)  # "-1" is a real class of the source
    source, _ = check_source_target((X_s, y_pm), X_t)
    assert set(source.y) == {"-1", "1"}
    with pytest.raises(ValueError, match="source y contains the class -1"):
        check_source_target((X_s, y_pm), (X_t, np.array(["-1"] * 30)))


def test_numeric_labels_with_none_mark_unlabelled_rows():
    from domainadapt.validation import check_source_target

    rng = np.random.default_rng(0)
    X_s, X_t = rng.normal(size=(40, 3)), rng.normal(size=(30, 3))
    y_t = np.array([0, 1] * 15, dtype=object)
    y_t[4:] = None
    _, target = check_source_target((X_s, np.arange(40) % 2), (X_t, y_t))
    assert target.labelled.sum() == 4


def test_one_row_target_warns():
    from domainadapt.validation import check_source_target

    rng = np.random.default_rng(0)
    with pytest.warns(UserWarning, match="target X has 1 row"):
        check_source_target((rng.normal(size=(10, 2)), np.arange(10) % 2), rng.normal(size=(1, 2)))
