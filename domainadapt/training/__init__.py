"""The training engine shared by every deep strategy.

Public API
----------
DeepAdapter
    The base estimator of every deep strategy, whatever its family: subclass it
    with a method's parts and loss (see :mod:`~domainadapt.training.adapter`).
TrainConfig, TrainHooks, FitContext
    The engine's hyper-parameters, a method's callables (per-step loss, per-epoch
    hook ...) and the per-fit context the hooks read as ``state.context``.
Trainer, TrainState
    The one training loop (optimisers, LR schedule, device, mixed precision,
    gradient-reversal schedule, distributed gradient averaging, progress bar,
    callbacks, checkpoints, ``history_``) and what a method's loss sees.
Batch
    One batch of source and target rows.
Callback, EarlyStopping, Checkpoint, save_checkpoint, load_checkpoint
    Callbacks and the ``weights_only``-safe checkpoint files.
MLP, LeNet, Discriminator, infer_output_dim
    Networks.
lr_factor
    The learning-rate schedules.

A new deep method subclasses :class:`DeepAdapter`; see
:mod:`domainadapt.training.adapter` for the extension points.
"""

from .adapter import DeepAdapter
from .callbacks import Callback, Checkpoint, EarlyStopping, load_checkpoint, save_checkpoint
from .data import Batch
from .distributed import DistributedContext
from .engine import Trainer
from .hooks import FitContext, TrainConfig, TrainHooks, TrainState
from .networks import MLP, Discriminator, LeNet, infer_output_dim
from .optim import lr_factor

__all__ = [
    "Batch",
    "Callback",
    "Checkpoint",
    "DeepAdapter",
    "Discriminator",
    "DistributedContext",
    "EarlyStopping",
    "FitContext",
    "LeNet",
    "MLP",
    "TrainConfig",
    "TrainHooks",
    "TrainState",
    "Trainer",
    "infer_output_dim",
    "load_checkpoint",
    "lr_factor",
    "save_checkpoint",
]
