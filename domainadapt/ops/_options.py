"""The keyword options shared by every MMD entry point, declared once.

:func:`~domainadapt.ops.mmd`, :func:`~domainadapt.ops.joint_mmd`,
:func:`~domainadapt.ops.mmd_test` and the MMD loss modules all take the same kernel
and estimator settings. They are the fields of :class:`MMDOptions`; the functions
take them as ``**options`` and :func:`takes_mmd_options` writes them back into the
function's signature, so ``help()``, ``inspect.signature`` and the API docs still
list every keyword with its default.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, TypeVar

from torch import Tensor

__all__ = ["MMD_OPTION_NAMES", "MMDOptions", "resolve_mmd_options", "takes_mmd_options"]

_F = TypeVar("_F", bound=Callable[..., Any])


@dataclasses.dataclass(frozen=True)
class MMDOptions:
    """Kernel and estimator settings of an MMD estimate.

    Attributes
    ----------
    kernel : {"gaussian", "laplacian", "linear", "polynomial"} or one per layer
        Kernel of the estimate.
    bandwidth : float, Tensor, {"median", "mean"}, None, or one per layer
        Base bandwidth; ``None`` is the median heuristic on the pooled sample.
    multipliers : float, sequence of float, or one sequence per layer
        Bandwidth multipliers of the multi-kernel family (the kernels are averaged).
    estimator : {"biased", "unbiased", "linear"}
        V-statistic, U-statistic or linear-time statistic.
    block_size : int or None
        Tile edge of the memory-bounded path (``None``: chosen from the device and the
        problem, see :func:`._tiling.auto_block_size`).
    group : torch.distributed ProcessGroup or None
        All-gather the rows over this group first.
    degree, gamma, coef0 : int, float or None, float
        Polynomial kernel parameters.
    heuristic_samples : int
        Subsample bound of the median heuristic.
    detach_bandwidth : bool
        Treat a heuristic bandwidth as a constant in the backward pass (the gradient is
        then not the gradient of the returned value). Default ``False``: the gradient
        flows through the heuristic.
    check_finite : bool or None
        Check data and weights for NaN / negative values (``None``: on CPU only).
    backend : {"auto", "torch", "triton"}
        Engine of the quadratic form: ``"triton"`` the fused Gaussian kernel of
        :mod:`._fused`, ``"torch"`` the tiled / direct torch path, ``"auto"`` the fused
        kernel on float32 CUDA tensors when triton imports (single Gaussian layer), else torch.
    """

    kernel: str | Sequence[str] = "gaussian"
    bandwidth: float | Tensor | str | None | Sequence[Any] = None
    multipliers: float | Sequence[float] | Sequence[Sequence[float]] = (1.0,)
    estimator: str = "biased"
    block_size: int | None = None
    group: object | None = None
    degree: int = 2
    gamma: float | None = None
    coef0: float = 1.0
    heuristic_samples: int = 1024
    detach_bandwidth: bool = False
    check_finite: bool | None = None
    backend: str = "auto"


#: Names of the :class:`MMDOptions` fields.
MMD_OPTION_NAMES: frozenset[str] = frozenset(f.name for f in dataclasses.fields(MMDOptions))


def resolve_mmd_options(
    caller: str, options: Mapping[str, Any], exclude: Collection[str] = ()
) -> MMDOptions:
    """Build :class:`MMDOptions` from a caller's ``**options``.

    Parameters
    ----------
    caller : str
        Name of the function or class, quoted in the error message.
    options : mapping
        The keyword arguments received.
    exclude : collection of str, default=()
        Option names the caller does not support.

    Returns
    -------
    MMDOptions

    Raises
    ------
    TypeError
        On a keyword that is not an option of ``caller`` (as Python itself would).
    """
    unknown = sorted(k for k in options if k not in MMD_OPTION_NAMES or k in exclude)
    if unknown:
        raise TypeError(f"{caller}() got an unexpected keyword argument {unknown[0]!r}")
    return MMDOptions(**options)


def takes_mmd_options(exclude: Collection[str] = ()) -> Callable[[_F], _F]:
    """Decorator: list the :class:`MMDOptions` fields in the signature of ``f(..., **options)``.

    Parameters
    ----------
    exclude : collection of str, default=()
        Options the decorated function does not take.

    Returns
    -------
    callable
        A decorator setting ``__signature__``: the function's own parameters (less
        ``**options``) followed by one keyword-only parameter per option.
    """

    def decorate(func: _F) -> _F:
        own = inspect.signature(func)
        params = [p for p in own.parameters.values() if p.kind is not p.VAR_KEYWORD]
        params += [
            inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=f.type)
            for f in dataclasses.fields(MMDOptions)
            if f.name not in exclude
        ]
        func.__signature__ = own.replace(parameters=params)  # type: ignore[attr-defined]
        return func

    return decorate
