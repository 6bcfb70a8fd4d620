"""Re-exports kept for importers not yet moved to :mod:`.._utils` / :mod:`.._kernels`.

The helpers themselves live in ``domainadapt/_utils.py`` (checks, devices) and
``domainadapt/_kernels.py`` (bandwidths, Gaussian kernel). Remaining importers:
``domainadapt/model/deep.py`` (``check_int``, ``check_positive``, ``resolve_device``)
and ``benchmarks/instance.py`` (``median_bandwidth``). Delete this module once they
import from the new places.
"""

from __future__ import annotations

from .._kernels import median_bandwidth
from .._utils import check_int, check_positive, resolve_device

__all__ = ["check_int", "check_positive", "median_bandwidth", "resolve_device"]
