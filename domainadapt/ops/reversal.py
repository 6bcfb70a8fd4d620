"""Gradient reversal layer and the DANN reversal-coefficient schedule.

Reference: Ganin, Ustinova, Ajakan, Germain, Larochelle, Laviolette, Marchand,
Lempitsky. Domain-adversarial training of neural networks (DANN). JMLR 17, 2016.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["GradientReversal", "ReversalSchedule", "gradient_reverse"]


class _GradientReverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, coeff):  # type: ignore[override]
        ctx.coeff = coeff
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        return -ctx.coeff * grad, None


def gradient_reverse(x: Tensor, coeff: float | Tensor = 1.0) -> Tensor:
    """Identity in the forward pass, ``-coeff * grad`` in the backward pass (DANN).

    .. math:: R(x) = x, \\qquad \\partial R / \\partial x = -\\lambda I

    Parameters
    ----------
    x : Tensor
    coeff : float or 0-dim Tensor
        :math:`\\lambda` (no gradient flows to it).

    Returns
    -------
    Tensor
        A view of ``x`` (same values).
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if isinstance(coeff, Tensor):
        coeff = coeff.detach()
    elif not isinstance(coeff, (int, float)) or isinstance(coeff, bool):
        raise TypeError(f"coeff must be a float or a tensor, got {coeff!r}")
    return _GradientReverse.apply(x, coeff)


class ReversalSchedule:
    """DANN schedule of the reversal coefficient, advanced only by :meth:`step`.

    .. math:: \\lambda(p) = \\lambda_{max}\\left(\\frac{2}{1 + \\exp(-\\gamma p)} - 1\\right),
       \\quad p = \\frac{t - t_{warm}}{T - t_{warm}} \\in [0, 1]

    and :math:`\\lambda = 0` during the ``warmup_steps`` first steps (Ganin et al.,
    JMLR 2016, with :math:`\\gamma = 10`). Reading :attr:`coeff` (which
    :class:`GradientReversal` does on every forward call, training or evaluation)
    never moves the schedule: only the training loop's ``.step()`` does.

    Parameters
    ----------
    max_steps : int
        Total number of training steps ``T`` (p reaches 1 there and stays).
    gamma : float
        Steepness (10 in the paper).
    warmup_steps : int
        Steps with coefficient 0 before the schedule starts.
    max_coeff : float
        Final coefficient :math:`\\lambda_{max}`.

    Examples
    --------
    >>> s = ReversalSchedule(max_steps=100)
    >>> s.coeff
    0.0
    >>> for _ in range(100):
    ...     coeff = s.step()  # returns the new coefficient
    >>> round(coeff, 4)
    0.9999
    """

    def __init__(
        self, max_steps: int, gamma: float = 10.0, warmup_steps: int = 0, max_coeff: float = 1.0
    ) -> None:
        if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
            raise ValueError(f"max_steps must be a positive int, got {max_steps!r}")
        if (
            isinstance(warmup_steps, bool)
            or not isinstance(warmup_steps, int)
            or not 0 <= warmup_steps < max_steps
        ):
            raise ValueError(f"warmup_steps must be an int in [0, max_steps), got {warmup_steps!r}")
        if not (gamma > 0) or not math.isfinite(gamma):
            raise ValueError(f"gamma must be positive, got {gamma!r}")
        if not math.isfinite(max_coeff):
            raise ValueError(f"max_coeff must be finite, got {max_coeff!r}")
        self.max_steps = max_steps
        self.gamma = float(gamma)
        self.warmup_steps = warmup_steps
        self.max_coeff = float(max_coeff)
        self.step_count = 0

    @property
    def progress(self) -> float:
        """Training progress p in [0, 1] (0 during warm-up)."""
        t = self.step_count - self.warmup_steps
        if t <= 0:
            return 0.0
        return min(1.0, t / (self.max_steps - self.warmup_steps))

    @property
    def coeff(self) -> float:
        """Current coefficient (reading it does not advance the schedule)."""
        if self.step_count < self.warmup_steps:
            return 0.0
        p = self.progress
        return self.max_coeff * (2.0 / (1.0 + math.exp(-self.gamma * p)) - 1.0)

    def step(self) -> float:
        """Advance one training step; returns the new coefficient."""
        self.step_count += 1
        return self.coeff

    def state_dict(self) -> dict[str, Any]:
        return {"step_count": self.step_count}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step_count = int(state["step_count"])

    def __repr__(self) -> str:
        return (
            f"ReversalSchedule(max_steps={self.max_steps}, gamma={self.gamma}, warmup_steps={self.warmup_steps}, "
            f"max_coeff={self.max_coeff}, step_count={self.step_count})"
        )


class GradientReversal(nn.Module):
    """Gradient reversal layer: identity forward, ``-coeff * grad`` backward.

    Parameters
    ----------
    coeff : float or ReversalSchedule
        A fixed coefficient, or a schedule that is *read* (never stepped) on each
        forward call; the training loop calls ``schedule.step()``.

    Examples
    --------
    The values pass through unchanged; the gradient comes back negated and scaled:

    >>> import torch
    >>> x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> layer = GradientReversal(coeff=0.5)
    >>> y = layer(x)
    >>> torch.equal(y, x)
    True
    >>> y.sum().backward()
    >>> x.grad
    tensor([-0.5000, -0.5000, -0.5000])

    With a schedule the coefficient follows its steps (0 before the first):

    >>> layer = GradientReversal(ReversalSchedule(max_steps=10))
    >>> layer.coeff
    0.0
    """

    def __init__(self, coeff: float | ReversalSchedule = 1.0) -> None:
        super().__init__()
        if not isinstance(coeff, (ReversalSchedule, int, float)) or isinstance(coeff, bool):
            raise TypeError(f"coeff must be a float or a ReversalSchedule, got {coeff!r}")
        self.schedule = coeff if isinstance(coeff, ReversalSchedule) else None
        self._coeff = None if self.schedule is not None else float(coeff)

    @property
    def coeff(self) -> float:
        return self.schedule.coeff if self.schedule is not None else self._coeff  # type: ignore[return-value]

    def forward(self, x: Tensor) -> Tensor:
        return gradient_reverse(x, self.coeff)

    def extra_repr(self) -> str:
        return (
            f"schedule={self.schedule!r}" if self.schedule is not None else f"coeff={self._coeff}"
        )
