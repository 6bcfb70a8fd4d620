"""Scorers from the target's predicted class probabilities alone: IM, BNM, Corr-C."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._scorer_base import DomainScorer, _check_max_rows, _check_proba, _entropy, _target_proba


# ------------------------------------------------- confidence-and-dispersity scorers
def information_maximization(proba: Any) -> float:
    r"""Information-maximisation score of class probabilities.

    .. math:: \mathrm{IM} = H\Big(\frac1n \sum_i p_i\Big) - \frac1n \sum_i H(p_i)

    the mutual information between the input and the predicted class under the
    empirical distribution: high when each prediction is confident (small
    :math:`H(p_i)`) *and* the classes are used evenly (large entropy of the
    mean prediction). Between 0 and :math:`\log K`. Rows are renormalised to sum
    to one. See :class:`InformationMaximizationScorer`.

    See Also
    --------
    domainadapt.ops.information_maximization : SHOT's training loss of the same
        name, on torch logits, with the opposite sign (lower is better).
    """
    P = _check_proba(proba)
    P = P / np.maximum(P.sum(axis=1, keepdims=True), 1e-12)
    return float(_entropy(P.mean(axis=0, keepdims=True))[0] - _entropy(P).mean())


def batch_nuclear_norm(proba: Any) -> float:
    r"""Normalised nuclear norm of a matrix of class probabilities.

    .. math:: \mathrm{BNM} = \frac{\lVert P \rVert_*}{\sqrt{n \min(n, K)}}

    for :math:`P` of shape ``(n, K)``. It is 1 for one-hot predictions spread
    evenly over :math:`\min(n, K)` classes and :math:`1/\sqrt{\min(n, K)}` when
    every row is the same one-hot vector (collapse) or the uniform vector. See
    :class:`BatchNuclearNormScorer`.
    """
    P = _check_proba(proba)
    n, k = P.shape
    return float(np.linalg.svd(P, compute_uv=False).sum() / np.sqrt(n * min(n, k)))


def softmax_correlation(proba: Any) -> float:
    r"""SoftmaxCorr: cosine similarity of :math:`P^\top P / n` with the identity.

    .. math:: \mathrm{Corr} = \frac{\mathrm{tr}(C)}{\lVert C \rVert_F \sqrt{K}},
              \quad C = \frac1n P^\top P

    1 for one-hot predictions spread evenly over the ``K`` classes (no
    confusion, every class used); :math:`1/\sqrt K` for a collapsed or a uniform
    predictor. See :class:`SoftmaxCorrelationScorer`.
    """
    P = _check_proba(proba)
    C = P.T @ P / len(P)
    norm = float(np.linalg.norm(C))
    if norm <= 0:
        return 0.0
    return float(np.trace(C) / (norm * np.sqrt(C.shape[0])))


class _ProbaScorer(DomainScorer):
    """A scorer computed from the target rows' class probabilities only."""

    _fn = staticmethod(information_maximization)

    def __init__(self, max_rows: int | None = None):
        _check_max_rows(max_rows)
        self.max_rows = max_rows

    def _score(self, estimator, X, y, sd):
        return type(self)._fn(_target_proba(estimator, X, sd, self.max_rows))


class InformationMaximizationScorer(_ProbaScorer):
    r"""Information maximisation (IM) of the target predictions.

    .. math:: s = H(\bar p) - \frac1{n_T}\sum_{i\in T} H(p_i),
              \quad \bar p = \frac1{n_T}\sum_{i \in T} p_i

    Entropy (:class:`PredictionEntropyScorer`) plus a diversity term that
    penalises a model which puts every target row in the same few classes, the
    failure that makes plain entropy reward collapsed models. Musgrave et al.
    (2022) rank it among the best target-only validators. Target labels are
    not read; source rows are ignored. Higher is better.

    Parameters
    ----------
    max_rows : int, optional
        Score a deterministic random subset of this many target rows.

    References
    ----------
    J. S. Bridle, A. J. R. Heading, D. J. C. MacKay. "Unsupervised classifiers,
    mutual information and phantom targets". NIPS 1991.
    J. Liang, D. Hu, J. Feng. "Do we really need to access the source data?
    Source hypothesis transfer for unsupervised domain adaptation". ICML 2020.
    K. Musgrave, S. Belongie, S.-N. Lim. "Benchmarking validation methods for
    unsupervised domain adaptation". arXiv:2208.07360, 2022.

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
    >>> score = InformationMaximizationScorer()(model, X, sample_domain=sd)
    >>> bool(0 <= score <= np.log(2))  # H(mean p) >= mean H(p), two classes
    True
    """

    _fn = staticmethod(information_maximization)


class BatchNuclearNormScorer(_ProbaScorer):
    r"""Batch nuclear norm (BNM) of the target prediction matrix.

    .. math:: s = \frac{\lVert P_T \rVert_*}{\sqrt{n_T \min(n_T, K)}}

    with :math:`P_T` the ``(n_T, K)`` matrix of target class probabilities. The
    nuclear norm grows with both the confidence (Frobenius norm) and the
    diversity (rank) of the predictions (Cui et al. 2020); Musgrave et al.
    (2022) proposed it as a validator, and Deng et al. (2023) showed it tracks
    accuracy under shift. The normalisation makes it lie in
    :math:`(0, 1]`, independent of the number of rows. Higher is better.

    Parameters
    ----------
    max_rows : int, optional
        Score a deterministic random subset of this many target rows.

    References
    ----------
    S. Cui, S. Wang, J. Zhuo, L. Li, Q. Huang, Q. Tian. "Towards discriminability
    and diversity: batch nuclear-norm maximization under label insufficient
    situations". CVPR 2020.
    K. Musgrave, S. Belongie, S.-N. Lim. "Benchmarking validation methods for
    unsupervised domain adaptation". arXiv:2208.07360, 2022.
    W. Deng, Y. Suh, S. Gould, L. Zheng. "Confidence and dispersity speak:
    characterising prediction matrix for unsupervised accuracy estimation".
    ICML 2023.

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
    >>> score = BatchNuclearNormScorer()(model, X, sample_domain=sd)
    >>> 0 < score <= 1
    True
    """

    _fn = staticmethod(batch_nuclear_norm)


class SoftmaxCorrelationScorer(_ProbaScorer):
    r"""Softmax correlation (SoftmaxCorr, "Corr-C") of the target predictions.

    The class-class correlation matrix :math:`C = P_T^\top P_T / n_T` of the
    target class probabilities is compared with the identity (the matrix of a
    confident, unconfused predictor that uses every class equally):

    .. math:: s = \cos(C, I) = \frac{\mathrm{tr}(C)}{\lVert C\rVert_F \sqrt K}

    In :math:`[1/\sqrt K, 1]`; higher is better. Off-diagonal mass (confusion
    between classes) and uneven class usage both lower it. The reference
    matrix is the identity, i.e. balanced target classes are assumed.

    Parameters
    ----------
    max_rows : int, optional
        Score a deterministic random subset of this many target rows.

    References
    ----------
    W. Tu, W. Deng, L. Zheng, T. Gedeon. "What does softmax probability tell us
    about classifiers ranking across diverse test conditions?" TMLR 2024
    (first circulated in 2023 as "Assessing model out-of-distribution
    generalization with softmax prediction probability baselines and a
    correlation method").

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
    >>> score = SoftmaxCorrelationScorer()(model, X, sample_domain=sd)
    >>> bool(1 / np.sqrt(2) <= score <= 1)  # two classes
    True
    """

    _fn = staticmethod(softmax_correlation)
