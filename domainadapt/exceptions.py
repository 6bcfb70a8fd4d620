"""Warnings shared by every layer of the toolkit."""

from __future__ import annotations

__all__ = ["NotApplicableWarning"]


class NotApplicableWarning(UserWarning):
    """A strategy's assumptions do not hold on the data it is fitted on.

    Issued by ``fit`` when a documented condition under which the strategy is
    known to do worse than no adaptation is met (the message says which, and
    what to use instead). The fit still completes. :class:`~domainadapt.selection.AutoAdapter`
    leaves such candidates out of its choice.
    """
