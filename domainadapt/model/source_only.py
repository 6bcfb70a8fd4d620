"""The deep baseline: the network trained on the labelled rows only."""

from __future__ import annotations

from typing import Any

from ..training import DeepAdapter

__all__ = ["SourceOnly"]


class SourceOnly(DeepAdapter):
    r"""Train the network on the labelled source (and labelled target) rows only.

    .. math:: \min_{\theta} \frac1{n_s}\sum_i w_i\,\ell\big(C(F(x^s_i)), y^s_i\big)

    The baseline of every deep table: the same network, optimiser and budget as
    the adaptation methods, without any alignment term. The unlabelled target rows
    are only used by callbacks (e.g. early stopping on target entropy).

    Its loss is :class:`~domainadapt.training.DeepAdapter`'s own (the supervised
    loss, no alignment term); this class names the baseline in the model family.

    Parameters
    ----------
    **kwargs
        Parameters of :class:`~domainadapt.training.DeepAdapter` (network,
        n_epochs, batch_size, lr, ..., random_state).
    """

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
