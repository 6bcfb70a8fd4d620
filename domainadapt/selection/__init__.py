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

from .distance import ShiftReport, domain_shift_report, proxy_a_distance
from .guard import NegativeTransferWarning, TransferReport, negative_transfer_report
from .scorers import (
    DeepEmbeddedValidationScorer,
    DomainScorer,
    ImportanceWeightedScorer,
    PredictionEntropyScorer,
    ReverseValidationScorer,
    SoftNeighborhoodDensityScorer,
    dev_risk,
    get_scorers,
    soft_neighborhood_density,
)

__all__ = [
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
    "proxy_a_distance",
    "soft_neighborhood_density",
]
