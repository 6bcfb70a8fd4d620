"""Optimisers and learning-rate schedules of the training engine."""

from __future__ import annotations

import math
from typing import Any

import torch

__all__ = ["LR_SCHEDULES", "OPTIMIZERS", "lr_factor", "make_optimizer"]

LR_SCHEDULES = (None, "inverse", "cosine")
OPTIMIZERS = ("adam", "adamw", "sgd")


def lr_factor(schedule: str | None, progress: float) -> float:
    """Learning-rate multiplier at training progress ``p`` in [0, 1].

    ``"inverse"``: :math:`(1 + 10p)^{-0.75}` (Ganin et al., JMLR 2016; Long et al.,
    NeurIPS 2018); ``"cosine"``: :math:`(1 + \\cos \\pi p)/2`; ``None``: 1.
    """
    if schedule is None:
        return 1.0
    if schedule == "inverse":
        return (1.0 + 10.0 * progress) ** -0.75
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}; got {schedule!r}.")


def make_optimizer(
    name: str, groups: list[dict[str, Any]], lr: float, weight_decay: float, momentum: float
) -> torch.optim.Optimizer:
    """``"adam"``, ``"adamw"`` or ``"sgd"`` (with ``momentum``, Nesterov off)."""
    if name == "adam":
        return torch.optim.Adam(groups, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=momentum, weight_decay=weight_decay)
    raise ValueError(f"optimizer must be 'adam', 'adamw' or 'sgd'; got {name!r}.")
