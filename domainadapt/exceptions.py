"""Warnings shared by every layer of the toolkit."""

from __future__ import annotations

__all__ = ["NotApplicableWarning"]


class NotApplicableWarning(UserWarning):
    """A strategy's assumptions do not hold on the data it is fitted on.

    Issued by ``fit`` when a documented condition under which the strategy is
    known to do worse than no adaptation is met (the message says which, and
    what to use instead). The fit still completes. :class:`~domainadapt.selection.AutoAdapter`
    leaves such candidates out of its choice.

    Examples
    --------
    Subspace alignment on domains with fewer rows (5) than features (10):

    >>> import warnings
    >>> import numpy as np
    >>> from domainadapt.feature import SubspaceAlignment
    >>> issubclass(NotApplicableWarning, UserWarning)
    True
    >>> rng = np.random.RandomState(0)
    >>> source = (rng.randn(5, 10), np.array([0, 1, 0, 1, 0]))
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     model = SubspaceAlignment().fit(source, rng.randn(5, 10))
    >>> [w.category.__name__ for w in caught]
    ['NotApplicableWarning']
    """
