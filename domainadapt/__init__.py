"""domainadapt: domain adaptation strategies for scikit-learn and PyTorch.

Every strategy is fitted with ``fit(source, target)``; see :mod:`domainadapt.base`
for the contract and the stacked ``sample_domain`` form used inside scikit-learn.
Subpackages: :mod:`~domainadapt.instance`, :mod:`~domainadapt.feature`,
:mod:`~domainadapt.model`, :mod:`~domainadapt.ops` (torch ops),
:mod:`~domainadapt.datasets`.
"""

from ._domain import SOURCE, TARGET, TARGET_LABELLED, UNLABELLED, Domain
from .exceptions import NotApplicableWarning
from .pipeline import DAPipeline, make_da_pipeline

__version__ = "0.2.0"

__all__ = [
    "Domain",
    "DAPipeline",
    "make_da_pipeline",
    "NotApplicableWarning",
    "SOURCE",
    "TARGET",
    "TARGET_LABELLED",
    "UNLABELLED",
    "__version__",
]
