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

    Examples
    --------
    A frozen dataclass; :func:`dataclasses.replace` makes a changed copy:

    >>> import dataclasses
    >>> config = TrainConfig(n_epochs=3, batch_size=16, progress=False)
    >>> config.lr, config.optimizer, config.lr_schedule
    (0.001, 'adam', None)
    >>> dataclasses.replace(config, lr=0.01, optimizer="sgd").optimizer
    'sgd'

    See :class:`~domainadapt.training.Trainer` for a run with it.
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
        and steps the ``"main"`` optimiser, and logs it as ``"loss"``. Under
        ``torch.distributed`` it runs inside ``DistributedDataParallel`` (all the
        parts wrapped as one module whose forward is this loss).
    step : callable ``(parts, batch, state) -> logs``, optional
        The whole iteration instead of ``loss``, for methods taking several
        optimisation steps per batch (``state.optimize(loss, names)`` for each).
        One of ``loss`` and ``step`` is needed; ``step`` wins. Under
        ``torch.distributed`` each backward is followed by one flat all-reduce of
        the stepped parameters' gradients (DDP cannot follow several backward passes
        over different parameter subsets per batch).
    param_groups : callable ``(parts) -> dict``, optional
        Named optimisers and their parameter groups; default: one optimiser,
        ``"main"``, over every trainable parameter.
    reversal_schedule : callable ``(max_steps) -> ReversalSchedule or None``, optional
        A gradient-reversal schedule the engine steps once per iteration.
    on_epoch_start : callable ``(parts, state) -> None``, optional
        Called at the start of every epoch, before its first batch (also when a run
        resumes in the middle of an epoch: ``state.step_in_epoch`` is then > 0), e.g.
        to cluster the whole target or to unfreeze layers.

    Examples
    --------
    A source-only cross-entropy; by default one ``"main"`` optimiser gets every
    trainable parameter:

    >>> import torch
    >>> from torch import nn
    >>> parts = nn.ModuleDict({"features": nn.Linear(2, 8), "classifier": nn.Linear(8, 2)})
    >>> def logits(parts, x):
    ...     return parts["classifier"](torch.relu(parts["features"](x)))
    >>> def loss(parts, batch, state):
    ...     return nn.functional.cross_entropy(logits(parts, batch.source_x), batch.source_y), {}
    >>> hooks = TrainHooks(predict_logits=logits, loss=loss)
    >>> groups = hooks.param_groups(parts)
    >>> list(groups), len(groups["main"][0]["params"])
    (['main'], 4)
    >>> TrainHooks(predict_logits=logits)
    Traceback (most recent call last):
        ...
    TypeError: TrainHooks needs a per-step loss or a step callable.

    See :class:`~domainadapt.training.Trainer` for a run with them.
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

    def run_step(
        self, parts: nn.ModuleDict, batch: Batch, state: TrainState, forward: Any = None
    ) -> dict[str, Any]:
        """One iteration: ``step``, or ``loss`` followed by one optimisation step.

        ``forward``: a module computing the loss from ``(batch, state)`` instead of
        ``loss(parts, batch, state)`` (the engine's ``DistributedDataParallel`` wrapper).
        """
        if self.step is not None:
            return self.step(parts, batch, state)
        if forward is not None:
            loss, logs = forward(batch, state)
        else:
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

    Examples
    --------
    A method that keeps a frozen teacher for the duration of a fit subclasses it:

    >>> import dataclasses
    >>> import numpy as np
    >>> import torch
    >>> from domainadapt.training.data import ArrayData
    >>> @dataclasses.dataclass
    ... class TeacherContext(FitContext):
    ...     teacher: torch.nn.Module | None = None
    >>> context = TeacherContext(
    ...     source=ArrayData(np.zeros((4, 2)), np.array([0, 1, 0, 1])),
    ...     target=ArrayData(np.ones((3, 2))), n_classes=2, input_shape=(2,),
    ...     device=torch.device("cpu"), seed=0, teacher=torch.nn.Linear(2, 2))
    >>> len(context.source), len(context.target), context.teacher.out_features
    (4, 3, 2)

    Passed to :class:`~domainadapt.training.Trainer` as ``context=``, the hooks read
    it as ``state.context``.
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

    Examples
    --------
    The engine hands it to every hook; here the per-epoch hook records where the run
    stands (4 steps per epoch: 64 source rows in batches of 16):

    >>> import numpy as np
    >>> import torch
    >>> from torch import nn
    >>> from domainadapt.training import Trainer
    >>> from domainadapt.training.data import ArrayData
    >>> from domainadapt.training.distributed import DistributedContext
    >>> _ = torch.manual_seed(0)
    >>> rng = np.random.RandomState(0)
    >>> X_s, X_t = rng.randn(64, 2), rng.randn(64, 2) + 0.5
    >>> y_s = (X_s[:, 0] > 0).astype(int)
    >>> parts = nn.ModuleDict({"classifier": nn.Linear(2, 2)})
    >>> def logits(parts, x):
    ...     return parts["classifier"](x)
    >>> def loss(parts, batch, state):
    ...     return nn.functional.cross_entropy(logits(parts, batch.source_x), batch.source_y), {}
    >>> seen = []
    >>> def on_epoch_start(parts, state):
    ...     seen.append((state.epoch, state.step, state.progress, state.max_steps))
    >>> hooks = TrainHooks(predict_logits=logits, loss=loss, on_epoch_start=on_epoch_start)
    >>> trainer = Trainer(
    ...     parts, ArrayData(X_s, y_s), ArrayData(X_t),
    ...     config=TrainConfig(n_epochs=2, batch_size=16, progress=False), hooks=hooks,
    ...     n_classes=2, seed=0, device=torch.device("cpu"), callbacks=[],
    ...     dist_ctx=DistributedContext())
    >>> _ = trainer.run()
    >>> seen
    [(0, 0, 0.0, 8), (1, 4, 0.5, 8)]
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
