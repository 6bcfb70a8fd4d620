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

import torch
from sklearn.utils import check_random_state

from .data import LoaderData
from .hooks import TrainConfig

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
    """Check the combinations of parameters every deep adapter shares.

    Each parameter's own range is declared in ``DeepAdapter._parameter_constraints``
    (checked when ``fit`` starts); what is left here relates two parameters.
    """
    a = adapter
    if a.standardize != "auto" and bool(a.standardize) and a.network is not None:
        raise ValueError(
            "standardize=True applies to the default MLP only (network=None); a custom "
            "network normalises its own inputs."
        )
    if a.resume is not False and a.checkpoint_dir is None:
        raise ValueError("resume needs checkpoint_dir (where the checkpoint is).")
