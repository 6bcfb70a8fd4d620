"""Default tile edge of the memory-bounded MMD paths, chosen from the device and the problem.

The tiled engine (:mod:`._tiled`) walks ``b x b`` tiles of the kernel matrix. The
best ``b`` depends on where it runs:

* **CPU** -- small tiles that stay in cache. Measured with ``benchmarks/ops_mmd.py``
  (one thread, 5 Gaussian bandwidths, forward + backward): ``b = 256`` was the fastest
  or within noise of it for pooled sizes ``N = n + m`` from 512 to 4096 at d = 64 and
  d = 512 (512, the old default, was up to 1.6x slower), ``b = 128`` below ``N = 512``.
* **CUDA** -- each tile costs a few dozen kernel launches, so small tiles leave the GPU
  idle between launches (issue #11, H200, ``n = m = 16384``, d = 64: tile 512 took
  0.81 s, tile 4096 0.103 s, the full matrix 0.195 s). The tile is the largest edge up
  to :data:`CUDA_MAX_BLOCK` whose working set fits a fraction of the free device memory.
* other accelerators -- :data:`OTHER_BLOCK`.

``block_size=`` given by the caller always wins.
"""

from __future__ import annotations

import math

import torch

__all__ = ["CPU_BLOCK", "CUDA_MAX_BLOCK", "auto_block_size", "tile_buffers"]

#: CPU tile edge for pooled sizes above :data:`CPU_SMALL_N` (measured, see module doc).
CPU_BLOCK = 256
#: Pooled sizes up to this use :data:`CPU_SMALL_BLOCK` on CPU.
CPU_SMALL_N = 256
CPU_SMALL_BLOCK = 128
#: Largest CUDA tile edge (4096 x 4096 float32 tiles: 64 MiB each; issue #11 measured
#: it 1.9x faster than the full matrix at n = m = 16384, d = 64, with 394 MiB peak).
CUDA_MAX_BLOCK = 4096
#: Smallest tile edge the CUDA rule goes down to when memory is short.
CUDA_MIN_BLOCK = 256
#: Fraction of the free device memory (plus the caching allocator's free blocks) the
#: tile working set may take, and an absolute cap on it.
CUDA_MEMORY_FRACTION = 0.25
CUDA_MEMORY_CAP = 2 << 30
#: Tile edge on devices other than CPU and CUDA.
OTHER_BLOCK = 1024


def tile_buffers(n_layers: int = 1, n_bandwidths: int = 1, chain: bool = True) -> int:
    """Number of ``b x b`` buffers live at once in one tile of :func:`._tiled.tiled_bilinear`.

    Distances / exponentials (1), kernel and derivative tiles (2), coefficient or
    weight tile (1), matmul temporaries (2), one kernel and one derivative per extra
    layer (2 each); bandwidth ratios that are not powers of two need one more
    transient (the scaled distances before each ``exp``).
    """
    return 6 + 2 * max(n_layers - 1, 0) + (0 if chain or n_bandwidths == 1 else 1)


def _cuda_free_bytes(device: torch.device) -> int:
    """Free device memory plus what the caching allocator holds unused (no host sync)."""
    free, _ = torch.cuda.mem_get_info(device)
    cached = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
    return int(free) + max(int(cached), 0)


def auto_block_size(
    device: torch.device | str,
    n_rows: int,
    n_features: int = 1,
    *,
    n_bandwidths: int = 1,
    n_layers: int = 1,
    chain: bool = True,
    itemsize: int = 4,
    free_bytes: int | None = None,
) -> int:
    """Tile edge for a pooled sample of ``n_rows`` rows on ``device``.

    Parameters
    ----------
    device : torch.device or str
        Where the tiles are computed.
    n_rows : int
        Pooled number of rows ``N = n + m`` (the kernel matrix is ``N x N``).
    n_features : int, default=1
        Feature dimension ``d`` (summed over the layers of a joint MMD); kept in the
        signature for rules that depend on it (the CPU measurement found none).
    n_bandwidths : int, default=1
        Number of bandwidth multipliers.
    n_layers : int, default=1
        Layers of a joint (product-kernel) MMD.
    chain : bool, default=True
        Whether the bandwidth ratios are powers of two (one ``exp`` per tile).
    itemsize : int, default=4
        Bytes per element of the compute dtype.
    free_bytes : int, optional
        Free device memory to plan with (CUDA); by default queried with
        :func:`torch.cuda.mem_get_info`, which does not synchronise the stream.

    Returns
    -------
    int
        The tile edge, at least 1 and never more than needed to cover ``n_rows``.

    Examples
    --------
    >>> from domainadapt.ops._tiling import auto_block_size
    >>> auto_block_size("cpu", 8192)
    256
    >>> auto_block_size("cuda", 32768, free_bytes=64 << 30)
    4096
    >>> auto_block_size("cuda", 32768, free_bytes=256 << 20)  # 64 MiB for 6 tile buffers
    1536
    """
    dev = torch.device(device)
    N = max(int(n_rows), 1)
    if dev.type == "cpu":
        b = CPU_SMALL_BLOCK if N <= CPU_SMALL_N else CPU_BLOCK
        return min(b, N)
    if dev.type != "cuda":
        return min(OTHER_BLOCK, N)
    if free_bytes is None:
        free_bytes = _cuda_free_bytes(dev)
    budget = min(CUDA_MEMORY_FRACTION * free_bytes, CUDA_MEMORY_CAP)
    per_element = itemsize * tile_buffers(n_layers, n_bandwidths, chain)
    fit = int(math.isqrt(max(int(budget // per_element), 1)))
    fit = max((fit // CUDA_MIN_BLOCK) * CUDA_MIN_BLOCK, CUDA_MIN_BLOCK)
    b = min(CUDA_MAX_BLOCK, fit)
    return min(b, N)
