"""Resolving a :class:`~domainadapt.training.DeepAdapter`'s settings before training.

Parameter checks, the seed, the number of epochs (``n_epochs=None``), the
hyper-parameters handed to the engine and the seeded context training runs in.
"""

from __future__ import annotations

import contextlib
import math
import numbers
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from sklearn.utils import check_random_state

from .._utils import check_int, check_positive
from .data import LoaderData
from .hooks import TrainConfig
from .optim import LR_SCHEDULES, OPTIMIZERS

if TYPE_CHECKING:  # pragma: no cover
    from .adapter import DeepAdapter

__all__ = [
    "AUTO_STEPS",
    "check_deep_params",
    "make_train_config",
    "resolve_epochs",
    "resolve_seed",
    "training_context",
]

#: Optimisation iterations aimed at when ``n_epochs=None``.
AUTO_STEPS = 600


@contextlib.contextmanager
def training_context(seed: int, device: torch.device, n_threads: int | None) -> Iterator[None]:
    """Seed torch inside a forked RNG (the global state is restored on exit), and
    optionally set the thread count and deterministic cuDNN for the duration."""
    devices = (
        [device.index if device.index is not None else torch.cuda.current_device()]
        if (device.type == "cuda")
        else []
    )
    prev_threads = torch.get_num_threads()
    prev_cudnn = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    with torch.random.fork_rng(devices=devices):
        try:
            torch.manual_seed(seed)
            if n_threads is not None:
                torch.set_num_threads(n_threads)
            if device.type == "cuda":
                torch.backends.cudnn.deterministic = True
                torch.backends.cudnn.benchmark = False
            yield
        finally:
            if n_threads is not None:
                torch.set_num_threads(prev_threads)
            torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = prev_cudnn


def resolve_seed(random_state: Any) -> int:
    """An integer seed from ``random_state`` (an int is kept, modulo :math:`2^{62}`)."""
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        return int(random_state) % (2**62)
    return int(check_random_state(random_state).randint(0, 2**31 - 1))


def resolve_epochs(n_epochs: int | None, source: Any, batch_size: int) -> int:
    """``n_epochs``, or enough epochs for about :data:`AUTO_STEPS` iterations (5 to 200)."""
    if n_epochs is not None:
        return int(n_epochs)
    if isinstance(source, LoaderData):
        spe = source.n_batches or 1
    else:
        spe = max(1, len(source) // batch_size)
    return int(min(200, max(5, math.ceil(AUTO_STEPS / spe))))


def make_train_config(adapter: DeepAdapter, n_epochs: int) -> TrainConfig:
    """The engine's hyper-parameters, read from the adapter's parameters once."""
    a = adapter
    return TrainConfig(
        n_epochs=n_epochs,
        batch_size=int(a.batch_size),
        lr=a.lr,
        optimizer=a.optimizer,
        momentum=a.momentum,
        weight_decay=a.weight_decay,
        lr_schedule=a.lr_schedule,
        max_grad_norm=a.max_grad_norm,
        mixed_precision=bool(a.mixed_precision),
        progress=a.progress,
        num_workers=int(a.num_workers),
        name=type(a).__name__,
    )


def check_deep_params(adapter: DeepAdapter) -> None:
    """Check the parameters every deep adapter shares (``ValueError`` / ``TypeError``)."""
    a = adapter
    if a.dropout != "auto" and (
        isinstance(a.dropout, bool) or not isinstance(a.dropout, numbers.Real)
        or not 0 <= a.dropout < 1
    ):
        raise ValueError(f"dropout must be 'auto' or a float in [0, 1); got {a.dropout!r}.")
    if not (a.standardize == "auto" or isinstance(a.standardize, (bool, np.bool_))):
        raise ValueError(f"standardize must be 'auto', True or False; got {a.standardize!r}.")
    if a.standardize != "auto" and bool(a.standardize) and a.network is not None:
        raise ValueError(
            "standardize=True applies to the default MLP only (network=None); a custom "
            "network normalises its own inputs."
        )
    check_int("batch_size", a.batch_size, 1)
    if a.n_epochs is not None:
        check_int("n_epochs", a.n_epochs, 1)
    check_positive("lr", a.lr)
    check_positive("weight_decay", a.weight_decay, allow_zero=True)
    check_positive("momentum", a.momentum, allow_zero=True)
    if a.max_grad_norm is not None:
        check_positive("max_grad_norm", a.max_grad_norm)
    if a.optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be 'adam', 'adamw' or 'sgd'; got {a.optimizer!r}.")
    if a.lr_schedule not in LR_SCHEDULES:
        raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}; got {a.lr_schedule!r}.")
    check_int("num_workers", a.num_workers, 0)
    if a.n_threads is not None:
        check_int("n_threads", a.n_threads, 1)
    if a.checkpoint_every is not None:
        check_int("checkpoint_every", a.checkpoint_every, 1)
    if a.resume not in (True, False, "auto"):
        raise ValueError(f"resume must be True, False or 'auto'; got {a.resume!r}.")
    if a.resume is not False and a.checkpoint_dir is None:
        raise ValueError("resume needs checkpoint_dir (where the checkpoint is).")
    if a.callbacks is not None and not isinstance(a.callbacks, (list, tuple)):
        raise TypeError("callbacks must be a list of callback objects or None.")
