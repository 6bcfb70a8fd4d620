"""Data-parallel training under ``torch.distributed``.

When a process group is initialised (``torchrun``, ``mp.spawn`` + ``init_process_group``)
every rank runs the same ``fit``: each takes its share of every global batch (see
:class:`~domainadapt.training.data.EpochPlan`), the parameters start identical
(broadcast from rank 0), and after each backward pass every rank holds the gradients
averaged over the ranks. Two paths give that average:

* **DDP** -- methods whose iteration is one loss, one backward, one optimiser step (a
  ``loss`` hook: every method except MCD). The engine wraps all the parts in
  :class:`torch.nn.parallel.DistributedDataParallel` through :class:`MethodLoss`, a
  module whose forward *is* the method's loss, so the whole step (source and target
  passes through the same feature extractor, gradient reversal, discriminator ...)
  is one DDP forward and one backward: each parameter's gradient is complete when
  its hook fires, and the bucketed all-reduces overlap the rest of the backward.
* **Flat all-reduce** -- methods taking several optimisation steps per batch on
  different parameter subsets (a ``step`` hook: MCD's three updates), which DDP's
  one-forward-one-backward bookkeeping does not allow: after each backward
  :meth:`DistributedContext.average_gradients` all-reduces the stepped parameters'
  gradients as one flat tensor.

Batch-level losses (MMD, CORAL) take ``group=state.group`` and all-gather the
rows with gradient (:func:`domainadapt.ops.all_gather_rows`), so they are computed
on the global batch; the gather's backward sums the ranks' gradients, and the
averaging then gives every rank the gradient of the global loss.

Batch normalisation: each rank normalises with its own shard's batch statistics
(DDP does not broadcast rank 0's buffers before each forward; for cross-rank statistics on CUDA,
give a ``network`` converted with :meth:`torch.nn.SyncBatchNorm.convert_sync_batchnorm`),
and at every epoch end the running statistics are averaged over the ranks
(:meth:`DistributedContext.average_batch_norm_statistics`, both paths), so every rank
evaluates, checkpoints and predicts with the same model.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

__all__ = ["DistributedContext", "MethodLoss", "distributed_context"]

#: DDP without a broadcast of rank 0's buffers before every forward (recent torch names
#: it ``forward_sync_buffers`` and deprecates ``broadcast_buffers``).
_NO_BUFFER_SYNC = (
    {"forward_sync_buffers": False}
    if "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters
    else {"broadcast_buffers": False}
)


@dataclass
class DistributedContext:
    """Rank, world size and group of the current run (world size 1: not distributed).

    Examples
    --------
    Outside ``torchrun`` (no process group initialised) ``distributed="auto"`` gives
    the single-process context, which needs no collective call:

    >>> distributed_context("auto")
    DistributedContext(rank=0, world_size=1, group=None)
    >>> DistributedContext().world_size
    1
    """

    rank: int = 0
    world_size: int = 1
    group: Any = None

    def average_gradients(self, params: Iterable[torch.Tensor]) -> None:
        """All-reduce (mean) the gradients of ``params``; missing gradients count as zero."""
        params = [p for p in params if p.requires_grad]
        grads = []
        for p in params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            grads.append(p.grad)
        self._all_reduce_mean(grads)

    def average_batch_norm_statistics(self, module: nn.Module) -> None:
        """All-reduce (mean) the running mean and variance of every batch-norm layer."""
        stats = [
            t
            for m in module.modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm)
            for t in (m.running_mean, m.running_var)
            if t is not None
        ]
        with torch.no_grad():
            self._all_reduce_mean(stats)

    def _all_reduce_mean(self, tensors: list[torch.Tensor]) -> None:
        """Replace each tensor by its mean over the ranks (one flat all-reduce)."""
        if not tensors:
            return
        flat = torch.cat([t.reshape(-1) for t in tensors])
        dist.all_reduce(flat, op=dist.ReduceOp.SUM, group=self.group)
        flat /= self.world_size
        offset = 0
        for t in tensors:
            n = t.numel()
            t.copy_(flat[offset : offset + n].view_as(t))
            offset += n

    def data_parallel(
        self, parts: nn.ModuleDict, loss: Callable[..., Any], device: torch.device
    ) -> DistributedDataParallel:
        """``parts`` and the method's ``loss`` as one ``DistributedDataParallel`` module.

        Its forward takes ``(batch, state)`` and returns the loss hook's ``(loss, logs)``;
        the parameters that require a gradient *now* are the ones it averages. On CUDA
        it runs on ``device`` (``device_ids=[device.index]``), on CPU without device ids.
        Buffers are not broadcast at each forward (see the module notes on batch norm).
        """
        device_ids = None
        if device.type == "cuda":
            device_ids = [device.index if device.index is not None else torch.cuda.current_device()]
        return DistributedDataParallel(
            MethodLoss(parts, loss), device_ids=device_ids, process_group=self.group, **_NO_BUFFER_SYNC
        )

    def broadcast_module(self, module: nn.Module) -> None:
        """Give every rank rank 0's parameters and buffers."""
        with torch.no_grad():
            for t in list(module.parameters()) + list(module.buffers()):
                dist.broadcast(t.data, src=self._src(), group=self.group)

    def broadcast_int(self, value: int, device: torch.device) -> int:
        t = torch.tensor([value], dtype=torch.int64, device=device)
        dist.broadcast(t, src=self._src(), group=self.group)
        return int(t.item())

    def mean_of(self, values: dict[str, float]) -> dict[str, float]:
        """The mean over ranks of each logged value (same keys on every rank)."""
        if not values:
            return values
        keys = sorted(values)
        t = torch.tensor([values[k] for k in keys], dtype=torch.float64)
        if dist.get_backend(self.group) == "nccl":
            t = t.cuda()
        dist.all_reduce(t, group=self.group)
        t = t.cpu() / self.world_size
        return {k: float(v) for k, v in zip(keys, t)}

    def _src(self) -> int:
        if self.group is None or self.group is dist.group.WORLD:
            return 0
        return dist.get_global_rank(self.group, 0)


class MethodLoss(nn.Module):
    """A method's per-step loss as the forward of one module holding all its parts.

    Wrapped in ``DistributedDataParallel`` it makes the whole iteration one DDP forward,
    however many times the loss calls each part. Its ``parts`` are the modules trained
    (no copy): what DDP averages is what the method, checkpoints and ``predict`` use.

    Parameters
    ----------
    parts : nn.ModuleDict
    loss : callable ``(parts, batch, state) -> (loss, logs)``

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> parts = nn.ModuleDict({"classifier": nn.Linear(2, 2)})
    >>> def loss(parts, batch, state):
    ...     return parts["classifier"](batch).pow(2).mean(), {}
    >>> value, logs = MethodLoss(parts, loss)(torch.ones(3, 2), None)
    >>> value.shape, logs
    (torch.Size([]), {})
    """

    def __init__(self, parts: nn.ModuleDict, loss: Callable[..., Any]):
        super().__init__()
        self.parts = parts
        self.loss = loss

    def forward(self, batch: Any, state: Any) -> tuple[torch.Tensor, dict[str, Any]]:
        return self.loss(self.parts, batch, state)


def distributed_context(mode: bool | str = "auto", group: Any = None) -> DistributedContext:
    """The context for ``distributed=`` (``"auto"``: on when a group is initialised)."""
    if mode not in (True, False, "auto"):
        raise ValueError(f"distributed must be True, False or 'auto'; got {mode!r}.")
    ready = dist.is_available() and dist.is_initialized()
    if mode is True and not ready:
        raise ValueError(
            "distributed=True but torch.distributed is not initialised; call "
            "torch.distributed.init_process_group first (e.g. under torchrun)."
        )
    if not ready or mode is False:
        return DistributedContext()
    group = group if group is not None else dist.group.WORLD
    world = dist.get_world_size(group)
    if world == 1:
        return DistributedContext()
    return DistributedContext(dist.get_rank(group), world, group)
