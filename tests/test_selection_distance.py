"""Proxy A-distance, the shift report and the negative-transfer guard."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from domainadapt import Domain, make_da_pipeline
from domainadapt.model import NoAdaptation
from domainadapt.selection import (
    NegativeTransferWarning,
    domain_shift_report,
    negative_transfer_report,
    proxy_a_distance,
)
from domainadapt.validation import check_source_target, stack_domains


def test_proxy_a_distance_identical_and_disjoint():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(800, 5))
    same = proxy_a_distance(X[:400], X[400:])
    assert 0.0 <= same < 0.25
    far = proxy_a_distance(X[:400], X[400:] + 20.0)
    assert far == pytest.approx(2.0)
    middle = proxy_a_distance(X[:400], X[400:] + 1.0)
    assert same < middle < far


def test_proxy_a_distance_accepts_domains_and_checks_input():
    rng = np.random.default_rng(1)
    X_s, X_t = rng.normal(size=(100, 3)), rng.normal(size=(80, 3)) + 3
    value = proxy_a_distance(Domain(X_s, rng.integers(0, 2, 100)), (X_t, None))
    assert value == proxy_a_distance(X_s, X_t)
    with pytest.raises(ValueError, match="different numbers of features"):
        proxy_a_distance(X_s, X_t[:, :2])
    with pytest.raises(ValueError, match="test_size"):
        proxy_a_distance(X_s, X_t, test_size=1.5)
    with pytest.raises(ValueError, match="target X contains NaN"):
        proxy_a_distance(X_s, np.where(X_t > 4, np.nan, X_t))


def test_domain_shift_report():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(300, 4))
    same = domain_shift_report(X[:150], X[150:], n_permutations=100)
    shifted = domain_shift_report(X[:150], X[150:] + 1.0, n_permutations=100)
    assert not same.shifted and same.mmd_p_value > 0.05
    assert shifted.shifted and shifted.mmd2 > same.mmd2
    assert shifted.proxy_a_distance > same.proxy_a_distance
    assert "proxy A-distance" in str(shifted)


def _stacked(X_s, y_s, X_t, y_t):
    X, y, sd = stack_domains(*check_source_target((X_s, y_s), X_t))
    y = y.copy()
    y[sd == "target"] = y_t
    return X, y, sd


def test_guard_flags_a_harmful_adaptation(shifted_blobs):
    X_s, y_s, X_t, y_t = shifted_blobs
    X, y, sd = _stacked(X_s, y_s, X_t, y_t)
    baseline = NoAdaptation(LogisticRegression()).fit((X_s, y_s), X_t)
    rng = np.random.default_rng(0)
    # "adaptation" that destroys the labels: a model fitted on permuted source labels
    harmful = NoAdaptation(LogisticRegression()).fit((X_s, rng.permutation(y_s)), X_t)
    with pytest.warns(NegativeTransferWarning, match="likely to hurt"):
        report = negative_transfer_report(harmful, baseline, X, y, sd)
    assert report.likely_hurts and report.votes_hurt >= 2
    assert "hurts" in report.to_markdown()


def test_guard_quiet_on_a_sound_adaptation(shifted_blobs):
    from domainadapt.feature import CORAL

    X_s, y_s, X_t, y_t = shifted_blobs
    X, y, sd = _stacked(X_s, y_s, X_t, y_t)
    baseline = NoAdaptation(LogisticRegression()).fit((X_s, y_s), X_t)
    adapted = make_da_pipeline(CORAL(), LogisticRegression()).fit(X, y, sample_domain=sd)
    with warnings.catch_warnings():
        warnings.simplefilter("error", NegativeTransferWarning)
        report = negative_transfer_report(adapted, baseline, X, y, sd)
    assert not report.likely_hurts
    assert set(report.scores) == {"iwcv", "dev", "reverse"}


def test_guard_parameter_errors(shifted_blobs):
    X_s, y_s, X_t, y_t = shifted_blobs
    X, y, sd = _stacked(X_s, y_s, X_t, y_t)
    model = NoAdaptation(LogisticRegression()).fit((X_s, y_s), X_t)
    with pytest.raises(ValueError, match="scorers is empty"):
        negative_transfer_report(model, model, X, y, sd, scorers={})
    with pytest.raises(ValueError, match="margin must be"):
        negative_transfer_report(model, model, X, y, sd, margin=-1)
