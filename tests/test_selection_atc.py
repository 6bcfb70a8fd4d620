"""ATC (Garg et al. 2022): the threshold's defining property, a hand computation, no target labels."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from domainadapt.model import NoAdaptation
from domainadapt.selection import (
    ATCScorer,
    atc_threshold,
    average_thresholded_confidence,
    get_scorers,
)


def _blobs(n, shift, rng):
    y = rng.randint(0, 3, n)
    centres = np.array([[0.0, 0.0], [2.5, 0.0], [0.0, 2.5]])
    return centres[y] + rng.randn(n, 2) + shift, y


def _fitted(n_source, n_target, shift, seed):
    """A model fitted on half the source rows; the other half + the target stacked for scoring.

    Returns the model, the scoring rows X, their y (target entries 0, never read), their
    sample_domain, the held-out source (X, y) and the target (X, y).
    """
    rng = np.random.RandomState(seed)
    X_s, y_s = _blobs(n_source, 0.0, rng)
    X_t, y_t = _blobs(n_target, shift, rng)
    half = n_source // 2
    model = NoAdaptation(LogisticRegression()).fit((X_s[:half], y_s[:half]), X_t)
    X = np.vstack([X_s[half:], X_t])
    y = np.concatenate([y_s[half:], np.zeros(n_target, dtype=int)])
    sd = np.array(["source"] * (n_source - half) + ["target"] * n_target)
    return model, X, y, sd, (X_s[half:], y_s[half:]), (X_t, y_t)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_threshold_puts_the_error_rate_below_it(seed):
    rng = np.random.RandomState(seed)
    confidence = rng.rand(50)
    for n_errors in (0, 1, 7, 50):
        correct = np.ones(50, dtype=bool)
        correct[rng.choice(50, n_errors, replace=False)] = False
        t = atc_threshold(confidence, correct)
        assert np.sum(confidence < t) == n_errors


def test_scorer_is_the_hand_computed_share_above_the_source_threshold():
    model, X, y, sd, (X_v, y_v), (X_t, _) = _fitted(400, 300, 0.8, seed=0)
    # by hand: the negative entropy of each row, the threshold from the source rows' errors
    P_s, P_t = model.predict_proba(X_v), model.predict_proba(X_t)
    ne_s, ne_t = (P_s * np.log(P_s)).sum(1), (P_t * np.log(P_t)).sum(1)
    k = int(np.sum(model.predict(X_v) != y_v))
    t = 0.5 * (np.sort(ne_s)[k - 1] + np.sort(ne_s)[k])
    expected = np.mean(ne_t >= t)
    assert ATCScorer()(model, X, y, sample_domain=sd) == pytest.approx(expected, abs=1e-12)
    assert average_thresholded_confidence(
        P_s, model.predict(X_v) == y_v, P_t) == pytest.approx(expected, abs=1e-12)
    score, rows = ATCScorer().score_rows(model, X, y, sample_domain=sd)
    assert rows.shape == (300,) and rows.mean() == pytest.approx(score)
    # the maximum-confidence variant thresholds a different score
    mc_t = atc_threshold(P_s.max(1), model.predict(X_v) == y_v)
    assert ATCScorer("max_confidence")(model, X, y, sample_domain=sd) == pytest.approx(
        np.mean(P_t.max(1) >= mc_t))


@pytest.mark.parametrize("seed", [0, 1])
def test_estimates_the_accuracy_without_a_shift(seed):
    model, X, y, sd, _, (X_t, y_t) = _fitted(4000, 2000, 0.0, seed)
    assert ATCScorer()(model, X, y, sample_domain=sd) == pytest.approx(
        model.score(X_t, y_t), abs=0.03)


def test_target_labels_are_never_read():
    model, X, y, sd, _, _ = _fitted(300, 200, 1.0, seed=0)
    rng = np.random.RandomState(1)
    scores = set()
    for _ in range(3):  # random labels in the target rows' entries of y
        y[150:] = rng.randint(0, 3, 200)
        scores.add(ATCScorer()(model, X, y, sample_domain=sd))
    assert len(scores) == 1


def test_errors_and_registry():
    with pytest.raises(ValueError, match="score must be one of"):
        ATCScorer("confidence")
    with pytest.raises(ValueError, match="same length"):
        atc_threshold([0.5, 0.6], [True])
    assert isinstance(get_scorers()["atc"], ATCScorer)
    model = NoAdaptation().fit((np.eye(4), [0, 1, 0, 1]), np.eye(4))
    with pytest.raises(ValueError, match="needs sample_domain"):
        ATCScorer()(model, np.eye(4), [0, 1, 0, 1])
