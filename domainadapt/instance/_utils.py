"""Re-export kept for ``benchmarks/instance.py``, which imports ``median_bandwidth`` here.

The helpers live in ``domainadapt/_utils.py`` (checks, devices) and
``domainadapt/_kernels.py`` (bandwidths, Gaussian kernel). Delete this module once
``benchmarks/instance.py`` imports ``from domainadapt._kernels import median_bandwidth``.
"""

from __future__ import annotations

from .._kernels import median_bandwidth

__all__ = ["median_bandwidth"]
