"""The training engine shared by every deep strategy.

Public API
----------
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

A new deep method subclasses :class:`domainadapt.model.deep.DeepAdapter`; see its
module docstring for the extension points.
"""

from .callbacks import Callback, Checkpoint, EarlyStopping, load_checkpoint, save_checkpoint
from .data import Batch
from .distributed import DistributedContext
from .engine import Trainer, TrainState, lr_factor
from .networks import MLP, Discriminator, LeNet, infer_output_dim

__all__ = [
    "Batch",
    "Callback",
    "Checkpoint",
    "Discriminator",
    "DistributedContext",
    "EarlyStopping",
    "LeNet",
    "MLP",
    "TrainState",
    "Trainer",
    "infer_output_dim",
    "load_checkpoint",
    "lr_factor",
    "save_checkpoint",
]
