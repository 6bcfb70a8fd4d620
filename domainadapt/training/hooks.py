"""What the training engine and a method exchange.

:class:`TrainConfig` holds the hyper-parameters the engine needs, :class:`TrainHooks`
the method's callables (its loss, its per-epoch hook ...), :class:`TrainState` what a
hook sees besides its parts and the batch, and :class:`FitContext` the state of one
``fit`` call (its data, and whatever a method keeps for the duration of the fit, in a
subclass) so that nothing temporary is stored on the estimator.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from ..ops import ReversalSchedule
from .data import Batch

if TYPE_CHECKING:  # pragma: no cover
    from .engine import Trainer

__all__ = ["FitContext", "TrainConfig", "TrainHooks", "TrainState"]


@dataclass(frozen=True)
class TrainConfig:
    """The hyper-parameters of one training run.

    Parameters
    ----------
    n_epochs : int
        Passes over the source.
    batch_size : int
        Rows per iteration from each domain (the global batch under
        ``torch.distributed``).
    lr : float, default=1e-3
        Base learning rate of every optimiser (a parameter group may set its own).
    optimizer : {"adam", "adamw", "sgd"}, default="adam"
    momentum : float, default=0.9
        Momentum of SGD.
    weight_decay : float, default=0.0
    lr_schedule : {None, "inverse", "cosine"}, default=None
        See :func:`~domainadapt.training.lr_factor`.
    max_grad_norm : float, optional
        Clip the gradient norm of the parameters stepped.
    mixed_precision : bool, default=False
        ``torch.autocast`` (bfloat16 on CPU; float16 with a gradient scaler on CUDA).
    progress : bool, optional
        tqdm progress bar; ``None``: only when stderr is a TTY.
    num_workers : int, default=0
        DataLoader workers for Dataset inputs.
    name : str, default="model"
        Name of the method: progress bar, error messages and checkpoint metadata
        (a checkpoint is resumed only by a run of the same name).
    """

    n_epochs: int
    batch_size: int
    lr: float = 1e-3
    optimizer: str = "adam"
    momentum: float = 0.9
    weight_decay: float = 0.0
    lr_schedule: str | None = None
    max_grad_norm: float | None = None
    mixed_precision: bool = False
    progress: bool | None = None
    num_workers: int = 0
    name: str = "model"


def _default_param_groups(parts: nn.ModuleDict) -> dict[str, list[dict[str, Any]]]:
    return {"main": [{"params": [p for p in parts.parameters() if p.requires_grad]}]}


@dataclass(frozen=True)
class TrainHooks:
    """A method's callables, called by the engine.

    Parameters
    ----------
    predict_logits : callable ``(parts, x) -> Tensor``
        Class scores (evaluation mode, no gradient): callbacks' source loss and
        target entropy.
    loss : callable ``(parts, batch, state) -> (loss, logs)``, optional
        The per-step loss: a 0-dim tensor and a dict of values to log (tensors or
        floats, averaged per epoch into the history). The engine back-propagates it
        and steps the ``"main"`` optimiser, and logs it as ``"loss"``.
    step : callable ``(parts, batch, state) -> logs``, optional
        The whole iteration instead of ``loss``, for methods taking several
        optimisation steps per batch (``state.optimize(loss, names)`` for each).
        One of ``loss`` and ``step`` is needed; ``step`` wins.
    param_groups : callable ``(parts) -> dict``, optional
        Named optimisers and their parameter groups; default: one optimiser,
        ``"main"``, over every trainable parameter.
    reversal_schedule : callable ``(max_steps) -> ReversalSchedule or None``, optional
        A gradient-reversal schedule the engine steps once per iteration.
    on_epoch_start : callable ``(parts, state) -> None``, optional
        Called at the start of every epoch, before its first batch (also when a run
        resumes in the middle of an epoch: ``state.step_in_epoch`` is then > 0), e.g.
        to cluster the whole target or to unfreeze layers.
    """

    predict_logits: Callable[[nn.ModuleDict, Tensor], Tensor]
    loss: Callable[[nn.ModuleDict, Batch, TrainState], tuple[Tensor, dict[str, Any]]] | None = None
    step: Callable[[nn.ModuleDict, Batch, TrainState], dict[str, Any]] | None = None
    param_groups: Callable[[nn.ModuleDict], dict[str, list[Any]]] = _default_param_groups
    reversal_schedule: Callable[[int], ReversalSchedule | None] | None = None
    on_epoch_start: Callable[[nn.ModuleDict, TrainState], None] | None = None

    def __post_init__(self) -> None:
        if self.loss is None and self.step is None:
            raise TypeError("TrainHooks needs a per-step loss or a step callable.")

    def run_step(self, parts: nn.ModuleDict, batch: Batch, state: TrainState) -> dict[str, Any]:
        """One iteration: ``step``, or ``loss`` followed by one optimisation step."""
        if self.step is not None:
            return self.step(parts, batch, state)
        loss, logs = self.loss(parts, batch, state)
        state.optimize(loss)
        return {"loss": loss.detach(), **logs}


@dataclass
class FitContext:
    """The state of one ``fit`` call, alive for that call only.

    Methods that need more for the duration of a fit (a frozen teacher, a log of
    clusterings) subclass it; hooks read it as ``state.context``.

    Attributes
    ----------
    source, target : ArrayData, DatasetData or LoaderData
        The training data (source without any held-out rows).
    n_classes : int
    input_shape : tuple of int
    device : torch.device
    seed : int
    """

    source: Any
    target: Any
    n_classes: int
    input_shape: tuple[int, ...]
    device: torch.device
    seed: int


class TrainState:
    """What a method sees besides its parts and the batch.

    Attributes
    ----------
    step : int
        Optimisation iterations (batches) done so far.
    epoch : int
        Epochs completed so far (the current epoch is ``epoch + 1``).
    step_in_epoch : int
        Iterations done in the current epoch.
    max_steps : int
        Total iterations of the run.
    steps_per_epoch : int
    progress : float
        ``step / max_steps`` in [0, 1].
    n_classes : int
    device : torch.device
    reversal : ReversalSchedule or None
        The method's gradient-reversal schedule; the engine steps it once per
        iteration. Read ``reversal.coeff``.
    group : ProcessGroup or None
        The ``torch.distributed`` group when training is distributed: pass it as
        ``group=`` to batch-level losses (MMD, CORAL) so they see the global batch.
    world_size, rank : int
    generator : torch.Generator
        A CPU generator seeded from ``random_state`` for a method's own sampling.
    context : FitContext or None
        The per-fit context the run was started with.
    """

    def __init__(self, trainer: Trainer):
        self._trainer = trainer

    @property
    def step(self) -> int:
        return self._trainer.step

    @property
    def epoch(self) -> int:
        return self._trainer.epoch

    @property
    def step_in_epoch(self) -> int:
        return self._trainer.step_in_epoch

    @property
    def max_steps(self) -> int:
        return self._trainer.max_steps

    @property
    def steps_per_epoch(self) -> int:
        return self._trainer.steps_per_epoch

    @property
    def progress(self) -> float:
        return min(1.0, self._trainer.step / max(1, self._trainer.max_steps))

    @property
    def n_classes(self) -> int:
        return self._trainer.n_classes

    @property
    def device(self) -> torch.device:
        return self._trainer.device

    @property
    def reversal(self) -> ReversalSchedule | None:
        return self._trainer.reversal

    @property
    def group(self) -> Any:
        return self._trainer.dist.group

    @property
    def world_size(self) -> int:
        return self._trainer.dist.world_size

    @property
    def rank(self) -> int:
        return self._trainer.dist.rank

    @property
    def generator(self) -> torch.Generator:
        return self._trainer.method_generator

    @property
    def context(self) -> FitContext | None:
        return self._trainer.context

    def optimize(
        self, loss: Tensor, optimizers: str | Sequence[str] = "main", retain_graph: bool = False
    ) -> None:
        """Back-propagate ``loss`` and step the named optimisers (for multi-step methods)."""
        self._trainer.optimize(loss, optimizers, retain_graph=retain_graph)
