"""Argument checks shared by the ops (errors name the argument and the problem)."""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import torch
from torch import Tensor

KERNELS = ("gaussian", "laplacian", "linear", "polynomial")
#: The kernels of a distance, which take a bandwidth.
DISTANCE_KERNELS = ("gaussian", "laplacian")
ESTIMATORS = ("biased", "unbiased", "linear")
HEURISTICS = ("median", "mean")


def is_compiling() -> bool:
    try:
        return bool(torch.compiler.is_compiling())
    except AttributeError:  # pragma: no cover - very old torch
        return False


def host_reads_are_free(t: Tensor) -> bool:
    """Whether reading ``t``'s values on the host costs nothing: on CPU, outside
    compilation. On an accelerator each read waits for the device (a synchronisation)."""
    return t.device.type == "cpu" and not is_compiling()


def want_value_checks(t: Tensor, check_finite: bool | None) -> bool:
    """Whether to run data-dependent checks (they synchronise a CUDA device).

    ``None`` means: check on CPU (free), skip on accelerators and while compiling.
    """
    if is_compiling():
        return False
    if check_finite is None:
        return host_reads_are_free(t)
    return bool(check_finite)


def check_features(name: str, X: object, check_finite: bool | None) -> Tensor:
    if not isinstance(X, Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor of shape (n_samples, n_features), got {type(X).__name__}"
        )
    if X.dim() != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features), got shape {tuple(X.shape)}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(
            f"{name} is empty (shape {tuple(X.shape)}); it needs at least one sample and one feature"
        )
    if not X.is_floating_point():
        raise TypeError(
            f"{name} must have a floating dtype (float16/bfloat16/float32/float64), got {X.dtype}"
        )
    if want_value_checks(X, check_finite) and not bool(torch.isfinite(X).all()):
        raise ValueError(f"{name} contains NaN or infinite values")
    return X


def check_pair(X: Tensor, Y: Tensor, xname: str = "X", yname: str = "Y") -> None:
    if X.shape[1] != Y.shape[1]:
        raise ValueError(
            f"{xname} and {yname} must have the same number of features, got {X.shape[1]} and {Y.shape[1]}"
        )
    if X.device != Y.device:
        raise ValueError(
            f"{xname} and {yname} must be on the same device, got {X.device} and {Y.device}"
        )


def check_weights(
    name: str, w: object, n: int, like: Tensor, check_finite: bool | None
) -> Tensor | None:
    if w is None:
        return None
    if not isinstance(w, Tensor):
        try:
            w = torch.as_tensor(w, dtype=like.dtype, device=like.device)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise TypeError(
                f"{name} must be a 1-D tensor or array of non-negative weights"
            ) from exc
    if w.dim() != 1 or w.shape[0] != n:
        raise ValueError(
            f"{name} must be 1-D of length {n} (one weight per sample), got shape {tuple(w.shape)}"
        )
    if not w.is_floating_point():
        w = w.to(like.dtype)
    if w.device != like.device:
        raise ValueError(f"{name} must be on device {like.device}, got {w.device}")
    if want_value_checks(w, check_finite):
        if not bool(torch.isfinite(w).all()):
            raise ValueError(f"{name} contains NaN or infinite values")
        if bool((w < 0).any()):
            raise ValueError(f"{name} must be non-negative")
        if not bool(w.sum() > 0):
            raise ValueError(f"{name} must not be all zero")
    return w


def check_choice(name: str, value: object, choices: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
    return value


def check_multipliers(multipliers: object) -> tuple[float, ...]:
    if isinstance(multipliers, numbers.Real) and not isinstance(multipliers, bool):
        multipliers = (multipliers,)
    if isinstance(multipliers, Tensor):
        multipliers = multipliers.detach().cpu().flatten().tolist()
    try:
        mult = tuple(float(m) for m in multipliers)  # type: ignore[union-attr]
    except TypeError as exc:
        raise TypeError(
            f"multipliers must be a sequence of positive numbers, got {multipliers!r}"
        ) from exc
    if len(mult) == 0:
        raise ValueError("multipliers must not be empty")
    if any(not (m > 0) or m == float("inf") for m in mult):
        raise ValueError(f"multipliers must be positive and finite, got {mult}")
    return mult


def check_block_size(block_size: object) -> int | None:
    if block_size is None:
        return None
    if isinstance(block_size, bool) or not isinstance(block_size, numbers.Integral):
        raise TypeError(f"block_size must be a positive int or None, got {block_size!r}")
    if int(block_size) < 1:
        raise ValueError(f"block_size must be a positive int, got {block_size}")
    return int(block_size)
