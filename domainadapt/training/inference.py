"""Inference of a fitted :class:`~domainadapt.training.DeepAdapter`: class scores,
probabilities, labels and the learned representation, through the trained parts
(or through the scikit-learn ``estimator_`` fitted on the learned features)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted
from torch import Tensor

from ..base import _fit_with_weights
from .conversion import iter_rows, predict_batches

__all__ = ["NetworkInferenceMixin"]


class NetworkInferenceMixin:
    """``predict``, ``predict_proba``, ``decision_function`` and ``transform`` of a
    model whose trained modules are ``parts_``."""

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        parts = state.get("parts_")
        if parts is not None and any(p.device.type != "cpu" for p in parts.parameters()):
            state["parts_"] = copy.deepcopy(parts).cpu()
        return state

    def _require_estimator(self) -> Any:  # predict goes through the network
        check_is_fitted(self, "parts_")
        return None

    @property
    def _device_(self) -> torch.device:
        return next(iter(self.parts_.parameters())).device

    def _batches_for_predict(self, X: Any, chunk: int = 1024) -> Iterator[Tensor]:
        return predict_batches(X, self.input_shape_, self._check_X, type(self).__name__, chunk)

    @torch.no_grad()
    def _apply(self, X: Any, fn: Callable[[Any, Tensor], Tensor]) -> np.ndarray:
        check_is_fitted(self, "parts_")
        self.parts_.eval()
        dev = self._device_
        out = [fn(self.parts_, x.to(dev)).float().cpu() for x in self._batches_for_predict(X)]
        return torch.cat(out).numpy().astype(np.float64)

    def _transform_tensor(self, x: Tensor) -> np.ndarray:
        self.parts_.eval()
        with torch.no_grad():
            feats = self._features(self.parts_, x.to(self._device_))
            return feats.float().cpu().numpy().astype(np.float64)

    def _fit_estimator(self, source: Any, target: Any) -> None:
        """Fit ``estimator_`` on the learned features of the labelled rows."""
        feats, ys, ws = [], [], []
        for x, y, w in iter_rows(source):
            feats.append(self._transform_tensor(x))
            ys.append(y.numpy())
            ws.append(np.ones(len(y)) if w is None else w.numpy().astype(np.float64))
        for x, y, _ in iter_rows(target):
            if y is None:
                continue
            keep = (y >= 0).numpy()
            if keep.any():
                feats.append(self._transform_tensor(x)[keep])
                ys.append(y.numpy()[keep])
                ws.append(np.ones(int(keep.sum())))
        F_, y_, w_ = np.concatenate(feats), self.classes_[np.concatenate(ys)], np.concatenate(ws)
        w_ = None if np.all(w_ == 1) else w_
        self.estimator_ = _fit_with_weights(clone(self.estimator), F_, y_, w_)

    def decision_function(self, X: Any, sample_domain: Any = None) -> np.ndarray:
        """Class scores (logits) of the network for target rows."""
        return self._apply(X, self._predict_logits)

    def predict_proba(self, X: Any, sample_domain: Any = None) -> np.ndarray:
        """Class probabilities (softmax of the network's scores, or ``estimator_``'s)."""
        check_is_fitted(self, "parts_")
        if getattr(self, "estimator_", None) is not None:
            return self.estimator_.predict_proba(self.transform(X))
        return self._apply(X, lambda parts, x: F.softmax(self._predict_logits(parts, x).float(), 1))

    def predict(self, X: Any, sample_domain: Any = None) -> np.ndarray:
        """Predicted class labels of target rows."""
        check_is_fitted(self, "parts_")
        if getattr(self, "estimator_", None) is not None:
            return self.estimator_.predict(self.transform(X))
        return self.classes_[self.decision_function(X).argmax(1)]

    def transform(self, X: Any, sample_domain: Any = None) -> np.ndarray:
        """The learned representation (output of the ``features`` part, flattened)."""
        return self._apply(X, self._features)
