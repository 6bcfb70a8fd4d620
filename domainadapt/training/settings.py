"""Resolving a :class:`~domainadapt.training.DeepAdapter`'s settings before training.

Parameter checks, the seed, the number of epochs (``n_epochs=None``), the
hyper-parameters handed to the engine, the CPU thread count of ``n_threads="auto"``
(:func:`forward_macs`, :func:`resolve_threads`) and the seeded context training runs in.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import torch
from sklearn.utils import check_random_state
from torch import nn

from .data import LoaderData
from .hooks import TrainConfig

if TYPE_CHECKING:  # pragma: no cover
    from .adapter import DeepAdapter

__all__ = [
    "AUTO_STEPS",
    "AUTO_THREADS_MIN_MACS",
    "available_cores",
    "check_deep_params",
    "check_compile_available",
    "compiled_forward",
    "forward_macs",
    "make_train_config",
    "resolve_epochs",
    "resolve_seed",
    "resolve_threads",
    "training_context",
]

#: Optimisation iterations aimed at when ``n_epochs=None``.
AUTO_STEPS = 600


#: Multiply-adds of one forward pass over one batch (:func:`forward_macs`) from which
#: ``n_threads="auto"`` uses more than one CPU thread; see ``DeepAdapter``'s Notes for
#: the measurement behind it.
AUTO_THREADS_MIN_MACS = 10_000_000_000


@contextlib.contextmanager
def training_context(seed: int, device: torch.device, n_threads: int | None) -> Iterator[None]:
    """Seed torch inside a forked RNG (the global state is restored on exit), and
    optionally set the thread count and deterministic cuDNN for the duration.

    The caller's intra-op thread count is restored on exit whenever it changed
    inside (``n_threads``, or a count set later in the block, e.g. by
    ``n_threads="auto"`` once the model is built)."""
    devices = (
        [device.index if device.index is not None else torch.cuda.current_device()]
        if (device.type == "cuda")
        else []
    )
    prev_threads = torch.get_num_threads()
    prev_cudnn = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    with torch.random.fork_rng(devices=devices):
        try:
            torch.manual_seed(seed)
            if n_threads is not None:
                torch.set_num_threads(n_threads)
            if device.type == "cuda":
                torch.backends.cudnn.deterministic = True
                torch.backends.cudnn.benchmark = False
            yield
        finally:
            if torch.get_num_threads() != prev_threads:
                torch.set_num_threads(prev_threads)
            torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = prev_cudnn


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask; ``os.cpu_count()`` where
    the platform has none), divided among the processes of a ``torchrun`` launch on
    this node (``LOCAL_WORLD_SIZE``)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - macOS, Windows
        cores = os.cpu_count() or 1
    try:
        local = max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    except ValueError:
        local = 1
    return max(1, cores // local)


_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_CONV_T = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
_NO_MACS = (nn.Embedding, nn.EmbeddingBag, nn.modules.batchnorm._NormBase, nn.LayerNorm,
            nn.GroupNorm)


def forward_macs(
    parts: nn.Module,
    forward: Callable[[nn.Module, torch.Tensor], Any],
    input_shape: tuple[int, ...],
    batch_size: int,
) -> int:
    """Multiply-adds of one forward pass of ``parts`` over a batch of ``batch_size`` rows.

    ``forward(parts, x)`` (a method's ``_predict_logits``) runs once on two rows of
    zeros (the dummy batch the parts were checked with), in evaluation mode, without gradients and inside a forked RNG (so it
    changes neither the modules nor the random streams); forward hooks count the
    linear and convolution layers it calls from their real output shapes
    (:math:`\text{out.numel()} \times` fan-in). Layers of ``parts`` it does not
    call (a domain discriminator, a second classifier) count one multiply-add per
    weight and row (their spatial size is unknown), other layers with weights
    (recurrent, attention ...) the same; embeddings and normalisation layers count
    nothing. The sum per row times ``batch_size`` is the result: a cheap,
    deterministic measure of the work of one training step (which is roughly three
    times this, forward and backward, on each of the source and target batches).

    Examples
    --------
    >>> from torch import nn
    >>> parts = nn.ModuleDict({"features": nn.Linear(10, 4), "classifier": nn.Linear(4, 2),
    ...                        "discriminator": nn.Linear(4, 1)})
    >>> def forward(parts, x):
    ...     return parts["classifier"](parts["features"](x))
    >>> forward_macs(parts, forward, (10,), batch_size=64)  # 64 * (40 + 8 + 4)
    3328
    >>> conv = nn.ModuleDict({"features": nn.Sequential(nn.Conv2d(3, 8, 3, padding=1),
    ...                                                 nn.Flatten()),
    ...                       "classifier": nn.Linear(8 * 16 * 16, 2)})
    >>> forward_macs(conv, forward, (3, 16, 16), batch_size=1)  # 8*16*16*27 + 2048*2
    59392
    """
    called: set[nn.Module] = set()
    total = 0

    def hook(module: nn.Module, inputs: Any, output: Any) -> None:
        nonlocal total
        if not isinstance(output, torch.Tensor):
            return
        if isinstance(module, nn.Linear):
            total += output.numel() * module.in_features
        elif isinstance(module, _CONV):
            k = math.prod(module.kernel_size)
            total += output.numel() * (module.in_channels // module.groups) * k
        elif isinstance(module, _CONV_T):
            k = math.prod(module.kernel_size)
            total += inputs[0].numel() * (module.out_channels // module.groups) * k
        else:
            return
        called.add(module)

    layers = [m for m in parts.modules() if isinstance(m, (nn.Linear, *_CONV, *_CONV_T))]
    handles = [m.register_forward_hook(hook) for m in layers]
    was_training = parts.training
    param = next(parts.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    try:
        parts.eval()
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            forward(parts, torch.zeros((2, *input_shape), device=device))
    finally:
        for h in handles:
            h.remove()
        parts.train(was_training)
    for m in parts.modules():
        if m in called or isinstance(m, _NO_MACS) or any(True for _ in m.children()):
            continue
        total += 2 * sum(p.numel() for p in m.parameters(recurse=False) if p.dim() > 1)
    return int(total) * int(batch_size) // 2


def resolve_threads(
    n_threads: int | str | None, device: torch.device, macs: Callable[[], int]
) -> int | None:
    """The intra-op thread count to train with (``None``: leave torch's setting as it is).

    ``"auto"`` on a CPU device: 1 thread when ``macs()`` (:func:`forward_macs` of one
    batch) is below :data:`AUTO_THREADS_MIN_MACS`, else ``torch.get_num_threads()``
    capped at :func:`available_cores`; on CUDA ``None`` (``macs`` is not called). An
    int is returned as given, ``None`` as ``None``.

    Examples
    --------
    >>> cpu = torch.device("cpu")
    >>> resolve_threads("auto", cpu, lambda: 10_000)
    1
    >>> resolve_threads(3, cpu, lambda: 0), resolve_threads(None, cpu, lambda: 0)
    (3, None)
    """
    if n_threads != "auto":
        return None if n_threads is None else int(n_threads)
    if device.type != "cpu":
        return None
    if macs() < AUTO_THREADS_MIN_MACS:
        return 1
    return max(1, min(torch.get_num_threads(), available_cores()))


def check_compile_available() -> None:
    """Raise a ``RuntimeError`` naming ``compile`` when :func:`torch.compile` is
    unsupported here (an old torch, a Python version its compiler does not support yet)."""
    reason = None
    if not hasattr(torch, "compile") or not hasattr(nn.Module, "compile"):
        reason = f"torch {torch.__version__} has no torch.compile / nn.Module.compile"
    else:
        try:
            from torch._dynamo.eval_frame import check_if_dynamo_supported

            check_if_dynamo_supported()
        except Exception as exc:  # noqa: BLE001 - reported with the parameter named
            reason = f"{type(exc).__name__}: {exc}"
    if reason is not None:
        raise RuntimeError(
            f"compile=True needs torch.compile, which is unavailable here ({reason}); "
            "use compile=False."
        )


@contextlib.contextmanager
def compiled_forward(parts: nn.ModuleDict, enabled: bool = True) -> Iterator[None]:
    """Run the forward passes of every part through :func:`torch.compile` for the
    duration (``compile=True``).

    Each part (``features``, ``classifier``, a discriminator ...) is compiled in
    place (:meth:`torch.nn.Module.compile`: same module, same parameters and
    ``state_dict``, so optimisers, checkpoints and DDP see nothing different), and
    set back to eager on exit, so the fitted ``parts_`` predict, copy and pickle
    as usual. Nothing is compiled before the first step. Random layers (dropout)
    draw from torch's generator as in eager mode
    (``torch._inductor.config.fallback_random``), so a compiled fit follows
    ``random_state`` like an eager one. ``enabled=False``: nothing happens.
    """
    if not enabled:
        yield
        return
    check_compile_available()
    from torch._inductor import config as inductor_config

    modules = list(parts.values())
    for m in modules:
        m.compile()
    try:
        with inductor_config.patch(fallback_random=True):
            yield
    finally:
        for m in modules:
            m._compiled_call_impl = None


def resolve_seed(random_state: Any) -> int:
    """An integer seed from ``random_state`` (an int is kept, modulo :math:`2^{62}`)."""
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        return int(random_state) % (2**62)
    return int(check_random_state(random_state).randint(0, 2**31 - 1))


def resolve_epochs(n_epochs: int | None, source: Any, batch_size: int) -> int:
    """``n_epochs``, or enough epochs for about :data:`AUTO_STEPS` iterations (5 to 200)."""
    if n_epochs is not None:
        return int(n_epochs)
    if isinstance(source, LoaderData):
        spe = source.n_batches or 1
    else:
        spe = max(1, len(source) // batch_size)
    return int(min(200, max(5, math.ceil(AUTO_STEPS / spe))))


def make_train_config(adapter: DeepAdapter, n_epochs: int) -> TrainConfig:
    """The engine's hyper-parameters, read from the adapter's parameters once."""
    a = adapter
    return TrainConfig(
        n_epochs=n_epochs,
        batch_size=int(a.batch_size),
        lr=a.lr,
        optimizer=a.optimizer,
        momentum=a.momentum,
        weight_decay=a.weight_decay,
        lr_schedule=a.lr_schedule,
        max_grad_norm=a.max_grad_norm,
        mixed_precision=bool(a.mixed_precision),
        progress=a.progress,
        num_workers=int(a.num_workers),
        name=type(a).__name__,
    )


def check_deep_params(adapter: DeepAdapter) -> None:
    """Check the combinations of parameters every deep adapter shares.

    Each parameter's own range is declared in ``DeepAdapter._parameter_constraints``
    (checked when ``fit`` starts); what is left here relates two parameters.
    """
    a = adapter
    if a.standardize != "auto" and bool(a.standardize) and a.network is not None:
        raise ValueError(
            "standardize=True applies to the default MLP only (network=None); a custom "
            "network normalises its own inputs."
        )
    if a.resume is not False and a.checkpoint_dir is None:
        raise ValueError("resume needs checkpoint_dir (where the checkpoint is).")
