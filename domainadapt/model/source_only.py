"""The deep baseline: the network trained on the labelled rows only."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from ..training.data import Batch
from .deep import DeepAdapter

__all__ = ["SourceOnly"]


class SourceOnly(DeepAdapter):
    r"""Train the network on the labelled source (and labelled target) rows only.

    .. math:: \min_{\theta} \frac1{n_s}\sum_i w_i\,\ell\big(C(F(x^s_i)), y^s_i\big)

    The baseline of every deep table: the same network, optimiser and budget as
    the adaptation methods, without any alignment term. The unlabelled target rows
    are only used by callbacks (e.g. early stopping on target entropy).

    Parameters
    ----------
    **kwargs
        Parameters of :class:`~domainadapt.model.deep.DeepAdapter` (network,
        n_epochs, batch_size, lr, ..., random_state).
    """

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)

    def _training_loss(
        self, parts: nn.ModuleDict, batch: Batch, state: Any
    ) -> tuple[Tensor, dict[str, Any]]:
        logits_s = parts["classifier"](parts["features"](batch.source_x))
        logits_t = None
        if batch.target_labelled is not None:
            logits_t = parts["classifier"](parts["features"](batch.target_x))
        return self.classification_loss(logits_s, batch, logits_t), {}
