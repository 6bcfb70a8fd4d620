"""The deep strategies' base estimator, re-exported for the model family.

:class:`DeepAdapter` is family-independent and lives in :mod:`domainadapt.training`
(:mod:`~domainadapt.training.adapter`), with its data conversion
(:mod:`~domainadapt.training.conversion`), its save/load
(:mod:`~domainadapt.training.persistence`) and the engine; any family subclasses it
from there. This module keeps the names importable from ``domainadapt.model.deep``.
"""

from __future__ import annotations

from .._utils import resolve_device
from ..training.adapter import DeepAdapter
from ..training.architecture import AUTO_DROPOUT
from ..training.conversion import input_statistics
from ..training.persistence import SAVE_FORMAT
from ..training.settings import AUTO_STEPS, training_context

__all__ = [
    "AUTO_DROPOUT",
    "AUTO_STEPS",
    "SAVE_FORMAT",
    "DeepAdapter",
    "input_statistics",
    "resolve_device",
    "training_context",
]
