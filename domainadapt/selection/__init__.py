"""Unsupervised model selection and shift diagnostics.

Scorers for ``GridSearchCV(scoring=...)`` that never read target labels
(:mod:`~domainadapt.selection.scorers`), distances between domains
(:func:`proxy_a_distance`, :func:`domain_shift_report`) and a negative-transfer
guard (:func:`negative_transfer_report`).

The scorers read ``sample_domain`` (which rows are source, which are target)
from metadata routing: use them inside
``sklearn.config_context(enable_metadata_routing=True)`` and pass
``sample_domain=`` to ``GridSearchCV.fit`` / ``cross_val_score(params=...)``;
they request it by default. Without routing scikit-learn hands them no
``sample_domain`` and they raise a ``ValueError`` rather than score source and
target rows alike (``GridSearchCV`` turns that into NaN scores with a warning
unless ``error_score="raise"``).
"""

from ._atc import ATCScorer, atc_threshold, average_thresholded_confidence
from ._class_ami import ClassAMIScorer, class_ami
from ._ensemble import (
    RECOMMENDED_SCORERS,
    CandidateRanking,
    EnsembleScorer,
    ensemble_validation,
    rank_candidates,
)
from ._mixval import MixValScorer, mixval_scores
from .auto import AutoAdapter
from .distance import ShiftReport, domain_shift_report, proxy_a_distance
from .guard import (
    NegativeTransferWarning,
    TransferReport,
    combined_evidence,
    negative_transfer_report,
    paired_z,
)
from .scorers import (
    BatchNuclearNormScorer,
    DeepEmbeddedValidationScorer,
    DomainScorer,
    ImportanceWeightedScorer,
    InformationMaximizationScorer,
    PredictionEntropyScorer,
    ReverseValidationScorer,
    SoftmaxCorrelationScorer,
    SoftNeighborhoodDensityScorer,
    batch_nuclear_norm,
    dev_risk,
    get_scorers,
    information_maximization,
    soft_neighborhood_density,
    softmax_correlation,
)

__all__ = [
    "AutoAdapter",
    "ATCScorer",
    "atc_threshold",
    "average_thresholded_confidence",
    "RECOMMENDED_SCORERS",
    "BatchNuclearNormScorer",
    "CandidateRanking",
    "ClassAMIScorer",
    "class_ami",
    "EnsembleScorer",
    "ensemble_validation",
    "InformationMaximizationScorer",
    "MixValScorer",
    "SoftmaxCorrelationScorer",
    "batch_nuclear_norm",
    "information_maximization",
    "mixval_scores",
    "rank_candidates",
    "softmax_correlation",
    "DeepEmbeddedValidationScorer",
    "DomainScorer",
    "ImportanceWeightedScorer",
    "NegativeTransferWarning",
    "PredictionEntropyScorer",
    "ReverseValidationScorer",
    "ShiftReport",
    "SoftNeighborhoodDensityScorer",
    "TransferReport",
    "dev_risk",
    "domain_shift_report",
    "get_scorers",
    "negative_transfer_report",
    "paired_z",
    "combined_evidence",
    "proxy_a_distance",
    "soft_neighborhood_density",
]

from ..registry import register_adapter  # noqa: E402

register_adapter(
    "auto",
    "model",
    lambda estimator, random_state: AutoAdapter(estimator=estimator, random_state=random_state),
    description="Automatic choice among the portfolio by unsupervised scores, with a "
    "negative-transfer guard",
    # it fits the whole portfolio: benchmarks/auto.py measures it against each strategy
    benchmark=False,
    stochastic=True,
    test_params={"candidates": ["no_adaptation", "coral", "kliep"]},
)
