"""Numerical solvers, kept apart from the estimators that call them.

Each solver is a plain function of arrays (or tensors) with no knowledge of
domains, estimators or their parameters, so it can be tested on closed forms
and reused. The estimators in :mod:`domainadapt.feature`,
:mod:`domainadapt.instance` and :mod:`domainadapt.relation` build the problem
(costs, kernels, graphs) and call these.

* :func:`sinkhorn_log`: entropic optimal transport (Cuturi 2013), log domain.
* :func:`emd`: exact optimal transport (assignment or transportation LP).
* :func:`solve_box_sum_qp`: interior-point solver of the box- and sum-constrained
  QP of Kernel Mean Matching (Huang et al. 2007).
* :func:`fista_box_sum_qp`: the same QP by accelerated projected gradient
  (Beck & Teboulle 2009), matrix-free.
* :func:`spread_labels`, :func:`symmetric_normalize`: the label-spreading
  linear system (Zhou et al. 2003); :func:`factorize_spreading` prepares it once
  for several right-hand sides.
"""

from ._emd import emd
from ._fista import fista_box_sum_qp
from ._label_spreading import factorize_spreading, spread_labels, symmetric_normalize
from ._qp import project_box_sum, project_box_sum_metric, solve_box_sum_qp
from ._sinkhorn import sinkhorn_log

__all__ = [
    "emd",
    "factorize_spreading",
    "fista_box_sum_qp",
    "project_box_sum",
    "project_box_sum_metric",
    "sinkhorn_log",
    "solve_box_sum_qp",
    "spread_labels",
    "symmetric_normalize",
]
