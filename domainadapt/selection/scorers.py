"""Unsupervised model-selection scorers for domain adaptation.

Every scorer is a callable ``scorer(estimator, X, y, sample_domain=...)`` usable
as ``scoring=`` in :class:`~sklearn.model_selection.GridSearchCV` and
:func:`~sklearn.model_selection.cross_val_score`. Higher is better. The labels
of rows marked ``"target"`` are **never read**; only source rows (and
``"target_labelled"`` rows, as extra validation rows) contribute labels.

How the scorer learns which rows are target rows
------------------------------------------------
scikit-learn hands extra arguments to a scorer only under metadata routing.
These scorers request ``sample_domain`` by default, so inside
``sklearn.config_context(enable_metadata_routing=True)``::

    GridSearchCV(pipe, grid, scoring=EntropyScorer()).fit(X, y, sample_domain=sd)

works without ``set_score_request``. Without routing (scikit-learn's default),
``GridSearchCV`` calls the scorer with ``X`` and ``y`` only: a validation fold
of stacked rows then mixes source and target rows and nothing tells them
apart, so the scorer raises a ``ValueError`` that says how to enable routing,
instead of scoring the wrong rows. Called directly, ``scorer(est, X, y,
sample_domain=sd)`` always works.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.base import clone, is_classifier

from .._domain import SOURCE, TARGET, TARGET_LABELLED
from ..base import accepts_sample_domain
from ._proba_scorers import (
    BatchNuclearNormScorer,
    InformationMaximizationScorer,
    SoftmaxCorrelationScorer,
    batch_nuclear_norm,
    information_maximization,
    softmax_correlation,
)
from ._scorer_base import (
    DomainScorer,
    _call,
    _entropy,
)

__all__ = [
    "DomainScorer",
    "ImportanceWeightedScorer",
    "DeepEmbeddedValidationScorer",
    "PredictionEntropyScorer",
    "SoftNeighborhoodDensityScorer",
    "ReverseValidationScorer",
    "InformationMaximizationScorer",
    "BatchNuclearNormScorer",
    "SoftmaxCorrelationScorer",
    "information_maximization",
    "batch_nuclear_norm",
    "softmax_correlation",
    "get_scorers",
]

def _source_rows(X: np.ndarray, y: np.ndarray, sd: np.ndarray):
    """Labelled validation rows: source rows and ``"target_labelled"`` rows."""
    keep = sd == SOURCE
    return X[keep], y[keep]


def _importance_weights(
    weight_estimator: Any, X_s: np.ndarray, y_s: np.ndarray, X_t: np.ndarray
) -> np.ndarray:
    from ..instance import ClassifierDensityRatio

    est = (
        ClassifierDensityRatio(random_state=0)
        if weight_estimator is None
        else clone(weight_estimator)
    )
    if len(np.unique(y_s)) < 2:  # the ratio does not need labels; keep check_domain happy
        y_s = np.arange(len(y_s)) % 2
    est.fit((X_s, y_s), X_t)
    return np.asarray(est.weights_, dtype=np.float64)


def _per_row_loss(estimator: Any, X: np.ndarray, y: np.ndarray, sd: np.ndarray, loss: str):
    if loss == "zero_one":
        return (_call(estimator, "predict", X, sd) != y).astype(np.float64)
    proba = _call(estimator, "predict_proba", X, sd)
    classes = np.asarray(getattr(estimator, "classes_", np.unique(y)))
    col = np.searchsorted(classes, y)
    col = np.clip(col, 0, len(classes) - 1)
    known = classes[col] == y
    p = np.where(known, proba[np.arange(len(y)), col], 0.0)
    return -np.log(np.clip(p, 1e-12, 1.0))


# --------------------------------------------------------------------------- scorers
class ImportanceWeightedScorer(DomainScorer):
    r"""Importance-weighted validation (IWCV): weighted accuracy on held-out source rows.

    .. math:: \hat R_T = \frac{\sum_i w(x_i)\, \ell(f(x_i), y_i)}{\sum_i w(x_i)},
              \quad w = p_T / p_S

    An (almost) unbiased estimate of the target risk under covariate shift. The
    weights come from ``weight_estimator`` (default
    :class:`~domainadapt.instance.ClassifierDensityRatio`) fitted on the
    validation fold's source and target rows. The score is ``1 - risk`` for
    ``loss="zero_one"`` (a weighted accuracy) and ``-risk`` for ``"log_loss"``.

    Parameters
    ----------
    weight_estimator : InstanceAdapter, optional
        Any instance adapter exposing ``weights_`` after ``fit(source, target)``.
    loss : {"zero_one", "log_loss"}, default="zero_one"

    References
    ----------
    M. Sugiyama, M. Krauledat, K.-R. Mueller. "Covariate shift adaptation by
    importance weighted cross validation". JMLR 8, 2007.

    Examples
    --------
    A fitted model scored on stacked rows (source rows with labels, target rows
    whose labels are never read):

    >>> import numpy as np
    >>> from domainadapt.model import NoAdaptation
    >>> rng = np.random.RandomState(0)
    >>> X_s, X_t = rng.randn(60, 2), rng.randn(60, 2) + 0.5
    >>> y_s = (X_s[:, 0] > 0).astype(int)
    >>> model = NoAdaptation().fit((X_s, y_s), X_t)
    >>> X = np.vstack([X_s, X_t])
    >>> y = np.concatenate([y_s, np.full(60, -1)])
    >>> sd = np.array(["source"] * 60 + ["target"] * 60)
    >>> score = ImportanceWeightedScorer()(model, X, y, sample_domain=sd)
    >>> 0.9 < score <= 1.0  # a weighted accuracy
    True
    """

    needs_source = True

    def __init__(self, weight_estimator: Any = None, loss: str = "zero_one"):
        if loss not in ("zero_one", "log_loss"):
            raise ValueError(f"loss must be 'zero_one' or 'log_loss'; got {loss!r}.")
        self.weight_estimator = weight_estimator
        self.loss = loss

    def _weighted_losses(self, estimator, X, y, sd) -> tuple[np.ndarray, np.ndarray]:
        """Per-row losses on the source rows and their importance weights."""
        X_s, y_s = _source_rows(X, y, sd)
        w = _importance_weights(self.weight_estimator, X_s, y_s, X[sd != SOURCE])
        return _per_row_loss(estimator, X_s, y_s, sd[sd == SOURCE], self.loss), w

    def _score(self, estimator, X, y, sd):
        losses, w = self._weighted_losses(estimator, X, y, sd)
        risk = float(np.sum(w * losses) / np.sum(w))
        return 1.0 - risk if self.loss == "zero_one" else -risk


class DeepEmbeddedValidationScorer(ImportanceWeightedScorer):
    r"""Deep embedded validation (DEV): IWCV with a control variate.

    With :math:`L_i = w_i \ell_i` on held-out source rows and
    :math:`\eta = -\widehat{\mathrm{Cov}}(L, w) / \widehat{\mathrm{Var}}(w)`,

    .. math:: \hat R_{DEV} = \overline{L} + \eta\, \overline{w} - \eta

    which has the mean of IWCV (:math:`E[w] = 1`) and a lower variance. The score
    is ``-risk`` (higher is better). You et al. fit the domain classifier on a
    network's features; here it sees the rows the scorer is given (the input of
    the pipeline), with :class:`~domainadapt.instance.ClassifierDensityRatio` by
    default.

    Parameters
    ----------
    weight_estimator : InstanceAdapter, optional
    loss : {"log_loss", "zero_one"}, default="log_loss"

    References
    ----------
    K. You, X. Wang, M. Long, M. I. Jordan. "Towards accurate model selection in
    deep unsupervised domain adaptation". ICML 2019.

    Examples
    --------
    The score is a negated risk: a model trained on flipped labels scores lower.

    >>> import numpy as np
    >>> from domainadapt.model import NoAdaptation
    >>> rng = np.random.RandomState(0)
    >>> X_s, X_t = rng.randn(60, 2), rng.randn(60, 2) + 0.5
    >>> y_s = (X_s[:, 0] > 0).astype(int)
    >>> good = NoAdaptation().fit((X_s, y_s), X_t)
    >>> bad = NoAdaptation().fit((X_s, 1 - y_s), X_t)
    >>> X = np.vstack([X_s, X_t])
    >>> y = np.concatenate([y_s, np.full(60, -1)])
    >>> sd = np.array(["source"] * 60 + ["target"] * 60)
    >>> scorer = DeepEmbeddedValidationScorer()
    >>> scorer(bad, X, y, sample_domain=sd) < scorer(good, X, y, sample_domain=sd) < 0
    True
    """

    def __init__(self, weight_estimator: Any = None, loss: str = "log_loss"):
        super().__init__(weight_estimator, loss)

    def _score(self, estimator, X, y, sd):
        losses, w = self._weighted_losses(estimator, X, y, sd)
        return -dev_risk(losses, w / w.mean())


def dev_risk(losses: np.ndarray, weights: np.ndarray) -> float:
    r"""DEV's control-variate risk :math:`\overline{L} + \eta \overline{w} - \eta`, :math:`L = w \ell`."""
    losses = np.asarray(losses, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    L = weights * losses
    var_w = float(np.var(weights, ddof=1)) if len(weights) > 1 else 0.0
    if var_w <= 0:
        return float(L.mean())
    eta = -float(np.cov(L, weights, ddof=1)[0, 1]) / var_w
    return float(L.mean() + eta * weights.mean() - eta)


class PredictionEntropyScorer(DomainScorer):
    r"""Negative mean prediction entropy on the target rows.

    .. math:: s = -\frac1{n_T}\sum_{i \in T} H(p(\cdot|x_i)),\quad
              H(p) = -\sum_c p_c \log p_c

    Confident target predictions score high (Grandvalet & Bengio 2005; used as
    a selection criterion by Morerio et al. 2018). It uses no label at all, and
    a collapsed, confidently wrong model also scores high: read it together with
    a label-based scorer.

    References
    ----------
    Y. Grandvalet, Y. Bengio. "Semi-supervised learning by entropy
    minimization". NIPS 2005.
    P. Morerio, J. Cavazza, V. Murino. "Minimal-entropy correlation alignment for
    unsupervised deep domain adaptation". ICLR 2018.

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
    >>> score = PredictionEntropyScorer()(model, X, sample_domain=sd)  # no label read
    >>> bool(-np.log(2) <= score <= 0)  # two classes
    True
    """

    def _score(self, estimator, X, y, sd):
        target = sd != SOURCE
        proba = _call(estimator, "predict_proba", X[target], sd[target])
        return -float(_entropy(proba).mean())


class SoftNeighborhoodDensityScorer(DomainScorer):
    r"""Soft neighbourhood density (SND) of the target predictions.

    With :math:`p_i` the L2-normalised class probabilities of target row
    :math:`i`, :math:`M_{ij} = p_i^\top p_j` for :math:`i \ne j` and
    :math:`P = \mathrm{softmax}_j(M_{ij} / \tau)` row-wise,

    .. math:: \mathrm{SND} = \frac1{n_T}\sum_i H(P_{i\cdot})

    High when target rows sit in dense neighbourhoods of similar predictions
    (clustered, not collapsed). Higher is better.

    Parameters
    ----------
    temperature : float, default=0.05
        :math:`\tau` (the paper's value).
    max_rows : int, default=2000
        Target rows used (a deterministic subsample beyond), bounding memory at
        ``max_rows**2`` floats.

    References
    ----------
    K. Saito, D. Kim, P. Teterwak, S. Sclaroff, T. Darrell, K. Saenko. "Tune it
    the right way: unsupervised validation of domain adaptation via soft
    neighborhood density". ICCV 2021.

    Examples
    --------
    The entropy of a row's soft neighbourhood over the other 59 target rows:

    >>> import numpy as np
    >>> from domainadapt.model import NoAdaptation
    >>> rng = np.random.RandomState(0)
    >>> X_s, X_t = rng.randn(60, 2), rng.randn(60, 2) + 0.5
    >>> y_s = (X_s[:, 0] > 0).astype(int)
    >>> model = NoAdaptation().fit((X_s, y_s), X_t)
    >>> X = np.vstack([X_s, X_t])
    >>> sd = np.array(["source"] * 60 + ["target"] * 60)
    >>> score = SoftNeighborhoodDensityScorer()(model, X, sample_domain=sd)
    >>> bool(0 <= score <= np.log(59))
    True
    """

    def __init__(self, temperature: float = 0.05, max_rows: int = 2000):
        if not (isinstance(temperature, (int, float)) and temperature > 0):
            raise ValueError(f"temperature must be a number > 0; got {temperature!r}.")
        if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 2:
            raise ValueError(f"max_rows must be an integer >= 2; got {max_rows!r}.")
        self.temperature = temperature
        self.max_rows = max_rows

    def _score(self, estimator, X, y, sd):
        target = np.flatnonzero(sd != SOURCE)
        if len(target) > self.max_rows:
            target = np.sort(np.random.RandomState(0).choice(target, self.max_rows, replace=False))
        proba = _call(estimator, "predict_proba", X[target], sd[target])
        return soft_neighborhood_density(proba, self.temperature)


def soft_neighborhood_density(proba: np.ndarray, temperature: float = 0.05) -> float:
    """SND of a matrix of class probabilities (see :class:`SoftNeighborhoodDensityScorer`)."""
    P = np.asarray(proba, dtype=np.float64)
    if len(P) < 2:
        raise ValueError("soft neighbourhood density needs at least two target rows.")
    P = P / np.maximum(np.linalg.norm(P, axis=1, keepdims=True), 1e-12)
    M = (P @ P.T) / temperature
    np.fill_diagonal(M, -np.inf)
    M -= M.max(axis=1, keepdims=True)
    E = np.exp(M)
    E /= E.sum(axis=1, keepdims=True)
    return float(_entropy(E).mean())


class ReverseValidationScorer(DomainScorer):
    r"""Reverse validation: label the target, train back towards the source, test there.

    The fitted model labels the fold's target rows; a clone of it is then fitted
    with the roles swapped (the pseudo-labelled target rows as the labelled
    domain, the source rows as the unlabelled one) and its accuracy on the
    source labels is the score:

    .. math:: s = \frac1{n_S}\sum_{i\in S} 1[g(x_i) = y_i],\quad
              g = \mathrm{fit}(\{(x_j, f(x_j))\}_{j \in T} \to S)

    A plain scikit-learn estimator is simply refitted on the pseudo-labelled
    target rows.

    References
    ----------
    E. Zhong, W. Fan, Q. Yang, O. Verscheure, J. Ren. "Cross validation framework
    to choose amongst models and datasets for transfer learning". ECML PKDD 2010.

    Examples
    --------
    >>> import numpy as np
    >>> from domainadapt.model import NoAdaptation
    >>> rng = np.random.RandomState(0)
    >>> X_s, X_t = rng.randn(60, 2), rng.randn(60, 2) + 0.5
    >>> y_s = (X_s[:, 0] > 0).astype(int)
    >>> model = NoAdaptation().fit((X_s, y_s), X_t)
    >>> X = np.vstack([X_s, X_t])
    >>> y = np.concatenate([y_s, np.full(60, -1)])  # target labels are never read
    >>> sd = np.array(["source"] * 60 + ["target"] * 60)
    >>> score = ReverseValidationScorer()(model, X, y, sample_domain=sd)
    >>> 0.9 < score <= 1.0  # accuracy of the reverse model on the source labels
    True
    """

    needs_source = True

    def _row_values(self, estimator, X, y, sd):
        """1.0 for each held-out source row the reverse model labels right, else 0.0."""
        is_source = sd == SOURCE
        X_s, y_s = X[is_source], y[is_source]
        X_t = X[~is_source]
        sd_t = sd[~is_source]
        pseudo = _call(estimator, "predict", X_t, sd_t)
        labelled = sd_t == TARGET_LABELLED
        pseudo = np.where(labelled, y[~is_source], pseudo)
        if len(np.unique(pseudo)) < 2:  # a constant model: its reverse model is constant too
            return (y_s == pseudo[0]).astype(np.float64)
        reverse = clone(estimator)
        if accepts_sample_domain(reverse):
            X_rev = np.concatenate([X_t, X_s])
            y_rev = np.concatenate([pseudo, y_s])
            sd_rev = np.concatenate([np.full(len(X_t), SOURCE), np.full(len(X_s), TARGET)]).astype(
                str
            )
            reverse.fit(X_rev, y_rev, sample_domain=sd_rev)
            pred = reverse.predict(X_s, sample_domain=np.full(len(X_s), TARGET))
        else:
            if not is_classifier(reverse) and not hasattr(reverse, "predict"):
                raise TypeError("ReverseValidationScorer needs an estimator with fit/predict.")
            reverse.fit(X_t, pseudo)
            pred = reverse.predict(X_s)
        return (np.asarray(pred) == y_s).astype(np.float64)


def resolve_scorers(spec: Any) -> dict[str, Any]:
    """Scorers by name from a mapping ``name -> scorer`` or a sequence of names / scorers.

    Names are those of :func:`get_scorers`; a scorer object in a sequence is keyed by its
    class name. ``ValueError`` for unknown names, an empty spec or a non-callable scorer.
    """
    if isinstance(spec, str):
        raise ValueError("scorers must be a sequence of names or a mapping, not a string.")
    if isinstance(spec, Mapping):
        members = dict(spec)
    else:
        available = get_scorers()
        unknown = [s for s in spec if isinstance(s, str) and s not in available]
        if unknown:
            raise ValueError(
                f"scorers: unknown names {unknown}; choose from {sorted(available)}."
            )
        members = {(s if isinstance(s, str) else type(s).__name__):
                   (available[s] if isinstance(s, str) else s) for s in spec}
    if not members:
        raise ValueError("scorers must name at least one scorer.")
    for name, scorer in members.items():
        if not callable(scorer):
            raise ValueError(f"scorers[{name!r}] is not callable.")
    return members


def get_scorers() -> dict[str, DomainScorer]:
    """One instance of each scorer, by short name, with its default parameters.

    ``"iwcv"``, ``"dev"``, ``"entropy"``, ``"snd"``, ``"reverse"`` (reverse
    validation), ``"im"`` (information maximisation), ``"bnm"`` (batch nuclear
    norm), ``"corr_c"`` (softmax correlation), ``"mixval"``, ``"class_ami"``
    (:class:`~domainadapt.selection.ClassAMIScorer`) and ``"atc"``
    (:class:`~domainadapt.selection.ATCScorer`). A new dict of
    new objects on every call. To combine several over a set of candidates
    use :func:`~domainadapt.selection.rank_candidates`; the combination
    recommended by ``benchmarks/selection.py`` is
    :data:`~domainadapt.selection.RECOMMENDED_SCORERS`.
    """
    from ._atc import ATCScorer
    from ._class_ami import ClassAMIScorer
    from ._mixval import MixValScorer

    return {
        "iwcv": ImportanceWeightedScorer(),
        "dev": DeepEmbeddedValidationScorer(),
        "entropy": PredictionEntropyScorer(),
        "snd": SoftNeighborhoodDensityScorer(),
        "reverse": ReverseValidationScorer(),
        "im": InformationMaximizationScorer(),
        "bnm": BatchNuclearNormScorer(),
        "corr_c": SoftmaxCorrelationScorer(),
        "mixval": MixValScorer(),
        "class_ami": ClassAMIScorer(),
        "atc": ATCScorer(),
    }
