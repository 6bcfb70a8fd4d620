"""The parts of a deep strategy: the feature extractor (``network`` or the default
MLP, whose ``dropout`` and ``standardize`` are resolved from the data) and the
checked ``nn.ModuleDict`` the engine trains."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from .conversion import input_statistics
from .data import LoaderData
from .networks import MLP, _check_sizes, infer_output_dim

__all__ = ["AUTO_DROPOUT", "DefaultNetworkMixin", "build_network", "resolve_dropout"]

#: Dropout of the default MLP with ``dropout="auto"`` when its input layer has more
#: weights than there are labelled rows.
AUTO_DROPOUT = 0.5


def resolve_dropout(
    dropout: float | str, source: Any, batch_size: int, hidden_sizes: Sequence[int],
    input_shape: tuple[int, ...],
) -> float:
    """The default MLP's dropout: ``dropout``, or for ``"auto"`` :data:`AUTO_DROPOUT`
    when the input layer has more weights than there are labelled rows, else 0."""
    if dropout != "auto":
        return float(dropout)
    if isinstance(source, LoaderData):
        n_rows = (source.n_batches or 1) * batch_size
    else:
        n_rows = len(source)
    sizes = _check_sizes("hidden_sizes", hidden_sizes)
    n_weights = int(np.prod(input_shape)) * sizes[0] if sizes else 0
    return AUTO_DROPOUT if n_weights > n_rows else 0.0


def build_network(
    network: Any,
    input_shape: tuple[int, ...],
    hidden_sizes: Sequence[int],
    dropout: float,
    input_mean: np.ndarray | None = None,
    input_scale: np.ndarray | None = None,
    norm: str | None = None,
) -> tuple[nn.Module, int]:
    """The feature extractor and its output width.

    ``network=None``: the default :class:`~domainadapt.training.MLP` (with ``norm``
    layers, see the MLP); a module is
    deep-copied; a class or factory is called (under the caller's seeded context).
    """
    if network is None:
        mlp = MLP(
            int(np.prod(input_shape)),
            hidden_sizes,
            dropout,
            input_mean=input_mean,
            input_scale=None if input_mean is None else input_scale,
            norm=norm,
        )
        return mlp, mlp.out_features
    if isinstance(network, nn.Module):
        features = copy.deepcopy(network)
    elif callable(network):  # a class or factory: built here, under random_state
        features = network()
        if not isinstance(features, nn.Module):
            raise TypeError(
                f"network() must return a torch.nn.Module; got {type(features).__name__}."
            )
    else:
        raise TypeError(
            "network must be a torch.nn.Module, a callable returning one, or None; got "
            f"{type(network).__name__}."
        )
    dim = infer_output_dim(features, torch.zeros((2, *input_shape)), "network")
    return features, dim


class DefaultNetworkMixin:
    """Builds the parts of a :class:`~domainadapt.training.DeepAdapter`, and resolves
    and records the default MLP's architecture (``dropout_``, ``standardize_``,
    ``input_mean_``, ``input_scale_``)."""

    def _network(self) -> Any:
        """What the feature extractor is built from (default: ``network``)."""
        return self.network

    def _build_features(self, input_shape: tuple[int, ...]) -> tuple[nn.Module, int]:
        """The feature extractor and its output width (``network`` or the default MLP)."""
        dropout = getattr(self, "dropout_", None)
        if dropout is None:  # not resolved from data (a subclass building parts itself)
            dropout = 0.0 if self.dropout == "auto" else self.dropout
        standardize = getattr(self, "standardize_", False)
        return build_network(
            self._network(),
            input_shape,
            self.hidden_sizes,
            dropout,
            self.input_mean_ if standardize else None,
            self.input_scale_ if standardize else None,
            self._mlp_norm(),
        )

    def _mlp_norm(self) -> str | None:
        """Normalisation layers of the default MLP (``None``: none; TENT asks for them)."""
        return None

    def _build_parts(self, input_shape: tuple[int, ...], n_classes: int) -> dict[str, nn.Module]:
        """Modules of the method: by default ``features`` and a linear ``classifier``."""
        features, dim = self._build_features(input_shape)
        return {"features": features, "classifier": nn.Linear(dim, n_classes)}

    def _make_parts(
        self, input_shape: tuple[int, ...], n_classes: int, *, start_weights: bool = True
    ) -> nn.ModuleDict:
        """``_build_parts`` as a checked ``nn.ModuleDict`` in training mode.

        ``start_weights=False`` when every tensor is about to be replaced (``load``):
        a subclass that copies starting weights in (FineTuning) then skips them.
        """
        parts = self._build_parts(tuple(input_shape), n_classes)
        if not isinstance(parts, dict) or not all(isinstance(m, nn.Module) for m in parts.values()):
            raise TypeError("_build_parts must return a dict of name -> nn.Module.")
        parts = nn.ModuleDict(parts)
        x = torch.zeros((2, *input_shape))
        parts.eval()
        try:
            with torch.no_grad():
                out = self._predict_logits(parts, x)
        except ValueError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise ValueError(
                f"the model of {type(self).__name__} cannot process inputs of shape "
                f"{tuple(input_shape)}: {type(exc).__name__}: {exc}"
            ) from None
        parts.train()
        if tuple(out.shape) != (2, n_classes):
            raise ValueError(
                f"the classifier outputs {tuple(out.shape[1:])} scores per row, but the data "
                f"have {n_classes} classes."
            )
        return parts

    def _resolve_architecture(self, source: Any, target: Any, input_shape: tuple[int, ...]) -> None:
        """Resolve ``dropout`` and ``standardize`` from the data (``dropout_``,
        ``standardize_``, ``input_mean_``, ``input_scale_``)."""
        default_mlp = self.network is None
        if not default_mlp:
            self.dropout_ = None
        else:
            self.dropout_ = resolve_dropout(
                self.dropout, source, self.batch_size, self.hidden_sizes, input_shape
            )
        self.standardize_ = bool(default_mlp if self.standardize == "auto" else self.standardize)
        if self.standardize_:
            self.input_mean_, self.input_scale_ = input_statistics(source, target)
        else:
            self.input_mean_ = self.input_scale_ = None

    def _sync_input_statistics(self) -> None:
        """Read ``input_mean_`` / ``input_scale_`` back from the trained MLP's buffers (a
        subclass may load them from a starting point, e.g. FineTuning)."""
        features = self.parts_["features"] if "features" in self.parts_ else None
        if isinstance(features, MLP) and features.standardizes:
            self.standardize_ = True
            self.input_mean_ = features.input_mean.detach().cpu().numpy().astype(np.float64)
            self.input_scale_ = features.input_scale.detach().cpu().numpy().astype(np.float64)
        else:
            self.standardize_ = False
            self.input_mean_ = self.input_scale_ = None
