"""make_topic_shift: the text-like generator's documented properties."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from domainadapt.datasets import make_topic_shift


def test_counts_shapes_and_seed():
    source, target = make_topic_shift(300, 200, n_features=100, random_state=0)
    assert source.X.shape == (300, 100) and target.X.shape == (200, 100)
    for d in (source, target):
        assert (d.X >= 0).all() and np.array_equal(d.X, np.round(d.X))
        assert set(np.unique(d.y)) == {0, 1}
        assert (d.X == 0).mean() > 0.6  # mostly zeros, like word counts (100 words here)
        assert d.X.sum(axis=1).min() >= 5  # every document has at least 5 words
    again = make_topic_shift(300, 200, n_features=100, random_state=0)
    np.testing.assert_array_equal(again[0].X, source.X)
    np.testing.assert_array_equal(again[1].y, target.y)
    other = make_topic_shift(300, 200, n_features=100, random_state=1)
    assert not np.array_equal(other[0].X, source.X)


def test_domain_specific_words_never_cross_and_the_shift_costs_accuracy():
    source, target = make_topic_shift(2000, 2000, n_features=400, random_state=0)
    only_source = (source.X.sum(0) > 0) & (target.X.sum(0) == 0)
    only_target = (target.X.sum(0) > 0) & (source.X.sum(0) == 0)
    # each domain has its own sentiment vocabulary (10 % of the words each)
    assert only_source.sum() >= 30 and only_target.sum() >= 30
    model = LogisticRegression(max_iter=2000).fit(source.X, source.y)
    within = LogisticRegression(max_iter=2000).fit(target.X[:1000], target.y[:1000])
    cross, inside = model.score(target.X, target.y), within.score(target.X[1000:], target.y[1000:])
    assert inside > 0.8 and cross < inside - 0.08


@pytest.mark.parametrize(
    "kwargs, match",
    [({"n_features": 10}, "n_features"), ({"domain_specific": 1.5}, "domain_specific"),
     ({"label_noise": 0.6}, "label_noise"), ({"doc_length": 0}, "doc_length")],
)
def test_bad_parameters_name_the_parameter(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_topic_shift(50, 50, **kwargs)
