"""Combining unsupervised scorers: a score-averaging scorer and a rank aggregation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.stats import rankdata

from ._scorer_base import DomainScorer

__all__ = [
    "CandidateRanking",
    "EnsembleScorer",
    "RECOMMENDED_SCORERS",
    "ensemble_validation",
    "rank_candidates",
]

#: Per-candidate scorers (names of :func:`~domainadapt.selection.get_scorers`) to combine
#: with :func:`rank_candidates`, together with an ``"ensv"`` column from
#: :func:`ensemble_validation` (which needs every candidate's target predictions at
#: once), and :class:`EnsembleScorer`'s default members. Over 13 tasks x 26 candidates
#: (``benchmarks/results/selection.md``) the rank average of EnsV, reverse validation
#: and MixVal has a mean Spearman correlation with target accuracy of +0.65 (reverse
#: validation alone +0.52); adding ``"class_ami"`` and ``"atc"`` to it gives the best
#: row there, +0.72. :class:`~domainadapt.selection.AutoAdapter` picks with its own
#: ``DEFAULT_SCORERS`` (reverse validation + ClassAMI), chosen on the kept candidates'
#: accuracy in ``benchmarks/results/auto.md``.
RECOMMENDED_SCORERS: tuple[str, ...] = ("reverse", "mixval")


@dataclass
class CandidateRanking:
    """Result of :func:`rank_candidates`.

    Attributes
    ----------
    order : list of str
        Candidate names, best first (ties keep the input order).
    aggregate : dict of str to float
        The combined value of each candidate (higher is better): the mean
        normalised rank in [0, 1] (``method="rank"``) or the mean z-score
        (``method="zscore"``) over the scorers used.
    per_scorer : dict of str to dict of str to float
        ``scorer -> candidate -> normalised rank or z-score`` (missing or NaN
        scores count as the worst).
    scorers : list of str
        The scorers that were combined.

    Examples
    --------
    As returned by :func:`rank_candidates`: "b" is first for one scorer and second
    for the other, "a" only first for one, so "b" wins the mean normalised rank.

    >>> ranking = rank_candidates({"a": {"reverse": 0.9, "mixval": 0.5},
    ...                            "b": {"reverse": 0.8, "mixval": 0.9},
    ...                            "c": {"reverse": 0.5, "mixval": 0.6}})
    >>> ranking.best, ranking.order
    ('b', ['b', 'a', 'c'])
    >>> ranking.scorers
    ['mixval', 'reverse']
    >>> ranking.per_scorer["reverse"]
    {'a': 1.0, 'b': 0.5, 'c': 0.0}
    """

    order: list[str]
    aggregate: dict[str, float]
    per_scorer: dict[str, dict[str, float]] = field(default_factory=dict)
    scorers: list[str] = field(default_factory=list)

    @property
    def best(self) -> str:
        """Name of the top-ranked candidate."""
        return self.order[0]


def rank_candidates(
    scores: Mapping[str, Mapping[str, float]],
    scorers: Sequence[str] | None = None,
    method: str = "rank",
    weights: Mapping[str, float] | None = None,
) -> CandidateRanking:
    r"""Combine several unsupervised scores of a set of candidates into one ranking.

    Scores of different scorers live on different scales (an accuracy, an
    entropy, a nuclear norm), so they are first made comparable *across the
    candidates*: each scorer's values are replaced by their normalised rank
    (``method="rank"``: average rank of ties, scaled to [0, 1], 1 = best) or by
    their z-score over the candidates (``method="zscore"``). The candidates are
    then ordered by the (weighted) mean over scorers. Both need all candidates
    at once, unlike :class:`EnsembleScorer`.

    Parameters
    ----------
    scores : mapping of str to mapping of str to float
        ``candidate name -> {scorer name -> score}``, higher is better for
        every scorer (as all scorers of this module are). A missing or NaN
        score (a scorer that failed on that candidate) counts as the worst
        value of that scorer.
    scorers : sequence of str, optional
        Which scorers to combine; default every scorer present for any
        candidate. Default recommendation: :data:`RECOMMENDED_SCORERS`.
    method : {"rank", "zscore"}, default="rank"
    weights : mapping of str to float, optional
        Non-negative weight per scorer (default equal weights).

    Returns
    -------
    CandidateRanking
        ``.order`` best first, ``.best``, ``.aggregate``, ``.per_scorer``.

    Notes
    -----
    The recommended use (``benchmarks/selection.py``)::

        per_candidate = {name: {s: get_scorers()[s](model, X, y, sample_domain=sd)
                                for s in RECOMMENDED_SCORERS}
                         for name, model in fitted.items()}
        ensv = ensemble_validation({name: model.predict_proba(X_target)
                                    for name, model in fitted.items()})
        for name in fitted:
            per_candidate[name]["ensv"] = ensv[name]
        best = rank_candidates(per_candidate).best

    Examples
    --------
    >>> r = rank_candidates({"a": {"reverse": 0.9, "mixval": 0.7},
    ...                      "b": {"reverse": 0.8, "mixval": 0.9},
    ...                      "c": {"reverse": 0.5, "mixval": 0.6}})
    >>> r.order
    ['a', 'b', 'c']
    """
    if method not in ("rank", "zscore"):
        raise ValueError(f"method must be 'rank' or 'zscore'; got {method!r}.")
    if not isinstance(scores, Mapping) or len(scores) == 0:
        raise ValueError("scores must be a non-empty mapping candidate -> {scorer -> score}.")
    names = list(scores)
    for name in names:
        if not isinstance(scores[name], Mapping):
            raise ValueError(
                f"scores[{name!r}] must be a mapping scorer -> score; got {type(scores[name]).__name__}."
            )
    if scorers is None:
        scorers = sorted({s for name in names for s in scores[name]})
    else:
        if isinstance(scorers, str):
            raise ValueError("scorers must be a sequence of scorer names, not a single string.")
        scorers = list(scorers)
        unknown = [s for s in scorers if not any(s in scores[n] for n in names)]
        if unknown:
            raise ValueError(f"scorers {unknown} appear in no candidate's scores.")
    if not scorers:
        raise ValueError("scores holds no scorer value to combine.")
    if weights is None:
        w = {s: 1.0 for s in scorers}
    else:
        w = {s: float(weights.get(s, 0.0)) for s in scorers}
        if any(not np.isfinite(v) or v < 0 for v in w.values()) or sum(w.values()) <= 0:
            raise ValueError("weights must be finite, non-negative and not all zero.")
    per_scorer: dict[str, dict[str, float]] = {}
    total = np.zeros(len(names))
    for s in scorers:
        v = np.array([_as_float(scores[n].get(s, np.nan)) for n in names])
        finite = np.isfinite(v)
        out = np.zeros(len(names))
        if method == "rank":
            if finite.sum() > 1:
                # NaN / missing below every finite value: rank 0
                r = rankdata(np.where(finite, v, -np.inf), method="average")
                out = (r - 1) / (len(names) - 1) if len(names) > 1 else np.ones(1)
            elif finite.sum() == 1:
                out = finite.astype(float)
        else:
            if finite.any():
                mu, sd = v[finite].mean(), v[finite].std()
                z = (v - mu) / sd if sd > 0 else np.zeros(len(v))
                worst = z[finite].min() if finite.any() else 0.0
                out = np.where(finite, z, worst)
        per_scorer[s] = dict(zip(names, map(float, out)))
        total += w[s] * out
    total /= sum(w.values())
    order = [names[i] for i in np.argsort(-total, kind="stable")]
    return CandidateRanking(
        order=order,
        aggregate=dict(zip(names, map(float, total))),
        per_scorer=per_scorer,
        scorers=list(scorers),
    )


def ensemble_validation(
    predictions: Mapping[str, Any], weights: Mapping[str, float] | None = None
) -> dict[str, float]:
    r"""EnsV: each candidate's agreement with the ensemble of all candidates on the target.

    The target class probabilities of all candidates are averaged (a weighted
    mean with ``weights``); the ensemble's arg-max is taken as pseudo-labels and
    each candidate scores its accuracy against them:

    .. math:: s_m = \frac1{n_T}\sum_{i\in T}
              1\big[\hat y^{(m)}_i = \arg\max_c \textstyle\sum_{m'} p^{(m')}_{ic}\big]

    Hu et al. (2024) show that the ensemble is never worse than the worst
    candidate (for a convex loss), so the candidate closest to it avoids the
    worst-case choice that every single-model criterion makes on some task.
    It needs all candidates at once, like :func:`rank_candidates`, and reads
    no label at all. A family with many near-identical candidates weighs more
    in the ensemble; give one entry per family, or ``weights``, to avoid that.

    Parameters
    ----------
    predictions : mapping of str to array
        ``candidate -> predictions on the same target rows``: either class
        probabilities of shape ``(n_T, K)`` (the same class order for every
        candidate, e.g. ``predict_proba``) or hard labels of shape ``(n_T,)``
        (a majority vote then), not a mix of both.
    weights : mapping of str to float, optional
        Non-negative weight of each candidate in the ensemble (default equal).

    Returns
    -------
    dict of str to float
        ``candidate -> agreement`` in [0, 1], higher is better.

    References
    ----------
    D. Hu, R. Luo, J. Liang, C.-S. Foo. "Towards reliable model selection for
    unsupervised domain adaptation: an empirical study and a certified
    baseline". NeurIPS 2024 (Datasets and Benchmarks).
    """
    return {n: float(rows.mean()) for n, rows in ensemble_agreement_rows(predictions,
                                                                         weights).items()}


def ensemble_agreement_rows(
    predictions: Mapping[str, Any], weights: Mapping[str, float] | None = None
) -> dict[str, np.ndarray]:
    """Per target row, 1.0 where each candidate agrees with the ensemble's label, else 0.0.

    The row values behind :func:`ensemble_validation` (their mean is its score);
    same arguments and checks.
    """
    if not isinstance(predictions, Mapping) or len(predictions) == 0:
        raise ValueError("predictions must be a non-empty mapping candidate -> array.")
    names = list(predictions)
    arrays = [np.asarray(predictions[n]) for n in names]
    ndims = {a.ndim for a in arrays}
    if ndims == {1}:
        labels = np.unique(np.concatenate(arrays))
        probs = [(a[:, None] == labels[None, :]).astype(np.float64) for a in arrays]
    elif ndims == {2}:
        probs = [a.astype(np.float64) for a in arrays]
        labels = np.arange(probs[0].shape[1])
    else:
        raise ValueError(
            "predictions must all be 1-D labels or all be 2-D class probabilities; got "
            f"arrays with {sorted(ndims)} dimensions."
        )
    shapes = {p.shape for p in probs}
    if len(shapes) != 1:
        raise ValueError(f"predictions must all have the same shape; got {sorted(shapes)}.")
    if any(not np.isfinite(p).all() for p in probs):
        raise ValueError("predictions must be finite.")
    if weights is None:
        w = np.ones(len(names))
    else:
        unknown = [k for k in weights if k not in predictions]
        if unknown:
            raise ValueError(f"weights name unknown candidates {unknown}.")
        w = np.array([float(weights.get(n, 1.0)) for n in names])
        if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
            raise ValueError("weights must be finite, non-negative and not all zero.")
    mean = sum(wi * p for wi, p in zip(w, probs)) / w.sum()
    pseudo = mean.argmax(axis=1)
    return {n: (p.argmax(axis=1) == pseudo).astype(np.float64) for n, p in zip(names, probs)}


def _as_float(x: Any) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return float("nan")


class EnsembleScorer(DomainScorer):
    r"""Weighted mean of the raw scores of several scorers, for one candidate at a time.

    .. math:: s = \sum_k w_k\, s_k \Big/ \sum_k w_k

    Usable wherever a single scorer is (``GridSearchCV(scoring=...)``), but
    only meaningful when the members' scores share a scale. The default
    members, :class:`ReverseValidationScorer` and :class:`MixValScorer`, are
    both accuracies in [0, 1] (of a reverse model on the source labels and of
    the model on mixed pseudo-labelled target rows). To combine scorers on
    different scales (entropy, nuclear norm, ...) rank all candidates at once
    with :func:`rank_candidates` instead.

    Parameters
    ----------
    scorers : mapping of str to DomainScorer or sequence of str, optional
        The members, as scorer objects by name or as names of
        :func:`get_scorers`; default :data:`RECOMMENDED_SCORERS`.
    weights : mapping of str to float, optional
        Non-negative weight per member; default equal weights.

    Attributes
    ----------
    scorers_ : dict of str to DomainScorer
        The member scorers (call them one by one to feed
        :func:`rank_candidates`).

    References
    ----------
    K. Musgrave, S. Belongie, S.-N. Lim. "Benchmarking validation methods for
    unsupervised domain adaptation". arXiv:2208.07360, 2022 (no single
    validator wins everywhere, which motivates combining them).

    Examples
    --------
    The default members are reverse validation and MixVal; the score is their mean:

    >>> import numpy as np
    >>> from domainadapt.model import NoAdaptation
    >>> rng = np.random.RandomState(0)
    >>> X_s, X_t = rng.randn(60, 2), rng.randn(60, 2) + 0.5
    >>> y_s = (X_s[:, 0] > 0).astype(int)
    >>> model = NoAdaptation().fit((X_s, y_s), X_t)
    >>> X = np.vstack([X_s, X_t])
    >>> y = np.concatenate([y_s, np.full(60, -1)])  # target labels are never read
    >>> sd = np.array(["source"] * 60 + ["target"] * 60)
    >>> scorer = EnsembleScorer()
    >>> parts = scorer.member_scores(model, X, y, sample_domain=sd)
    >>> sorted(parts)
    ['mixval', 'reverse']
    >>> score = scorer(model, X, y, sample_domain=sd)
    >>> bool(np.isclose(score, np.mean(list(parts.values())))) and 0 <= score <= 1
    True
    """

    def __init__(
        self,
        scorers: Mapping[str, DomainScorer] | Sequence[str] | None = None,
        weights: Mapping[str, float] | None = None,
    ):
        from .scorers import resolve_scorers

        if scorers is None:
            scorers = RECOMMENDED_SCORERS
        members = resolve_scorers(scorers)
        if weights is not None:
            unknown = [k for k in weights if k not in members]
            if unknown:
                raise ValueError(f"weights name unknown scorers {unknown}.")
            wv = [float(weights.get(k, 1.0)) for k in members]
            if any(not np.isfinite(v) or v < 0 for v in wv) or sum(wv) <= 0:
                raise ValueError("weights must be finite, non-negative and not all zero.")
        self.scorers = scorers
        self.weights = weights
        self.scorers_ = members
        self.needs_source = any(getattr(s, "needs_source", False) for s in members.values())

    def member_scores(self, estimator: Any, X: Any, y: Any = None, sample_domain: Any = None):
        """The members' scores, ``{name: score}`` (for :func:`rank_candidates`)."""
        return {
            name: float(sc(estimator, X, y, sample_domain=sample_domain))
            for name, sc in self.scorers_.items()
        }

    def _score(self, estimator, X, y, sd):
        parts = self.member_scores(estimator, X, y, sd)
        w = {k: (1.0 if self.weights is None else float(self.weights.get(k, 1.0))) for k in parts}
        return sum(w[k] * parts[k] for k in parts) / sum(w.values())

    def __repr__(self) -> str:
        return f"EnsembleScorer(scorers={list(self.scorers_)!r}, weights={self.weights!r})"
