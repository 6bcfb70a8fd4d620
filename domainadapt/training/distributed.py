"""Data-parallel training under ``torch.distributed`` (DDP semantics).

When a process group is initialised (``torchrun``, ``mp.spawn`` + ``init_process_group``)
every rank runs the same ``fit``: each takes its share of every global batch (see
:class:`~domainadapt.training.data.EpochPlan`), the parameters start identical
(broadcast from rank 0), and after each backward pass the gradients of the
parameters being stepped are averaged over the ranks, which is what
``DistributedDataParallel`` does. Averaging by hand rather than wrapping a module
in DDP keeps every method unchanged: the parts are several modules, and some
methods (MCD) take several optimisation steps per batch on different subsets of
parameters, which DDP's one-forward-one-backward bookkeeping does not allow.

Batch-level losses (MMD, CORAL) take ``group=state.group`` and all-gather the
rows with gradient (:func:`domainadapt.ops.all_gather_rows`), so they are computed
on the global batch; the gather's backward sums the ranks' gradients, and the
averaging then gives every rank the gradient of the global loss.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

__all__ = ["DistributedContext", "distributed_context"]


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
        if not params:
            return
        grads = []
        for p in params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            grads.append(p.grad)
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat, op=dist.ReduceOp.SUM, group=self.group)
        flat /= self.world_size
        offset = 0
        for g in grads:
            n = g.numel()
            g.copy_(flat[offset : offset + n].view_as(g))
            offset += n

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
