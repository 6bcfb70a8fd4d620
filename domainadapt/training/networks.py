"""Small networks used by the deep strategies: an MLP, LeNet, heads and a discriminator."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

__all__ = ["MLP", "LeNet", "Discriminator", "infer_output_dim"]

#: The normalisation layers the default MLP can put after each hidden layer.
NORMS: dict[str | None, Any] = {None: None, "batch": nn.BatchNorm1d, "layer": nn.LayerNorm}


def _check_sizes(name: str, sizes: Sequence[int] | int) -> tuple[int, ...]:
    if isinstance(sizes, int) and not isinstance(sizes, bool):
        sizes = (sizes,)
    try:
        out = tuple(sizes)
    except TypeError:
        raise ValueError(f"{name} must be a sequence of positive ints; got {sizes!r}.") from None
    for s in out:
        if isinstance(s, bool) or not isinstance(s, int) or s < 1:
            raise ValueError(f"{name} must be a sequence of positive ints; got {sizes!r}.")
    return out


def _check_dropout(dropout: float) -> float:
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise ValueError(f"dropout must be a float in [0, 1); got {dropout!r}.")
    return float(dropout)


class MLP(nn.Module):
    """Multi-layer perceptron ``Flatten -> [Linear -> (Norm) -> ReLU -> Dropout] * len(hidden_sizes)``.

    Parameters
    ----------
    in_features : int
        Number of input features (inputs of any shape are flattened first).
    hidden_sizes : sequence of int, default=(64, 64)
        Width of each hidden layer; empty gives the identity (a linear model
        once a head is put on top).
    dropout : float, default=0.0
        Dropout after each hidden layer.
    input_mean, input_scale : array-like of shape (in_features,), optional
        Standardise the flattened inputs first, ``(x - input_mean) / input_scale``
        (given together). They are stored as buffers ``input_mean`` and
        ``input_scale``, so they follow ``state_dict``, ``.to(device)`` and pickling,
        and every forward pass (training, prediction, a teacher network reused
        elsewhere) sees the same scaling.
    norm : {None, "batch", "layer"}, default=None
        A normalisation layer after each hidden ``Linear`` (before the ReLU):
        ``nn.BatchNorm1d`` or ``nn.LayerNorm``, each with affine parameters (what
        :class:`~domainadapt.model.TENT` adapts). ``None`` (the default of every
        strategy but TENT): none.

    Attributes
    ----------
    out_features : int
        Width of the output (``in_features`` when there is no hidden layer).
    standardizes : bool
        Whether the inputs are standardised.

    Examples
    --------
    Inputs of any shape are flattened (here 2x2 to 4 features):

    >>> import torch
    >>> mlp = MLP(4, hidden_sizes=(16, 8))
    >>> mlp(torch.zeros(3, 2, 2)).shape, mlp.out_features
    (torch.Size([3, 8]), 8)

    Without hidden layers only the standardisation remains:

    >>> scaled = MLP(2, hidden_sizes=(), input_mean=[1.0, 2.0], input_scale=[2.0, 4.0])
    >>> scaled.standardizes
    True
    >>> scaled(torch.tensor([[3.0, 6.0]]))
    tensor([[1., 1.]])
    """

    def __init__(
        self,
        in_features: int,
        hidden_sizes: Sequence[int] = (64, 64),
        dropout: float = 0.0,
        input_mean: Any = None,
        input_scale: Any = None,
        norm: str | None = None,
    ):
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {sorted(NORMS, key=str)}; got {norm!r}.")
        if isinstance(in_features, bool) or not isinstance(in_features, int) or in_features < 1:
            raise ValueError(f"in_features must be a positive int; got {in_features!r}.")
        sizes = _check_sizes("hidden_sizes", hidden_sizes)
        dropout = _check_dropout(dropout)
        if (input_mean is None) != (input_scale is None):
            raise ValueError("input_mean and input_scale must be given together.")
        self.standardizes = input_mean is not None
        if self.standardizes:
            mean = torch.as_tensor(input_mean, dtype=torch.float32).reshape(-1)
            scale = torch.as_tensor(input_scale, dtype=torch.float32).reshape(-1)
            if mean.numel() != in_features or scale.numel() != in_features:
                raise ValueError(
                    f"input_mean and input_scale must have in_features={in_features} values; "
                    f"got {mean.numel()} and {scale.numel()}."
                )
            if not bool(torch.all(scale > 0)) or not bool(torch.all(torch.isfinite(mean))):
                raise ValueError("input_scale must be positive and input_mean finite.")
            self.register_buffer("input_mean", mean.clone())
            self.register_buffer("input_scale", scale.clone())
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_features
        for h in sizes:
            layers.append(nn.Linear(width, h))
            if norm is not None:
                layers.append(NORMS[norm](h))
            layers.append(nn.ReLU())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        self.layers = nn.Sequential(*layers)
        self.out_features = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.standardizes:
            x = (x.flatten(1) - self.input_mean) / self.input_scale
        return self.layers(x)


class LeNet(nn.Module):
    """LeNet-style feature extractor for digits (MNIST, USPS, SVHN-gray).

    ``conv 5x5 (20) -> ReLU -> maxpool 2 -> conv 5x5 (50) -> ReLU -> maxpool 2 ->
    adaptive average pool 4x4 -> Linear(800, out_features) -> ReLU -> Dropout``.
    The convolutions are zero-padded and the adaptive pooling fixes the grid, so
    any input of at least 4x4 pixels works (1x28x28 MNIST, 1x16x16 USPS).

    Parameters
    ----------
    in_channels : int, default=1
    out_features : int, default=500
        Width of the feature layer (the classifier head sits on top).
    dropout : float, default=0.5

    References
    ----------
    Y. LeCun, L. Bottou, Y. Bengio, P. Haffner. "Gradient-based learning applied to
    document recognition". Proc. IEEE 86(11), 1998. The 20/50/500 widths are
    those used for digits by Ganin et al. (JMLR 2016) and Long et al. (2018).

    Examples
    --------
    >>> import torch
    >>> LeNet()(torch.zeros(2, 1, 28, 28)).shape  # MNIST
    torch.Size([2, 500])
    >>> LeNet(out_features=128)(torch.zeros(2, 1, 16, 16)).shape  # USPS
    torch.Size([2, 128])

    As the ``network`` of a deep strategy, pass the class or a factory
    (``functools.partial(LeNet, out_features=128)``), initialised from
    ``random_state``.
    """

    def __init__(self, in_channels: int = 1, out_features: int = 500, dropout: float = 0.5):
        super().__init__()
        for name, v in (("in_channels", in_channels), ("out_features", out_features)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int; got {v!r}.")
        dropout = _check_dropout(dropout)
        self.conv = nn.Sequential(
            nn.Conv2d(in_channels, 20, 5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(20, 50, 5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(4),
            nn.Flatten(),
        )
        fc: list[nn.Module] = [nn.Linear(50 * 16, out_features), nn.ReLU()]
        if dropout > 0:
            fc.append(nn.Dropout(dropout))
        self.fc = nn.Sequential(*fc)
        self.in_channels = in_channels
        self.out_features = out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"LeNet expects images of shape (n, {self.in_channels}, H, W); "
                f"got {tuple(x.shape)}."
            )
        return self.fc(self.conv(x))


class Discriminator(nn.Module):
    """Domain discriminator: an MLP ending in **one logit** (use ``BCEWithLogits``).

    A single logit with a sigmoid (not a one-unit softmax, whose output is the
    constant 1 and passes no gradient) is what makes adversarial training move
    the features.

    Parameters
    ----------
    in_features : int
    hidden_sizes : sequence of int, default=(64,)
    dropout : float, default=0.0

    Examples
    --------
    DANN's domain loss: one logit per row, the features seen through a gradient
    reversal, so they receive the negated gradient of the discriminator's loss:

    >>> import torch
    >>> from torch.nn.functional import binary_cross_entropy_with_logits as bce
    >>> from domainadapt.ops import GradientReversal
    >>> _ = torch.manual_seed(0)
    >>> disc = Discriminator(8, hidden_sizes=(16,))
    >>> features = torch.randn(6, 8, requires_grad=True)
    >>> is_source = torch.tensor([1.0, 1.0, 1.0, 0.0, 0.0, 0.0])
    >>> logits = disc(GradientReversal(1.0)(features))
    >>> logits.shape
    torch.Size([6])
    >>> bce(logits, is_source).backward()
    >>> reversed_grad, features.grad = features.grad, None
    >>> bce(disc(features), is_source).backward()
    >>> torch.allclose(reversed_grad, -features.grad)
    True
    """

    def __init__(self, in_features: int, hidden_sizes: Sequence[int] = (64,), dropout: float = 0.0):
        super().__init__()
        self.body = MLP(in_features, hidden_sizes, dropout)
        self.out = nn.Linear(self.body.out_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(x)).squeeze(-1)


def infer_output_dim(module: nn.Module, example: torch.Tensor, name: str = "network") -> int:
    """Flattened output width of ``module`` on ``example`` (a small batch), without gradients.

    Raises a ``ValueError`` naming ``name`` when the module cannot take the input
    (wrong number of features or channels): the error a user sees before any
    training step.
    """
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            out = module(example)
    except Exception as exc:  # noqa: BLE001 - re-raised with the argument named
        raise ValueError(
            f"{name} cannot process inputs of shape {tuple(example.shape[1:])} (per sample): "
            f"{type(exc).__name__}: {exc}"
        ) from None
    finally:
        module.train(was_training)
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"{name} must return a tensor; got {type(out).__name__}.")
    if out.dim() < 1 or out.shape[0] != example.shape[0]:
        raise ValueError(
            f"{name} must return one row per sample: input batch of {example.shape[0]} gave an "
            f"output of shape {tuple(out.shape)}."
        )
    return int(out[0].numel())
