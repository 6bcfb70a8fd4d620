"""``fit`` of a :class:`~domainadapt.training.DeepAdapter`: from its inputs to ``_train``.

The three forms ``fit`` accepts (``fit(source, target)`` with arrays or
:class:`~domainadapt.Domain` objects, the stacked ``fit(X, y, sample_domain=...)``,
and ``torch.utils.data.Dataset``/``DataLoader`` objects) are validated here and
become engine data (:mod:`~domainadapt.training.conversion`); the host class
trains on them with ``_train(source, target, n_classes, input_shape)``.
"""

from __future__ import annotations

from typing import Any, TypeVar

import numpy as np

from .._domain import SOURCE, Domain
from ..validation import check_domain, check_sample_domain
from .conversion import as_data, domains_to_data, resolve_n_classes
from .data import is_torch_data

__all__ = ["FitInputMixin"]

_Self = TypeVar("_Self", bound="FitInputMixin")


class FitInputMixin:
    """``fit`` of a deep strategy: validates its inputs and hands engine data to ``_train``."""

    def fit(
        self: _Self,
        source: Any,
        target: Any = None,
        sample_domain: Any = None,
        sample_weight: Any = None,
    ) -> _Self:
        """Train on labelled source rows and (mostly unlabelled) target rows.

        Parameters
        ----------
        source : Domain, tuple (X, y[, w]), Dataset or DataLoader
            The labelled source; in the stacked form, all rows ``X``.
        target : Domain, array-like, (X, y), Dataset or DataLoader
            The target (``-1`` labels mark unlabelled rows); in the stacked form, ``y``.
        sample_domain : array-like of str, optional
            Stacked form only.
        sample_weight : array-like, optional
            Importance weights of the source rows (of every row in the stacked form;
            only the source rows' are used), e.g. ``domainadapt.instance`` weights.
            They multiply ``source.sample_weight``.

        Returns
        -------
        self
        """
        self._validate_params()
        if is_torch_data(source) or is_torch_data(target):
            if sample_domain is not None:
                raise ValueError("sample_domain cannot be used with Dataset/DataLoader inputs.")
            if sample_weight is not None:
                raise ValueError(
                    "sample_weight cannot be used with Dataset/DataLoader inputs: give the "
                    "source items as (x, y, weight)."
                )
            self._fit_torch_data(source, target)
            return self
        src, tgt = self._validate_fit_input(source, target, sample_domain)
        if sample_weight is not None:
            w = np.asarray(sample_weight, dtype=np.float64).reshape(-1)
            if sample_domain is not None:
                sd = check_sample_domain(sample_domain, len(w))
                w = w[sd == SOURCE]
            sw = w if src.sample_weight is None else w * src.sample_weight
            src = check_domain(
                Domain(src.X, src.y, sample_weight=sw), "source", require_labels=True,
                allow_nd=True,
            )
        self.n_features_in_ = int(np.prod(src.X.shape[1:]))
        self._fit(src, tgt)
        return self

    def _fit(self, source: Domain, target: Domain) -> None:
        src, tgt, classes = domains_to_data(source, target, type(self).__name__)
        self.classes_ = classes
        self._train(src, tgt, len(classes), source.X.shape[1:])

    def _fit_torch_data(self, source: Any, target: Any) -> None:
        if target is None:
            raise ValueError("target is missing: fit(source, target) needs target data.")
        src = as_data(source, "source", self.num_workers)
        tgt = as_data(target, "target", self.num_workers)
        if src.sample_shape != tgt.sample_shape:
            raise ValueError(
                "source and target have different feature shapes: "
                f"{src.sample_shape} vs {tgt.sample_shape}."
            )
        n_classes = resolve_n_classes(src, self.n_classes)
        self.classes_ = np.arange(n_classes)
        self.n_features_in_ = int(np.prod(src.sample_shape))
        self._train(src, tgt, n_classes, src.sample_shape)
