"""MixVal: mixed target samples as probes of a model's target structure."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._domain import SOURCE, TARGET
from ._scorer_base import DomainScorer, _call, _check_max_rows

__all__ = ["MixValScorer", "mixval_scores"]

_PROBES = ("both", "intra", "inter")


def mixval_scores(
    predict: Any,
    X: np.ndarray,
    mix_ratio: float = 0.55,
    n_rounds: int = 3,
    random_state: Any = 0,
) -> tuple[float, float]:
    r"""Intra- and inter-cluster ICE scores of MixVal on the rows ``X``.

    ``predict`` maps rows to hard labels. Each round pairs every row ``i`` with
    the row ``j = perm[i]`` of a random permutation (pairs with ``i == j`` are
    dropped), forms :math:`\tilde x = \lambda x_i + (1-\lambda) x_j` with
    :math:`\lambda` = ``mix_ratio`` > 0.5, and gives it the pseudo-label
    :math:`\hat y_i` of the dominant row. A pair is *intra-cluster* when
    :math:`\hat y_i = \hat y_j` and *inter-cluster* otherwise.

    Returns
    -------
    intra, inter : float
        Fraction of intra- (resp. inter-) cluster mixed rows whose prediction
        equals the mixed pseudo-label, over all rounds. A kind of pair that
        never occurs scores 0.0 (a model that predicts one class for every row
        has no inter-cluster pair and gets ``inter = 0``).
    """
    hit, same = _mixval_hits(predict, X, mix_ratio, n_rounds, random_state)
    intra = float(hit[same].mean()) if same.any() else 0.0
    inter = float(hit[~same].mean()) if (~same).any() else 0.0
    return intra, inter


def _mixval_hits(
    predict: Any, X: np.ndarray, mix_ratio: float, n_rounds: int, random_state: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Per mixed pair: whether the prediction kept the dominant row's label, and intra-ness.

    The pairs depend only on ``len(X)``, ``n_rounds`` and ``random_state``, so two
    models probed with the same arguments are probed on the same pairs.
    """
    _check_mixval_params(mix_ratio, n_rounds)
    X = np.asarray(X)
    n = len(X)
    if n < 2:
        raise ValueError("MixVal needs at least two target rows.")
    rng = np.random.RandomState(random_state) if not isinstance(
        random_state, np.random.RandomState
    ) else random_state
    pseudo = np.asarray(predict(X))
    idx_a, idx_b = [], []
    for _ in range(n_rounds):
        perm = rng.permutation(n)
        keep = perm != np.arange(n)
        idx_a.append(np.flatnonzero(keep))
        idx_b.append(perm[keep])
    a = np.concatenate(idx_a)
    b = np.concatenate(idx_b)
    mixed = mix_ratio * X[a] + (1.0 - mix_ratio) * X[b]
    hit = np.asarray(predict(mixed)) == pseudo[a]
    same = pseudo[a] == pseudo[b]
    return hit, same


def _check_mixval_params(mix_ratio: Any, n_rounds: Any) -> None:
    if (
        isinstance(mix_ratio, bool)
        or not isinstance(mix_ratio, (int, float, np.floating))
        or not 0.5 < mix_ratio < 1.0
    ):
        raise ValueError(f"mix_ratio must be a number in (0.5, 1); got {mix_ratio!r}.")
    if isinstance(n_rounds, bool) or not isinstance(n_rounds, (int, np.integer)) or n_rounds < 1:
        raise ValueError(f"n_rounds must be an integer >= 1; got {n_rounds!r}.")


class MixValScorer(DomainScorer):
    r"""MixVal: accuracy of the model on mixed target rows with mixed pseudo-labels.

    The model labels the target rows; pairs of target rows are mixed,
    :math:`\tilde x = \lambda x_i + (1 - \lambda) x_j` with a fixed
    :math:`\lambda > 1/2`, and the mixed row gets the pseudo-label of its
    dominant row :math:`i`. The score is how often the model predicts that
    label on the mixed rows (an "ICE" score, for interpolation consistency):

    * *intra-cluster* probes (:math:`\hat y_i = \hat y_j`) ask whether the
      segment between two rows of one predicted class stays in that class,
      i.e. whether the predicted clusters are dense and convex;
    * *inter-cluster* probes (:math:`\hat y_i \ne \hat y_j`) ask whether the
      decision boundary lies between the two clusters rather than next to the
      dominant row (with :math:`\lambda` close to 1/2, near the midpoint).

    Hu et al. (2023) show the two probes combine the strengths of entropy-type
    (boundary) and SND-type (density) criteria. The mixing happens in the input
    space of ``estimator`` (the rows passed to the scorer), which for a
    pipeline is before any feature adaptation; the mixed rows are predicted as
    target rows. Target labels are never read; source rows are ignored.

    Parameters
    ----------
    mix_ratio : float in (0.5, 1), default=0.55
        :math:`\lambda`, the weight of the dominant row.
    probe : {"both", "intra", "inter"}, default="both"
        Score the mean of the two ICE scores, or one of them. Hu et al. combine
        the two by averaging each candidate's *ranks* under them; over a set of
        candidates, pass ``"intra"`` and ``"inter"`` scores separately to
        :func:`rank_candidates` to do the same.
    n_rounds : int, default=3
        Number of random pairings (each pairs every row once); more rounds give
        a less noisy score at the cost of ``n_rounds * n_T`` extra predictions.
    max_rows : int, optional, default=2000
        Use a deterministic random subset of this many target rows.
    random_state : int, default=0
        Seed of the pairings (fixed, so that every candidate sees the same
        pairs of rows).

    References
    ----------
    D. Hu, J. Liang, J. H. Liew, C. Xue, S. Bai, X. Wang. "Mixed samples as
    probes for unsupervised model selection in domain adaptation". NeurIPS 2023.
    H. Zhang, M. Cisse, Y. N. Dauphin, D. Lopez-Paz. "mixup: beyond empirical
    risk minimization". ICLR 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from domainadapt.model import NoAdaptation
    >>> rng = np.random.RandomState(0)
    >>> X_s, X_t = rng.randn(60, 2), rng.randn(60, 2) + 0.5
    >>> y_s = (X_s[:, 0] > 0).astype(int)
    >>> model = NoAdaptation().fit((X_s, y_s), X_t)
    >>> X = np.vstack([X_s, X_t])
    >>> sd = np.array(["source"] * 60 + ["target"] * 60)
    >>> score = MixValScorer(random_state=0)(model, X, sample_domain=sd)
    >>> 0 <= score <= 1  # an accuracy on the mixed rows
    True
    """

    def __init__(
        self,
        mix_ratio: float = 0.55,
        probe: str = "both",
        n_rounds: int = 3,
        max_rows: int | None = 2000,
        random_state: int = 0,
    ):
        _check_mixval_params(mix_ratio, n_rounds)
        if probe not in _PROBES:
            raise ValueError(f"probe must be one of {_PROBES}; got {probe!r}.")
        _check_max_rows(max_rows, low=2)
        if isinstance(random_state, bool) or not isinstance(random_state, (int, np.integer)):
            raise ValueError(f"random_state must be an integer; got {random_state!r}.")
        self.mix_ratio = mix_ratio
        self.probe = probe
        self.n_rounds = n_rounds
        self.max_rows = max_rows
        self.random_state = random_state

    def _row_values(self, estimator, X, y, sd):
        """One value per mixed pair, weighted so that their mean is the score.

        A pair of the kind (intra or inter) that the score counts weighs
        ``1 / (k * n_kind)`` of the pairs' count, ``k`` being the number of kinds
        averaged (2 for ``"both"``), so that the mean of the values is the mean of
        the per-kind accuracies, a kind that never occurs counting as 0.
        """
        target = np.flatnonzero(sd != SOURCE)
        if self.max_rows is not None and len(target) > self.max_rows:
            target = np.sort(
                np.random.RandomState(self.random_state).choice(target, self.max_rows, replace=False)
            )
        X_t = X[target].astype(np.float64, copy=False)

        def predict(rows: np.ndarray) -> np.ndarray:
            return _call(estimator, "predict", rows, np.full(len(rows), TARGET))

        hit, same = _mixval_hits(
            predict, X_t, self.mix_ratio, self.n_rounds, self.random_state + 1
        )
        kinds = {"intra": [same], "inter": [~same], "both": [same, ~same]}[self.probe]
        values = np.zeros(len(hit))
        for kind in kinds:
            if kind.any():
                values[kind] = hit[kind] * len(hit) / (len(kinds) * kind.sum())
        return values
