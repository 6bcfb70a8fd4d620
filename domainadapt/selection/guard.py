"""Negative-transfer guard: compare an adapted model with source-only by unsupervised scores."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .scorers import (
    DeepEmbeddedValidationScorer,
    DomainScorer,
    ImportanceWeightedScorer,
    ReverseValidationScorer,
)

__all__ = [
    "NegativeTransferWarning",
    "TransferReport",
    "negative_transfer_report",
    "paired_z",
    "combined_evidence",
]


class NegativeTransferWarning(UserWarning):
    """The adapted model is likely worse on the target than the source-only one.

    Issued by :func:`negative_transfer_report` when a strict majority of its
    scorers prefer the source-only model.

    Examples
    --------
    A model trained on flipped labels, standing in for a harmful adaptation:

    >>> import warnings
    >>> import numpy as np
    >>> from domainadapt.model import NoAdaptation
    >>> issubclass(NegativeTransferWarning, UserWarning)
    True
    >>> rng = np.random.RandomState(0)
    >>> X_s, X_t = rng.randn(60, 2), rng.randn(60, 2) + 0.5
    >>> y_s = (X_s[:, 0] > 0).astype(int)
    >>> baseline = NoAdaptation().fit((X_s, y_s), X_t)
    >>> harmful = NoAdaptation().fit((X_s, 1 - y_s), X_t)
    >>> X = np.vstack([X_s, X_t])
    >>> y = np.concatenate([y_s, np.full(60, -1)])
    >>> sd = np.array(["source"] * 60 + ["target"] * 60)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     report = negative_transfer_report(harmful, baseline, X, y, sd)
    >>> [w.category.__name__ for w in caught]
    ['NegativeTransferWarning']
    """


@dataclass
class TransferReport:
    """Scores of an adapted and a source-only model, by unsupervised scorer.

    Attributes
    ----------
    scores : dict of str to (float, float)
        ``name -> (adapted score, baseline score)``; higher is better.
    margin : float
        A scorer votes "hurts" when ``adapted < baseline - margin``.
    votes_hurt : int
        Number of scorers that prefer the baseline by more than ``margin``.
    likely_hurts : bool
        A strict majority of the scorers vote "hurts".

    Examples
    --------
    As returned by :func:`negative_transfer_report`, here for an "adapted" model
    that is the baseline itself (no scorer can prefer either):

    >>> import numpy as np
    >>> from domainadapt.model import NoAdaptation
    >>> rng = np.random.RandomState(0)
    >>> X_s, X_t = rng.randn(60, 2), rng.randn(60, 2) + 0.5
    >>> y_s = (X_s[:, 0] > 0).astype(int)
    >>> model = NoAdaptation().fit((X_s, y_s), X_t)
    >>> X = np.vstack([X_s, X_t])
    >>> y = np.concatenate([y_s, np.full(60, -1)])
    >>> sd = np.array(["source"] * 60 + ["target"] * 60)
    >>> report = negative_transfer_report(model, model, X, y, sd)
    >>> sorted(report.scores), report.votes_hurt, report.likely_hurts
    (['dev', 'iwcv', 'reverse'], 0, False)
    >>> print(report.to_markdown().splitlines()[-1])
    0 of 3 scorers prefer the source-only model: no sign of negative transfer.
    """

    scores: dict[str, tuple[float, float]] = field(default_factory=dict)
    margin: float = 0.0
    votes_hurt: int = 0
    likely_hurts: bool = False

    def to_markdown(self) -> str:
        """The report as a markdown table."""
        lines = ["| scorer | adapted | source-only | verdict |", "|---|---|---|---|"]
        for name, (a, b) in self.scores.items():
            verdict = "hurts" if a < b - self.margin else "ok"
            lines.append(f"| {name} | {a:.4f} | {b:.4f} | {verdict} |")
        lines.append(
            f"\n{self.votes_hurt} of {len(self.scores)} scorers prefer the source-only model: "
            + ("adaptation likely hurts." if self.likely_hurts else "no sign of negative transfer.")
        )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_markdown()


def negative_transfer_report(
    adapted: Any,
    baseline: Any,
    X: Any,
    y: Any,
    sample_domain: Any,
    *,
    scorers: dict[str, DomainScorer] | None = None,
    margin: float = 0.01,
    warn: bool = True,
) -> TransferReport:
    r"""Compare a fitted adapted model with a fitted source-only model without target labels.

    Each scorer (default: IWCV, DEV and reverse validation, the three that
    estimate target accuracy from source labels) scores both models on the
    validation rows ``X`` (held-out source rows with labels, target rows whose
    labels are never read). When a strict majority prefers the source-only model
    by more than ``margin``, adaptation is likely to hurt (negative transfer,
    Rosenstein et al. 2005; Pan & Yang 2010) and a
    :class:`NegativeTransferWarning` is issued.

    Parameters
    ----------
    adapted, baseline : fitted estimators
        E.g. a fitted :class:`~domainadapt.DAPipeline` and a fitted
        :class:`~domainadapt.model.NoAdaptation`.
    X, y, sample_domain : array-likes
        Validation rows in the stacked form (rows not used to fit either model).
    scorers : dict of str to DomainScorer, optional
    margin : float, default=0.01
    warn : bool, default=True

    Returns
    -------
    TransferReport

    References
    ----------
    M. T. Rosenstein, Z. Marx, L. P. Kaelbling, T. G. Dietterich. "To transfer or
    not to transfer". NIPS 2005 workshop on transfer learning.
    """
    if scorers is None:
        scorers = {
            "iwcv": ImportanceWeightedScorer(),
            "dev": DeepEmbeddedValidationScorer(loss="zero_one"),
            "reverse": ReverseValidationScorer(),
        }
    if not scorers:
        raise ValueError("scorers is empty; give at least one scorer.")
    if not (isinstance(margin, (int, float)) and np.isfinite(margin) and margin >= 0):
        raise ValueError(f"margin must be a number >= 0; got {margin!r}.")
    report = TransferReport(margin=float(margin))
    for name, scorer in scorers.items():
        a = scorer(adapted, X, y, sample_domain=sample_domain)
        b = scorer(baseline, X, y, sample_domain=sample_domain)
        report.scores[name] = (float(a), float(b))
    report.votes_hurt = sum(a < b - margin for a, b in report.scores.values())
    report.likely_hurts = report.votes_hurt * 2 > len(report.scores)
    if warn and report.likely_hurts:
        warnings.warn(
            f"{report.votes_hurt} of {len(report.scores)} unsupervised scorers rate the adapted "
            "model below the source-only model: adaptation is likely to hurt on this target "
            "(negative transfer).",
            NegativeTransferWarning,
            stacklevel=2,
        )
    return report


def paired_z(rows: Any, baseline_rows: Any) -> float:
    r"""z statistic of the mean row-by-row difference between two models' scores.

    With :math:`d_i = a_i - b_i` the differences of the two models' per-row
    score values on the same rows (from :meth:`DomainScorer.score_rows
    <domainadapt.selection.scorers.DomainScorer.score_rows>`),

    .. math:: z = \frac{\bar d}{s_d / \sqrt{n}},

    the paired (one-sample) test statistic of "the first model scores higher"
    (Student 1908; for large ``n`` approximately standard normal when the two
    models are equally good). ``0.0`` when every difference is zero, ``±inf``
    when all differences are equal and not zero, ``nan`` with fewer than 2 rows.

    Parameters
    ----------
    rows, baseline_rows : array-like of shape (n,)
        Per-row values of the model and of the baseline, row ``i`` the same row.

    Returns
    -------
    float

    Examples
    --------
    >>> round(paired_z([1, 1, 1, 0], [0, 1, 1, 0]), 3)
    1.0
    >>> paired_z([1, 0], [1, 0])
    0.0
    """
    a = np.asarray(rows, dtype=np.float64)
    b = np.asarray(baseline_rows, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(
            f"rows and baseline_rows must be 1-D and of the same length; got shapes {a.shape} "
            f"and {b.shape}."
        )
    if len(a) < 2:
        return float("nan")
    d = a - b
    mean, sd = d.mean(), d.std(ddof=1)
    if sd == 0:
        return 0.0 if mean == 0 else float(np.sign(mean) * np.inf)
    return float(mean / (sd / np.sqrt(len(d))))


def combined_evidence(z_by_scorer: Any) -> float:
    r"""Stouffer's combination :math:`Z = \sum_s z_s / \sqrt{S}` of finite z statistics.

    NaN entries are left out (``nan`` when none is left). An infinite entry
    (every row differing by the same amount) decides the sum; ``+inf`` and
    ``-inf`` together give ``nan``.

    Parameters
    ----------
    z_by_scorer : iterable of float
        One :func:`paired_z` per scorer (NaN entries are left out).

    Returns
    -------
    float

    References
    ----------
    S. A. Stouffer, E. A. Suchman, L. C. DeVinney, S. A. Star, R. M. Williams.
    "The American Soldier, Vol. 1". Princeton University Press, 1949.

    Examples
    --------
    >>> round(combined_evidence([1.0, 2.0, float("nan")]), 3)
    2.121
    """
    z = np.asarray([v for v in z_by_scorer if not np.isnan(v)], dtype=np.float64)
    if len(z) == 0:
        return float("nan")
    return float(z.sum() / np.sqrt(len(z)))
