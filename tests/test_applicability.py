"""NotApplicableWarning: strategies say when their assumptions do not hold on the data."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from domainadapt import Domain, NotApplicableWarning
from domainadapt._diagnostics import NEIGHBOUR_RATIO_MIN, neighbour_label_ratio
from domainadapt.datasets import make_shifted_digits, make_topic_shift
from domainadapt.feature import JDA, JGSA
from domainadapt.relation import LabelPropagation


@pytest.fixture(scope="module")
def text():
    return make_topic_shift(600, 600, n_features=300, random_state=0)


@pytest.fixture(scope="module")
def digits():
    return make_shifted_digits("rotation", random_state=0)


def test_neighbour_ratio_separates_pixels_from_word_counts(text, digits):
    assert neighbour_label_ratio(digits[0].X, digits[0].y) > 1.0
    assert neighbour_label_ratio(text[0].X, text[0].y) < NEIGHBOUR_RATIO_MIN


def test_neighbour_ratio_is_one_when_both_classifiers_are_perfect():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 60)
    X = rng.normal(size=(120, 3)) * 0.1 + y[:, None] * 5.0
    assert neighbour_label_ratio(X, y) == pytest.approx(1.0)
    assert np.isnan(neighbour_label_ratio(X[:4], np.array([0, 0, 1, 1])))  # < 3 rows a class


@pytest.mark.parametrize(
    "make", [lambda: LabelPropagation(), lambda: JDA(n_components=10, n_iter=1),
             lambda: JGSA(n_components=10, n_iter=1)],
    ids=["label_propagation", "jda", "jgsa"],
)
def test_neighbour_methods_warn_on_word_counts_not_on_pixels(make, text, digits):
    source, target = text
    with pytest.warns(NotApplicableWarning, match="1-nearest-neighbour accuracy is only") as rec:
        fitted = make().fit(source, Domain(target.X))
    assert fitted.neighbour_ratio_ < NEIGHBOUR_RATIO_MIN
    assert {w.filename for w in rec} == {__file__}  # points at the user's fit call
    source, target = digits
    with warnings.catch_warnings():
        warnings.simplefilter("error", NotApplicableWarning)
        fitted = make().fit(source, Domain(target.X))
    assert fitted.neighbour_ratio_ > 1.0


def test_jda_with_its_own_pseudo_labeler_is_not_checked(text):
    from sklearn.linear_model import LogisticRegression

    source, target = text
    with warnings.catch_warnings():
        warnings.simplefilter("error", NotApplicableWarning)
        jda = JDA(n_components=10, n_iter=1, pseudo_labeler=LogisticRegression()).fit(
            source, Domain(target.X))
    assert np.isnan(jda.neighbour_ratio_)


def test_msda_warns_on_pixels_not_on_word_counts(text, digits):
    from domainadapt._diagnostics import SMOOTH_RATIO_MIN
    from domainadapt.feature import mSDA

    source, target = digits
    with pytest.warns(NotApplicableWarning, match="dense, smooth signals"):
        fitted = mSDA(n_layers=1).fit(source, Domain(target.X))
    assert fitted.neighbour_ratio_ >= SMOOTH_RATIO_MIN
    source, target = text
    with warnings.catch_warnings():
        warnings.simplefilter("error", NotApplicableWarning)
        fitted = mSDA(n_layers=1).fit(source, Domain(target.X))
    assert fitted.neighbour_ratio_ < SMOOTH_RATIO_MIN
