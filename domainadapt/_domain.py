"""The :class:`Domain` container: one sample of one domain."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Label value that marks an unlabelled target row in the ``(X, y)`` and
#: :class:`Domain` forms (integer labels). Float labels use ``NaN``. A data set
#: whose real classes include ``-1`` passes an explicit ``labelled`` mask instead.
UNLABELLED = -1

#: ``sample_domain`` values of the stacked scikit-learn form.
SOURCE = "source"
TARGET = "target"
TARGET_LABELLED = "target_labelled"
SAMPLE_DOMAIN_VALUES = (SOURCE, TARGET, TARGET_LABELLED)


@dataclass(eq=False)
class Domain:
    """A labelled or unlabelled sample of one domain.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Features: a NumPy array, a torch tensor, a pandas DataFrame, a
        SciPy sparse matrix or a (nested) list. Images may keep extra trailing dimensions
        (``(n, C, H, W)``) for deep strategies; shallow strategies ask for 2-D.
    y : array-like of shape (n_samples,), optional
        Labels. For a target domain, rows equal to ``-1`` (integer labels) or
        ``NaN`` (float labels) are unlabelled, unless ``labelled`` is given.
    sample_weight : array-like of shape (n_samples,), optional
        Non-negative per-row weights (e.g. importance weights).
    name : str, optional
        A name for reports (``"amazon"``, ``"mnist"`` ...).
    labelled : array-like of bool, shape (n_samples,), optional
        Which rows of ``y`` are real labels. Use it when ``-1`` is a real class.

    Notes
    -----
    The object only stores what it is given; :func:`domainadapt.validation.check_domain`
    validates and converts it when a strategy is fitted, and names the argument
    in every error.

    Examples
    --------
    >>> import numpy as np
    >>> from domainadapt import Domain
    >>> source = Domain(np.zeros((4, 2)), y=[0, 1, 0, 1], name="lab")
    >>> source.n_samples, source.is_labelled
    (4, True)
    """

    X: Any
    y: Any = None
    sample_weight: Any = None
    name: str | None = None
    labelled: Any = field(default=None, repr=False)

    @property
    def n_samples(self) -> int:
        """Number of rows of ``X``."""
        shape = getattr(self.X, "shape", None)
        if shape is not None and len(shape) > 0:
            return int(shape[0])
        return len(self.X)

    @property
    def is_labelled(self) -> bool:
        """Whether at least one row carries a label."""
        if self.y is None:
            return False
        return bool(np.any(self.label_mask()))

    def label_mask(self) -> np.ndarray:
        """Boolean mask of the rows whose label is known."""
        if self.y is None:
            return np.zeros(self.n_samples, dtype=bool)
        if self.labelled is not None:
            return np.asarray(self.labelled, dtype=bool)
        y = _to_numpy(self.y)
        if y.dtype.kind == "f":
            return ~np.isnan(y)
        if y.dtype.kind in "iu":
            return y != UNLABELLED
        return np.ones(len(y), dtype=bool)

    def __repr__(self) -> str:  # short: never dump the arrays
        shape = getattr(self.X, "shape", None)
        shape = tuple(shape) if shape is not None else (self.n_samples, "?")
        lab = "unlabelled" if self.y is None else f"{int(self.label_mask().sum())} labelled"
        name = f"{self.name!r}, " if self.name else ""
        return f"Domain({name}X{shape}, {lab})"


def _to_numpy(a: Any) -> np.ndarray:
    """Convert numpy / torch / pandas / list input to a NumPy array."""
    if hasattr(a, "detach") and hasattr(a, "cpu"):  # torch tensor
        return a.detach().cpu().numpy()
    if hasattr(a, "to_numpy"):  # pandas
        return a.to_numpy()
    return np.asarray(a)
