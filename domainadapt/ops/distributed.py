"""All-gather with gradient for MMD over a ``torch.distributed`` group."""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor

__all__ = ["all_gather_rows"]


def all_gather_rows(x: Tensor, group: object | None = None) -> Tensor:
    """Concatenate the rows of ``x`` from every rank of ``group`` (rank order), with gradient.

    Uses :func:`torch.distributed.nn.functional.all_gather`, whose backward sums the
    incoming gradients of all ranks and returns each rank its own slice. Ranks may hold
    different numbers of rows (rows are padded for the collective, then trimmed).

    Parameters
    ----------
    x : Tensor of shape (n_local, ...)
    group : ProcessGroup, optional
        Defaults to the world group.

    Returns
    -------
    Tensor of shape (sum of n_local over ranks, ...)
    """
    if not (dist.is_available() and dist.is_initialized()):
        raise ValueError("group was given but torch.distributed is not initialised")
    from torch.distributed.nn.functional import all_gather

    grp = group if group is not None else dist.group.WORLD
    world = dist.get_world_size(grp)
    if world == 1:
        return x
    n = torch.tensor([x.shape[0]], device=x.device, dtype=torch.int64)
    sizes = [torch.zeros_like(n) for _ in range(world)]
    dist.all_gather(sizes, n, group=grp)
    sizes_l = [int(s.item()) for s in sizes]  # one sync per call: needed to trim the padding
    nmax = max(sizes_l)
    xp = x
    if x.shape[0] < nmax:
        pad = x.new_zeros((nmax - x.shape[0],) + tuple(x.shape[1:]))
        xp = torch.cat([x, pad])
    parts = all_gather(xp.contiguous(), group=grp)
    return torch.cat([p[:s] for p, s in zip(parts, sizes_l)])
