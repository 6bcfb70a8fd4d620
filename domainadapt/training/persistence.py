"""Saving and loading a fitted :class:`~domainadapt.training.DeepAdapter` as tensors.

The file is a dict of tensors and plain containers, readable with
``torch.load(weights_only=True)``: the class path, the plain parameters, the
fitted attributes and each part's state dict. Loading rebuilds the parts from the
parameters (the default MLP from the stored architecture) and loads the tensors.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted
from torch import nn

from .._utils import resolve_device
from .networks import MLP

if TYPE_CHECKING:  # pragma: no cover
    from .adapter import DeepAdapter

__all__ = ["SAVE_FORMAT", "PersistenceMixin", "load_adapter", "save_adapter"]

SAVE_FORMAT = 1


def _is_plain(v: Any) -> bool:
    if v is None or isinstance(v, (bool, int, float, str)):
        return True
    if isinstance(v, (list, tuple)):
        return all(_is_plain(x) for x in v)
    if isinstance(v, dict):
        return all(isinstance(k, (str, int)) and _is_plain(x) for k, x in v.items())
    return False


def plain_params(adapter: DeepAdapter) -> tuple[dict[str, Any], list[str]]:
    """Parameters storable weights-only, and the names of those that are not."""
    out, dropped = {}, []
    for k, v in adapter.get_params(deep=False).items():
        if isinstance(v, (Path, torch.device)):
            v = str(v)
        elif isinstance(v, np.integer):
            v = int(v)
        elif isinstance(v, np.floating):
            v = float(v)
        if _is_plain(v):
            out[k] = v
        else:
            dropped.append(k)
    return out, dropped


def default_architecture(adapter: DeepAdapter) -> dict[str, Any]:
    """What loading needs to rebuild the default MLP (read from the trained module)."""
    parts = adapter.parts_
    features = parts["features"] if "features" in parts else None
    if not isinstance(features, MLP) or adapter.network is not None:
        return {}
    drops = [m.p for m in features.modules() if isinstance(m, nn.Dropout)]
    return {
        "dropout": float(drops[0]) if drops else 0.0,
        "standardize": bool(features.standardizes),
    }


def save_adapter(adapter: DeepAdapter, path: str | Path) -> None:
    """Write the fitted ``adapter`` to ``path`` (see :meth:`DeepAdapter.save`)."""
    check_is_fitted(adapter, "parts_")
    if getattr(adapter, "estimator_", None) is not None:
        raise ValueError(
            "save() stores tensors only and cannot hold the scikit-learn estimator_; "
            "pickle the adapter instead."
        )
    params, dropped = plain_params(adapter)
    payload = {
        "format": SAVE_FORMAT,
        "class": f"{type(adapter).__module__}.{type(adapter).__qualname__}",
        "params": params,
        "dropped_params": dropped,
        "custom_network": adapter.network is not None,
        "classes": adapter.classes_.tolist(),
        "input_shape": list(adapter.input_shape_),
        "n_classes": int(adapter.n_classes_),
        "n_features_in": int(adapter.n_features_in_),
        "n_iter": int(adapter.n_iter_),
        "n_epochs": int(adapter.n_epochs_),
        "history": [dict(r) for r in adapter.history_],
        "architecture": default_architecture(adapter),
        "parts": {
            k: {n: t.detach().cpu() for n, t in m.state_dict().items()}
            for k, m in adapter.parts_.items()
        },
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(payload, path)


def load_adapter(
    cls: type[DeepAdapter],
    path: str | Path,
    network: nn.Module | None = None,
    device: Any = "cpu",
    **params: Any,
) -> DeepAdapter:
    """Read a model written by :func:`save_adapter` (see :meth:`DeepAdapter.load`)."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or state.get("format") != SAVE_FORMAT:
        raise ValueError(f"{path} is not a model written by DeepAdapter.save.")
    module, _, name = state["class"].rpartition(".")
    klass = getattr(importlib.import_module(module), name)
    if not issubclass(klass, cls):
        raise TypeError(f"{path} holds a {name}, not a {cls.__name__}.")
    if state["custom_network"] and network is None:
        raise ValueError(
            f"{path} was fitted with a custom network: pass network= (the same architecture)."
        )
    kwargs = dict(state["params"])
    kwargs.update(params)
    kwargs["network"] = network
    obj = klass(**kwargs)
    shape = tuple(state["input_shape"])
    arch = state.get("architecture") or {}
    if obj.network is None:
        # rebuild the default MLP as trained (the statistics come with the tensors)
        dropout = arch.get("dropout", obj.dropout)
        obj.dropout_ = 0.0 if dropout == "auto" else float(dropout)
        obj.standardize_ = bool(arch.get("standardize", False))
        n_in = int(np.prod(shape))
        obj.input_mean_ = np.zeros(n_in) if obj.standardize_ else None
        obj.input_scale_ = np.ones(n_in) if obj.standardize_ else None
    else:
        obj.dropout_, obj.standardize_ = None, False
        obj.input_mean_ = obj.input_scale_ = None
    with torch.random.fork_rng(devices=[]):
        # the saved tensors replace any starting point: no starting weights are read
        parts = obj._make_parts(shape, state["n_classes"], start_weights=False)
    for k, m in parts.items():
        m.load_state_dict(state["parts"][k])
    obj.parts_ = parts.to(resolve_device(device)).eval()
    obj._sync_input_statistics()
    obj.classes_ = np.asarray(state["classes"])
    obj.n_classes_ = state["n_classes"]
    obj.input_shape_ = shape
    obj.n_features_in_ = state["n_features_in"]
    obj.n_iter_ = state["n_iter"]
    obj.n_epochs_ = state["n_epochs"]
    obj.history_ = state["history"]
    return obj


class PersistenceMixin:
    """``save`` / ``load`` of a fitted deep adapter as a ``weights_only`` file."""

    def save(self, path: str | Path) -> None:
        """Write the fitted model to ``path``, readable with ``torch.load(weights_only=True)``.

        Parameters are kept when they are plain values (numbers, strings, tuples ...);
        the others (a custom ``network``, ``callbacks``, a ``RandomState``) must be passed
        again to :meth:`load` when needed. A fitted ``estimator_`` cannot be stored
        weights-only (pickle the adapter instead).
        """
        save_adapter(self, path)

    @classmethod
    def load(
        cls, path: str | Path, network: nn.Module | None = None, device: Any = "cpu", **params: Any
    ) -> DeepAdapter:
        """Read a model written by :meth:`save` (``torch.load(weights_only=True)``).

        Parameters
        ----------
        path : str or path
        network : nn.Module, optional
            The feature extractor (module or factory), when the model was fitted with
            a custom ``network`` (its weights are replaced by the saved ones).
        device : str or torch.device, default="cpu"
        **params
            Values of parameters that could not be stored (listed in the file's
            ``"dropped_params"``), e.g. ``callbacks``.
        """
        return load_adapter(cls, path, network, device, **params)
