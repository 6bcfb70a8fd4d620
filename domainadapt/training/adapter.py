"""The base estimator of every deep (PyTorch) strategy, whatever its family.

A new deep method is its loss and its model parts, nothing else: subclass
:class:`DeepAdapter` (importable from :mod:`domainadapt.training`), list the
method's own hyper-parameters in ``__init__`` (forwarding ``**kwargs`` to the base),
and implement

* ``_build_parts(input_shape, n_classes) -> dict[str, nn.Module]``: call
  ``super()._build_parts(...)`` for ``"features"`` and ``"classifier"`` and add what
  the method needs (a discriminator, a second classifier ...);
* ``_training_loss(parts, batch, state) -> (loss, logs)``: the scalar loss of one
  batch and a dict of values to log (tensors or floats; averaged per epoch into
  ``history_``). The base's own is the supervised loss alone, so a bare
  ``DeepAdapter`` is the source-only network (a teacher, a source stage).

Optional hooks: ``_predict_logits(parts, x)`` (default: classifier on features),
``_make_reversal_schedule(max_steps)`` (a :class:`~domainadapt.ops.ReversalSchedule`
the engine steps once per iteration), ``_param_groups(parts)`` (several named
optimisers or per-group learning rates), ``_training_step(parts, batch, state)``
(several optimisation steps per batch, e.g. MCD: call ``state.optimize(loss, name)``
for each; under ``torch.distributed`` a method that overrides it is trained with a
flat gradient all-reduce after each backward, every other one inside
``DistributedDataParallel``), ``_on_epoch_start(parts, state)`` (work on the whole
data once per epoch, e.g. clustering the target) and ``_make_context(**fields)`` (a
:class:`~domainadapt.training.hooks.FitContext` subclass holding what the method
needs for the duration of one fit, read by the hooks as ``state.context``; nothing
temporary goes on ``self``). The engine (:class:`~domainadapt.training.Trainer`)
does everything else; ``fit``'s inputs are handled in :mod:`~domainadapt.training.inputs`,
data conversion is in :mod:`~domainadapt.training.conversion`, save/load in
:mod:`~domainadapt.training.persistence`.
"""

from __future__ import annotations

import copy
import inspect
import os
from collections.abc import Sequence
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from sklearn.utils._param_validation import HasMethods, StrOptions
from torch import Tensor, nn

from .._utils import Interval, resolve_device
from ..base import ModelAdapter
from ..ops import ReversalSchedule
from .architecture import DefaultNetworkMixin
from .callbacks import Checkpoint
from .conversion import hold_out
from .data import Batch
from .distributed import distributed_context
from .engine import Trainer, default_source_loss
from .hooks import FitContext, TrainHooks, TrainState
from .inference import NetworkInferenceMixin
from .inputs import FitInputMixin
from .optim import LR_SCHEDULES, OPTIMIZERS
from .persistence import PersistenceMixin
from .settings import (
    check_compile_available,
    check_deep_params,
    compiled_forward,
    forward_macs,
    make_train_config,
    resolve_epochs,
    resolve_seed,
    resolve_threads,
    training_context,
)

__all__ = ["DeepAdapter"]


class DeepAdapter(
    FitInputMixin, NetworkInferenceMixin, PersistenceMixin, DefaultNetworkMixin, ModelAdapter
):
    r"""Base class of every deep strategy (trained by one engine), whatever its family.

    Fitted with ``fit(source, target)`` like every strategy; ``source`` and
    ``target`` may also be ``torch.utils.data.Dataset`` or ``DataLoader`` objects
    (items ``(x, y)`` / ``(x, y, weight)`` for the source, ``x`` or ``(x, y)`` with
    ``y = -1`` on unlabelled rows for the target; labels are then class indices).

    Parameters
    ----------
    network : nn.Module, callable or None, optional
        Feature extractor. A module is copied with its current weights (e.g.
        pretrained ones; the argument is never modified), so ``random_state`` does not
        change its initial weights; a class or zero-argument factory (``LeNet``,
        ``functools.partial(LeNet, out_features=128)``) is called inside the seeded
        context, so its initialisation follows ``random_state``. The output width is
        found by a forward pass on a dummy batch. ``None`` builds an
        :class:`~domainadapt.training.MLP` with ``hidden_sizes``, ``dropout`` and
        ``standardize`` (their ``"auto"`` values are resolved from the data at ``fit``).
    hidden_sizes : sequence of int, default=(64, 64)
        Hidden layers of the default MLP.
    dropout : float or "auto", default="auto"
        Dropout after each hidden layer of the default MLP. ``"auto"`` resolves to
        0.5 (Srivastava et al. 2014) when the input layer has more weights than
        there are labelled training rows, :math:`d\,h_1 > n_s` (``d`` input
        features, ``h_1`` the first hidden width), and to 0 otherwise. Wide inputs
        let the network memorise the source through its own features (words that
        never occur in the target, pixel patterns of one domain); low-dimensional
        inputs (2-D toys, :math:`d h_1 \le n_s`) are regularised by the data and
        dropout would only add noise to the alignment. With ``(64, 64)`` and a few
        thousand rows it is 0.5 for 8x8 digits, 16x16 MNIST/USPS and text with
        hundreds of words, where without it the network falls up to 8 points
        below a linear model on word counts (``benchmarks/results/deep_defaults.md``);
        0 for 2-D data. Resolved value in ``dropout_``.
    standardize : bool or "auto", default="auto"
        Standardise the inputs of the default MLP feature-wise,
        :math:`(x - \mu) / \sigma`, with :math:`\mu, \sigma` the mean and standard
        deviation of the **source and target rows pooled** (unsupervised; a
        constant feature keeps a scale of 1). The statistics are buffers of the
        MLP (``parts_["features"].input_mean`` / ``input_scale``), so prediction,
        ``transform``, checkpoints and :meth:`save` apply the same scaling; copies
        are in ``input_mean_`` / ``input_scale_``. It puts every input on the scale
        the initialisation and ``lr`` assume, whatever the data's units: raw word
        counts, L2-normalised rows (entries ~0.06, where the adapters collapsed to
        chance) or pixels in [0, 1]. ``"auto"``: ``True`` when ``network`` is
        ``None``, ``False`` otherwise (a user network, e.g. a CNN on images, sees its
        inputs unchanged). ``True`` with a ``network`` raises a ``ValueError``: put the
        normalisation in the network. Resolved value in ``standardize_``.
    n_epochs : int, optional
        Passes over the source. ``None``: enough epochs for about 600 iterations
        (at least 5, at most 200).
    batch_size : int, default=64
        Rows per iteration from each domain (the *global* batch under
        ``torch.distributed``, split evenly across ranks). The last incomplete source
        batch of an epoch is dropped (rows are re-shuffled every epoch).
    lr : float, default=1e-3
        Base learning rate.
    optimizer : {"adam", "adamw", "sgd"}, default="adam"
    momentum : float, default=0.9
        Momentum of SGD.
    weight_decay : float, default=0.0
    lr_schedule : {None, "inverse", "cosine"}, default=None
        ``"inverse"`` is the annealing of DANN/CDAN, :math:`\eta_p = \eta_0 (1 + 10p)^{-0.75}`
        with :math:`p` the training progress in [0, 1].
    max_grad_norm : float, optional
        Clip the gradient norm.
    device : str or torch.device, default="auto"
        ``"auto"``: CUDA when available, else CPU.
    mixed_precision : bool, default=False
        ``torch.autocast`` (bfloat16 on CPU; float16 with a gradient scaler on CUDA).
    callbacks : list, optional
        :class:`~domainadapt.training.EarlyStopping`, :class:`~domainadapt.training.Checkpoint`
        or any :class:`~domainadapt.training.Callback`; deep-copied at ``fit``
        (fitted copies in ``callbacks_``).
    checkpoint_dir : str or path, optional
        Save the training state to ``checkpoint_dir/last.pt`` at every epoch end
        (and on ``KeyboardInterrupt`` between steps).
    checkpoint_every : int, optional
        Also save every this many iterations.
    resume : bool or "auto", default=False
        Continue from ``checkpoint_dir/last.pt`` (``True``: it must exist; ``"auto"``:
        when it exists). The result is bitwise identical to an uninterrupted run on
        the same device (array or Dataset inputs).
    progress : bool, optional
        tqdm progress bar with the running losses; ``None``: only when stderr is a TTY.
    num_workers : int, default=0
        DataLoader workers for Dataset inputs.
    n_classes : int, optional
        Number of classes for Dataset/DataLoader inputs (scanned from the labels when
        omitted); array inputs take their classes from the labels.
    estimator : scikit-learn estimator, optional
        Fitted after training on the learned features (``features`` part) of the
        labelled rows; ``predict`` then uses it instead of the network's head.
    distributed : bool or "auto", default="auto"
        Data-parallel training when a ``torch.distributed`` process group is initialised
        (every rank calls ``fit`` with the same data and ``random_state``): array and
        Dataset inputs are sharded per global batch automatically, and gradients are
        averaged across ranks, by ``DistributedDataParallel`` for methods with one
        backward per iteration and by a flat all-reduce for those overriding
        ``_training_step`` (MCD; see :mod:`domainadapt.training.distributed`); a user
        DataLoader is used as given (give it a ``DistributedSampler``). Only rank 0
        writes checkpoints.
    n_threads : int, "auto" or None, default="auto"
        CPU intra-op threads (``torch.set_num_threads``) during ``fit`` only; the
        caller's count is restored afterwards. ``"auto"``: chosen from the work of
        one step (see Notes), on a CPU device only: 1 thread for small models (MLPs
        on tabular or text data, LeNet-sized networks), whose steps are too short
        to share between threads and collapse when another process competes for
        the cores; for big ones, torch's own count (``torch.get_num_threads()``)
        capped at the cores this process may run on (``os.sched_getaffinity``,
        divided among the processes of a ``torchrun`` launch on the node). On
        CUDA the count is left alone. An int: that count. ``None``: torch's count
        as it is (the behaviour before ``"auto"``). Used count in ``n_threads_``.
    compile : bool, default=False
        Run the forward passes of every model part (``features``, ``classifier``,
        a discriminator ...) through :func:`torch.compile` during training (see
        Notes). Needs a platform ``torch.compile`` supports (a C++ compiler on CPU);
        a ``RuntimeError`` naming ``compile`` is raised where it is unsupported.
    random_state : int, RandomState or None
        Seeds the initialisation (of the default MLP, of a ``network`` factory and of
        the heads), the batch order and dropout; the global torch RNG is restored
        after ``fit``. A ``network`` *instance* keeps its own initial weights.

    Attributes
    ----------
    parts_ : nn.ModuleDict
        The trained modules (``"features"``, ``"classifier"``, ...).
    classes_ : ndarray
    n_classes_ : int
    input_shape_ : tuple
        Shape of one input row.
    history_ : list of dict
        One record per epoch: ``epoch``, ``step``, the mean of each logged loss,
        ``lr``, ``time`` (seconds) and callback metrics.
    n_iter_ : int
        Optimisation iterations done.
    n_epochs_ : int
        The resolved number of epochs.
    n_threads_ : int
        The intra-op thread count training ran with (the one ``"auto"`` chose, the
        ``n_threads`` given, or the caller's count for ``None`` and on CUDA).
    dropout_ : float or None
        The resolved dropout of the default MLP (``None`` with a ``network``).
    standardize_ : bool
        Whether the inputs are standardised.
    input_mean_, input_scale_ : ndarray of shape (``n_features_in_``,) or None
        The standardisation's statistics (``None`` when ``standardize_`` is False).
    estimator_ : estimator
        Only with ``estimator``.

    See Also
    --------
    domainadapt.training.Trainer : The training loop every deep strategy runs.
    domainadapt.training.settings.forward_macs : The work estimate of ``n_threads="auto"``.

    Notes
    -----
    **Threads** (``n_threads="auto"``). The work of one step is estimated once, after
    the parts are built, as the multiply-adds of one forward pass of the parts over
    one batch (``batch_size`` rows), counted by forward hooks on the linear and
    convolution layers during one forward of two rows
    (:func:`~domainadapt.training.settings.forward_macs`; deterministic, a few
    milliseconds). Below
    :data:`~domainadapt.training.settings.AUTO_THREADS_MIN_MACS`
    (:math:`10^{10}` multiply-adds) training uses one thread, above it
    ``min(torch.get_num_threads(), available cores)``. The threshold comes from
    ``python benchmarks/deep_throughput.py --thread-sweep --repeats 1`` (DANN, batch
    64 + 64, a 2-core machine shared with other jobs, load average 5.9-7.0; table in
    ``benchmarks/results/deep_throughput.md``): 2 threads were slower per step than
    1 thread for every model measured, 1.2 to 220 times (mostly 6-15 times) for
    every model up to 0.66 G multiply-adds (MLPs from two-moons to 2000-1024-1024
    inputs, LeNet on 16x16 and 28x28, a small convolution net on 32x32), with or
    without a second process running torch matmuls; 1.2-1.6 times at 2.6 G; 1.2
    times (1.08 under the second process) at 10.6 G, where a step takes 5-8 s and
    a thread that loses its core costs little against the work of one operation.
    From :math:`10^{10}` on, the worst case measured on a busy machine is thus a
    fifth slower, while an idle machine can run up to its core count faster; below
    it, one thread was always faster here. (No idle machine was available for the
    measurement: the gain of several threads on one is not
    measured, only bounded by the core count.)

    **Compiled step** (``compile=True``). Each part is compiled in place with
    :meth:`torch.nn.Module.compile` for the duration of training and set back to
    eager afterwards (``parts_`` predicts, saves and pickles as usual); the loss
    terms, the backward pass and the optimiser step run eagerly, because the
    methods' losses read per-step Python values (the gradient-reversal coefficient,
    the training progress) on which a compiled loss would be re-traced at every
    step. Dropout draws from torch's generator as in eager mode
    (``torch._inductor.config.fallback_random``), so predictions and weights match
    ``compile=False`` with the same ``random_state`` up to float rounding
    (``tests/test_training_compile.py``). The first steps pay the compilation
    (seconds to a minute; later fits of the same shapes in the same process reuse
    it), so it pays off on long runs of big networks, mostly on a GPU.

    Known limit of the defaults: on MNIST→USPS (16x16 pixels, per-row L2
    normalisation) the default MLP stays 5-14 points below a logistic regression on
    the raw pixels, with or without adaptation (before the defaults it was 8-38
    points below). Per-pixel standardisation stretches border pixels that are
    empty in MNIST but inked in USPS; for images, pass a convolutional ``network``
    (then the inputs are not standardised), as ``benchmarks/deep_digits.py`` does.

    References
    ----------
    N. Srivastava, G. Hinton, A. Krizhevsky, I. Sutskever, R. Salakhutdinov.
    "Dropout: A Simple Way to Prevent Neural Networks from Overfitting". JMLR 15, 2014.

    Examples
    --------
    The base class alone trains the network on the source (no adaptation term; the
    strategies of :mod:`domainadapt.model` and :mod:`domainadapt.relation` add theirs):

    >>> import numpy as np
    >>> rng = np.random.RandomState(0)
    >>> X_s, X_t = rng.randn(64, 2), rng.randn(64, 2) + 0.5
    >>> y_s = (X_s[:, 0] > 0).astype(int)
    >>> model = DeepAdapter(hidden_sizes=(8,), n_epochs=5, lr=0.05, batch_size=16,
    ...                     progress=False, random_state=0).fit((X_s, y_s), X_t)
    >>> sorted(model.parts_), model.n_iter_, len(model.history_)
    (['classifier', 'features'], 20, 5)
    >>> model.predict_proba(X_t[:3]).shape
    (3, 2)
    >>> model.score(X_s, y_s) > 0.9
    True
    """

    _allow_nd = True

    _parameter_constraints: dict = {
        **ModelAdapter._parameter_constraints,
        "network": [callable, None],
        "hidden_sizes": ["array-like"],
        "dropout": [Interval(Real, 0, 1, closed="left"), StrOptions({"auto"})],
        "standardize": ["boolean", StrOptions({"auto"})],
        "n_epochs": [Interval(Integral, 1, None, closed="left"), None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "optimizer": [StrOptions(set(OPTIMIZERS))],
        "momentum": [Interval(Real, 0, None, closed="left")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "lr_schedule": [StrOptions({s for s in LR_SCHEDULES if s is not None}), None],
        "max_grad_norm": [Interval(Real, 0, None, closed="neither"), None],
        "device": [str, torch.device],
        "mixed_precision": ["boolean"],
        "callbacks": [list, tuple, None],
        "checkpoint_dir": [str, os.PathLike, None],
        "checkpoint_every": [Interval(Integral, 1, None, closed="left"), None],
        "resume": [bool, StrOptions({"auto"})],
        "progress": ["boolean", None],
        "num_workers": [Interval(Integral, 0, None, closed="left")],
        "n_classes": [Interval(Integral, 2, None, closed="left"), None],
        "estimator": [HasMethods(["fit"]), None],
        "distributed": ["boolean", StrOptions({"auto"})],
        "n_threads": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"}), None],
        "compile": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        network: nn.Module | None = None,
        hidden_sizes: Sequence[int] = (64, 64),
        dropout: float | str = "auto",
        standardize: bool | str = "auto",
        n_epochs: int | None = None,
        batch_size: int = 64,
        lr: float = 1e-3,
        optimizer: str = "adam",
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        lr_schedule: str | None = None,
        max_grad_norm: float | None = None,
        device: str | torch.device = "auto",
        mixed_precision: bool = False,
        callbacks: list | None = None,
        checkpoint_dir: str | Path | None = None,
        checkpoint_every: int | None = None,
        resume: bool | str = False,
        progress: bool | None = None,
        num_workers: int = 0,
        n_classes: int | None = None,
        estimator: Any = None,
        distributed: bool | str = "auto",
        n_threads: int | str | None = "auto",
        compile: bool = False,
        random_state: Any = None,
    ):
        self.network = network
        self.hidden_sizes = hidden_sizes
        self.dropout = dropout
        self.standardize = standardize
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.lr_schedule = lr_schedule
        self.max_grad_norm = max_grad_norm
        self.device = device
        self.mixed_precision = mixed_precision
        self.callbacks = callbacks
        self.checkpoint_dir = checkpoint_dir
        self.checkpoint_every = checkpoint_every
        self.resume = resume
        self.progress = progress
        self.num_workers = num_workers
        self.n_classes = n_classes
        self.estimator = estimator
        self.distributed = distributed
        self.n_threads = n_threads
        self.compile = compile
        self.random_state = random_state


    # ------------------------------------------------------------------ sklearn plumbing
    @classmethod
    def _get_param_names(cls) -> list[str]:
        """Parameters of every ``__init__`` along the MRO (subclasses forward ``**kwargs``)."""
        names: set[str] = set()
        for klass in cls.__mro__:
            init = klass.__dict__.get("__init__")
            if init is None or not issubclass(klass, DeepAdapter):
                continue
            for p in inspect.signature(init).parameters.values():
                if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
                    names.add(p.name)
        return sorted(names)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        if getattr(self, "estimator", None) is None:
            from sklearn.utils import ClassifierTags

            tags.estimator_type = "classifier"
            tags.classifier_tags = ClassifierTags()
        return tags

    # ------------------------------------------------------------------ extension points
    def _training_loss(
        self, parts: nn.ModuleDict, batch: Batch, state: TrainState
    ) -> tuple[Tensor, dict[str, Any]]:
        """Loss of one batch and the values to log. The base has no alignment term: the
        supervised loss of the labelled rows (source, and labelled target rows)."""
        logits_s = parts["classifier"](parts["features"](batch.source_x))
        logits_t = None
        if batch.target_labelled is not None:
            logits_t = parts["classifier"](parts["features"](batch.target_x))
        return self.classification_loss(logits_s, batch, logits_t), {}

    def _training_step(self, parts: nn.ModuleDict, batch: Batch, state: TrainState) -> dict[str, Any]:
        """One iteration: by default the loss, one backward pass, one optimiser step
        (which the engine then runs itself, inside DDP when distributed)."""
        loss, logs = self._training_loss(parts, batch, state)
        state.optimize(loss)
        return {"loss": loss.detach(), **logs}

    def _param_groups(self, parts: nn.ModuleDict) -> dict[str, list[dict[str, Any]]]:
        """Named optimisers and their parameter groups (default: one, ``"main"``)."""
        return {"main": [{"params": [p for p in parts.parameters() if p.requires_grad]}]}

    def _make_reversal_schedule(self, max_steps: int) -> ReversalSchedule | None:
        """A gradient-reversal schedule the engine steps once per iteration (or None)."""
        return None

    def _on_epoch_start(self, parts: nn.ModuleDict, state: TrainState) -> None:
        """Called by the engine before each epoch's first batch (default: nothing)."""

    def _predict_logits(self, parts: nn.ModuleDict, x: Tensor) -> Tensor:
        """Class scores of ``x`` (evaluation mode, no gradient)."""
        return parts["classifier"](parts["features"](x))

    def _features(self, parts: nn.ModuleDict, x: Tensor) -> Tensor:
        """The representation used by ``transform`` and ``estimator``."""
        return parts["features"](x).flatten(1)

    def _make_context(self, **fields: Any) -> FitContext:
        """The per-fit context (a subclass returns its own :class:`FitContext` subclass)."""
        return FitContext(**fields)

    def _train_hooks(self) -> TrainHooks:
        """The engine's view of the method: its extension points as callables.

        ``step`` is given only when the method overrides ``_training_step`` (several
        optimisation steps per batch): that choice decides the data-parallel path,
        ``DistributedDataParallel`` for a ``loss`` alone, a flat gradient all-reduce for
        a ``step`` (see :mod:`~domainadapt.training.distributed`).
        """
        own_step = type(self)._training_step is not DeepAdapter._training_step
        return TrainHooks(
            predict_logits=self._predict_logits,
            loss=self._training_loss,
            step=self._training_step if own_step else None,
            param_groups=self._param_groups,
            reversal_schedule=self._make_reversal_schedule,
            on_epoch_start=self._on_epoch_start,
        )

    @staticmethod
    def classification_loss(
        logits_source: Tensor, batch: Batch, logits_target: Tensor | None = None
    ) -> Tensor:
        r"""Supervised loss: importance-weighted source cross-entropy, plus the labelled
        target rows of the batch when ``logits_target`` is given.

        .. math:: \frac{\sum_i w_i \ell(x^s_i, y^s_i) + \sum_{j \in L} \ell(x^t_j, y^t_j)}{b_s + |L|}
        """
        if logits_target is None or batch.target_labelled is None:
            return default_source_loss(logits_source, batch)
        ce_s = F.cross_entropy(logits_source.float(), batch.source_y, reduction="none")
        if batch.source_weight is not None:
            ce_s = ce_s * batch.source_weight
        # gathered by the host-built index: a boolean mask would make the host wait
        index = batch.target_labelled_index
        ce_t = F.cross_entropy(
            logits_target.index_select(0, index).float(),
            batch.target_y.index_select(0, index),
            reduction="sum",
        )
        return (ce_s.sum() + ce_t) / (ce_s.shape[0] + batch.n_target_labelled)

    def _check_params(self) -> None:
        check_deep_params(self)

    def _seed(self) -> int:
        return resolve_seed(self.random_state)

    def _train(
        self, source: Any, target: Any, n_classes: int, input_shape: tuple[int, ...],
        *, n_epochs: int | None = None,
    ) -> FitContext:
        """Train the parts on engine data and set the fitted attributes; returns the
        per-fit context (gone once ``fit`` returns). ``n_epochs`` replaces the
        parameter of that name (a stage with its own budget, e.g. an adaptation stage
        after a source stage)."""
        self._check_params()
        device = resolve_device(self.device)
        dist_ctx = distributed_context(self.distributed)
        if self.batch_size % dist_ctx.world_size:
            raise ValueError(
                f"batch_size={self.batch_size} must be divisible by the number of processes "
                f"({dist_ctx.world_size}): it is the global batch."
            )
        seed = self._seed()
        if dist_ctx.world_size > 1:
            seed = dist_ctx.broadcast_int(seed, device)
        n_epochs = resolve_epochs(
            self.n_epochs if n_epochs is None else n_epochs, source, self.batch_size
        )
        callbacks = copy.deepcopy(list(self.callbacks or []))
        if self.checkpoint_dir is not None:
            callbacks.append(Checkpoint(self.checkpoint_dir, self.checkpoint_every))
        source, validation = hold_out(source, callbacks, seed)
        input_shape = tuple(int(s) for s in input_shape)
        self._resolve_architecture(source, target, input_shape)
        context = self._make_context(
            source=source, target=target, n_classes=n_classes, input_shape=input_shape,
            device=device, seed=seed,
        )
        if self.compile:
            check_compile_available()
        fixed_threads = None if self.n_threads == "auto" else self.n_threads
        with training_context(seed, device, fixed_threads):
            parts = self._make_parts(input_shape, n_classes).to(device)
            if dist_ctx.world_size > 1:
                dist_ctx.broadcast_module(parts)
            threads = resolve_threads(
                self.n_threads, device,
                lambda: forward_macs(parts, self._predict_logits, input_shape, self.batch_size),
            )
            if threads is not None and threads != torch.get_num_threads():
                torch.set_num_threads(threads)
            self.n_threads_ = torch.get_num_threads()
            trainer = Trainer(
                parts, source, target, config=make_train_config(self, n_epochs),
                hooks=self._train_hooks(), n_classes=n_classes, seed=seed, device=device,
                callbacks=callbacks, dist_ctx=dist_ctx, validation=validation,
                context=context, adapter=self,
            )
            if self.resume is not False:
                path = Path(self.checkpoint_dir) / "last.pt"
                if path.exists():
                    trainer.resume_from(path)
                elif self.resume is True:
                    raise ValueError(f"resume=True but there is no checkpoint at {path}.")
            with compiled_forward(parts, bool(self.compile)):
                trainer.run()
        self.parts_ = parts.eval()
        self._sync_input_statistics()
        self.n_classes_ = n_classes
        self.input_shape_ = input_shape
        self.history_ = trainer.history
        self.n_iter_ = trainer.step
        self.n_epochs_ = n_epochs
        self.callbacks_ = callbacks
        if self.estimator is not None:
            self._fit_estimator(source, target)
        elif hasattr(self, "estimator_"):
            del self.estimator_
        return context
