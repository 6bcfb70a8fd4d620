"""One forward pass of a batch's source and target rows together.

The deep methods whose loss reads both domains' activations (DAN/JAN/DCORAL, DANN,
CDAN, CAN, relation distillation) start their ``_training_loss`` the same way; this is
that start, written once.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from .data import Batch

__all__ = ["forward_joint"]


def forward_joint(
    adapter: Any, parts: nn.ModuleDict, batch: Batch
) -> tuple[Tensor, Tensor, Tensor]:
    """Features and logits of the batch's rows, and the supervised loss.

    The source rows and the target rows go through ``parts["features"]`` and
    ``parts["classifier"]`` in one pass (the first ``batch.n_source`` rows are the
    source ones).

    Parameters
    ----------
    adapter : DeepAdapter
        The method; its ``classification_loss`` gives the supervised loss.
    parts : nn.ModuleDict
        The modules, with ``"features"`` and ``"classifier"``.
    batch : Batch
        One batch of source and target rows.

    Returns
    -------
    f : Tensor of shape (n_source + n_target, d)
        The features, flattened.
    logits : Tensor of shape (n_source + n_target, n_classes)
    cls : Tensor
        ``adapter.classification_loss``: the source rows, and the labelled target
        rows when the batch has any.
    """
    f = parts["features"](torch.cat([batch.source_x, batch.target_x])).flatten(1)
    logits = parts["classifier"](f)
    ns = batch.n_source
    logits_t = logits[ns:] if batch.target_labelled is not None else None
    return f, logits, adapter.classification_loss(logits[:ns], batch, logits_t)
