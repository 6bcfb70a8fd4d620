"""The base class of every deep (PyTorch) strategy.

A new deep method is its loss and its model parts, nothing else: subclass
:class:`DeepAdapter`, list the method's own hyper-parameters in ``__init__``
(forwarding ``**kwargs`` to the base), and implement

* ``_build_parts(input_shape, n_classes) -> dict[str, nn.Module]``: call
  ``super()._build_parts(...)`` for ``"features"`` and ``"classifier"`` and add what
  the method needs (a discriminator, a second classifier ...);
* ``_training_loss(parts, batch, state) -> (loss, logs)``: the scalar loss of one
  batch and a dict of values to log (tensors or floats; averaged per epoch into
  ``history_``).

Optional hooks: ``_predict_logits(parts, x)`` (default: classifier on features),
``_make_reversal_schedule(max_steps)`` (a :class:`~domainadapt.ops.ReversalSchedule`
the engine steps once per iteration), ``_param_groups(parts)`` (several named
optimisers or per-group learning rates) and ``_training_step(parts, batch, state)``
(several optimisation steps per batch, e.g. MCD: call ``state.optimize(loss, name)``
for each). The engine (:mod:`domainadapt.training`) does everything else.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import inspect
import math
import numbers
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import clone
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from .._domain import SOURCE, Domain
from ..base import ModelAdapter, _fit_with_weights
from ..instance._utils import check_int, check_positive, resolve_device
from ..ops import ReversalSchedule
from ..training.callbacks import Checkpoint
from ..training.data import (
    ArrayData,
    Batch,
    DatasetData,
    LoaderData,
    _check_labels,
    is_torch_data,
)
from ..training.distributed import distributed_context
from ..training.engine import LR_SCHEDULES, Trainer, default_source_loss
from ..training.networks import MLP, _check_sizes, infer_output_dim
from ..validation import check_domain, check_sample_domain

__all__ = ["DeepAdapter"]

SAVE_FORMAT = 1
#: Optimisation iterations aimed at when ``n_epochs=None``.
AUTO_STEPS = 600
#: Dropout of the default MLP with ``dropout="auto"`` when its input layer has more
#: weights than there are labelled rows.
AUTO_DROPOUT = 0.5


def input_statistics(*datasets: Any, chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and standard deviation of the flattened rows of ``datasets``
    pooled (one streaming pass, float64 sums).

    A feature whose standard deviation is below ``1e-8`` times the largest one (or is
    zero) gets a scale of 1, as in ``sklearn.preprocessing.StandardScaler``, so that a
    constant column is centred but never blown up.
    """
    total = 0
    s1 = s2 = None
    for data in datasets:
        for x, _, _ in DeepAdapter._iter_rows(data, chunk):
            x = x.detach().flatten(1).to(torch.float64)
            if s1 is None:
                s1, s2 = x.sum(0), (x * x).sum(0)
            else:
                s1, s2 = s1 + x.sum(0), s2 + (x * x).sum(0)
            total += x.shape[0]
    if not total:
        raise ValueError("no rows to compute the input statistics from.")
    mean = (s1 / total).numpy()
    var = np.maximum((s2 / total).numpy() - mean**2, 0.0)
    std = np.sqrt(var)
    tiny = 1e-8 * max(float(std.max()), 1e-300)
    std[std <= tiny] = 1.0
    return mean, std



@contextlib.contextmanager
def training_context(seed: int, device: torch.device, n_threads: int | None) -> Iterator[None]:
    """Seed torch inside a forked RNG (the global state is restored on exit), and
    optionally set the thread count and deterministic cuDNN for the duration."""
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
            if n_threads is not None:
                torch.set_num_threads(prev_threads)
            torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = prev_cudnn


def _is_plain(v: Any) -> bool:
    if v is None or isinstance(v, (bool, int, float, str)):
        return True
    if isinstance(v, (list, tuple)):
        return all(_is_plain(x) for x in v)
    if isinstance(v, dict):
        return all(isinstance(k, (str, int)) and _is_plain(x) for k, x in v.items())
    return False


class DeepAdapter(ModelAdapter):
    r"""Base class of the deep model-based strategies (trained by one engine).

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
        Dataset inputs are sharded per global batch automatically, gradients are
        averaged across ranks (see :mod:`domainadapt.training.distributed`); a user
        DataLoader is used as given (give it a ``DistributedSampler``). Only rank 0
        writes checkpoints.
    n_threads : int, optional
        ``torch.set_num_threads`` during ``fit`` only (restored afterwards).
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
    dropout_ : float or None
        The resolved dropout of the default MLP (``None`` with a ``network``).
    standardize_ : bool
        Whether the inputs are standardised.
    input_mean_, input_scale_ : ndarray of shape (n_features_in_,) or None
        The standardisation's statistics (``None`` when ``standardize_`` is False).
    estimator_ : estimator
        Only with ``estimator``.

    Notes
    -----
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
    """

    _allow_nd = True

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
        n_threads: int | None = None,
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

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        parts = state.get("parts_")
        if parts is not None and any(p.device.type != "cpu" for p in parts.parameters()):
            state["parts_"] = copy.deepcopy(parts).cpu()
        return state

    # ------------------------------------------------------------------ extension points
    def _build_features(self, input_shape: tuple[int, ...]) -> tuple[nn.Module, int]:
        """The feature extractor and its output width (``network`` or the default MLP)."""
        net = self.network
        if net is None:
            dropout = getattr(self, "dropout_", None)
            if dropout is None:  # not resolved from data (a subclass building parts itself)
                dropout = 0.0 if self.dropout == "auto" else self.dropout
            mean = None
            if getattr(self, "standardize_", False):
                mean = self.input_mean_
            mlp = MLP(
                int(np.prod(input_shape)),
                self.hidden_sizes,
                dropout,
                input_mean=mean,
                input_scale=None if mean is None else self.input_scale_,
            )
            return mlp, mlp.out_features
        if isinstance(net, nn.Module):
            features = copy.deepcopy(net)
        elif callable(net):  # a class or factory: built here, under random_state
            features = net()
            if not isinstance(features, nn.Module):
                raise TypeError(
                    f"network() must return a torch.nn.Module; got {type(features).__name__}."
                )
        else:
            raise TypeError(
                "network must be a torch.nn.Module, a callable returning one, or None; got "
                f"{type(net).__name__}."
            )
        dim = infer_output_dim(features, torch.zeros((2, *input_shape)), "network")
        return features, dim

    def _build_parts(self, input_shape: tuple[int, ...], n_classes: int) -> dict[str, nn.Module]:
        """Modules of the method: by default ``features`` and a linear ``classifier``."""
        features, dim = self._build_features(input_shape)
        return {"features": features, "classifier": nn.Linear(dim, n_classes)}

    def _training_loss(
        self, parts: nn.ModuleDict, batch: Batch, state: Any
    ) -> tuple[Tensor, dict[str, Any]]:  # pragma: no cover - abstract
        """Loss of one batch and the values to log."""
        raise NotImplementedError

    def _training_step(self, parts: nn.ModuleDict, batch: Batch, state: Any) -> dict[str, Any]:
        """One iteration: by default the loss, one backward pass, one optimiser step."""
        loss, logs = self._training_loss(parts, batch, state)
        state.optimize(loss)
        return {"loss": loss.detach(), **logs}

    def _param_groups(self, parts: nn.ModuleDict) -> dict[str, list[dict[str, Any]]]:
        """Named optimisers and their parameter groups (default: one, ``"main"``)."""
        return {"main": [{"params": [p for p in parts.parameters() if p.requires_grad]}]}

    def _make_reversal_schedule(self, max_steps: int) -> ReversalSchedule | None:
        """A gradient-reversal schedule the engine steps once per iteration (or None)."""
        return None

    def _predict_logits(self, parts: nn.ModuleDict, x: Tensor) -> Tensor:
        """Class scores of ``x`` (evaluation mode, no gradient)."""
        return parts["classifier"](parts["features"](x))

    def _features(self, parts: nn.ModuleDict, x: Tensor) -> Tensor:
        """The representation used by ``transform`` and ``estimator``."""
        return parts["features"](x).flatten(1)

    # helpers for subclasses
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
        lab = batch.target_labelled
        ce_t = F.cross_entropy(logits_target[lab].float(), batch.target_y[lab], reduction="sum")
        return (ce_s.sum() + ce_t) / (ce_s.shape[0] + lab.sum())

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        source: Any,
        target: Any = None,
        sample_domain: Any = None,
        sample_weight: Any = None,
    ) -> DeepAdapter:
        """Train on labelled source rows and (mostly unlabelled) target rows.

        Parameters
        ----------
        source : Domain, tuple (X, y[, w]), Dataset or DataLoader
            The labelled source; in the stacked form, all rows ``X``.
        target : Domain, array-like, (X, y), Dataset or DataLoader
            The target (``-1`` labels mark unlabelled rows); in the stacked form, ``y``.
        sample_domain : array-like of str, optional
            Stacked form only.
        sample_weight : array-like, optional
            Importance weights of the source rows (of every row in the stacked form;
            only the source rows' are used), e.g. ``domainadapt.instance`` weights.
            They multiply ``source.sample_weight``.

        Returns
        -------
        self
        """
        if is_torch_data(source) or is_torch_data(target):
            if sample_domain is not None:
                raise ValueError("sample_domain cannot be used with Dataset/DataLoader inputs.")
            if sample_weight is not None:
                raise ValueError(
                    "sample_weight cannot be used with Dataset/DataLoader inputs: give the "
                    "source items as (x, y, weight)."
                )
            self._fit_torch_data(source, target)
            return self
        src, tgt = self._validate_fit_input(source, target, sample_domain)
        if sample_weight is not None:
            w = np.asarray(sample_weight, dtype=np.float64).reshape(-1)
            if sample_domain is not None:
                sd = check_sample_domain(sample_domain, len(w))
                w = w[sd == SOURCE]
            src = check_domain(
                Domain(
                    src.X,
                    src.y,
                    sample_weight=w if src.sample_weight is None else w * src.sample_weight,
                ),
                "source",
                require_labels=True,
                allow_nd=True,
            )
        self.n_features_in_ = int(np.prod(src.X.shape[1:]))
        self._fit(src, tgt)
        return self

    def _fit(self, source: Domain, target: Domain) -> None:
        kind = type_of_target(source.y)
        if kind not in ("binary", "multiclass"):
            raise ValueError(
                f"{type(self).__name__} is a classifier: source y must be class labels; "
                f"got a {kind!r} target."
            )
        y_lab = target.y[target.labelled] if target.y is not None else source.y[:0]
        classes = np.unique(np.concatenate([source.y, y_lab]) if len(y_lab) else source.y)
        ys = np.searchsorted(classes, source.y)
        yt = None
        if target.y is not None:
            yt = np.full(len(target.X), -1, dtype=np.int64)
            yt[target.labelled] = np.searchsorted(classes, target.y[target.labelled])
        w = source.sample_weight
        if w is not None:
            w = w * (len(w) / w.sum())
        self.classes_ = classes
        self._train(
            ArrayData(source.X, ys, w), ArrayData(target.X, yt), len(classes), source.X.shape[1:]
        )

    def _as_data(self, obj: Any, name: str) -> ArrayData | DatasetData | LoaderData:
        labelled = name == "source"
        if isinstance(obj, DataLoader):
            return LoaderData(obj, name, labelled)
        if isinstance(obj, Dataset):
            return DatasetData(obj, name, labelled, self.num_workers)
        if obj is None:
            raise ValueError(f"{name} is missing.")
        dom = check_domain(obj, name, require_labels=labelled, allow_nd=True)
        y = dom.y
        if y is not None:
            if labelled:
                mask = np.ones(len(y), dtype=bool)
            else:
                mask = dom.labelled
            yl = y[mask]
            if yl.dtype.kind == "f" and np.all(yl == np.round(yl)):
                yl = yl.astype(np.int64)
            if yl.dtype.kind not in "iu":
                raise TypeError(
                    f"{name} y must be integer class indices when the other domain is a "
                    "Dataset/DataLoader."
                )
            full = np.full(len(y), -1, dtype=np.int64)
            full[mask] = yl
            y = full
        w = dom.sample_weight
        if w is not None:
            w = w * (len(w) / w.sum())
        return ArrayData(dom.X, y, w)

    def _fit_torch_data(self, source: Any, target: Any) -> None:
        if target is None:
            raise ValueError("target is missing: fit(source, target) needs target data.")
        src = self._as_data(source, "source")
        tgt = self._as_data(target, "target")
        if src.sample_shape != tgt.sample_shape:
            raise ValueError(
                "source and target have different feature shapes: "
                f"{src.sample_shape} vs {tgt.sample_shape}."
            )
        labels = self._scan_labels(src)
        if self.n_classes is not None:
            n_classes = check_int("n_classes", self.n_classes, 2)
        elif labels is not None:
            n_classes = int(labels.max()) + 1
        else:  # pragma: no cover - _scan_labels returns labels when n_classes is None
            raise RuntimeError
        if labels is not None:
            _check_labels(labels, n_classes, "source")
        if n_classes < 2:
            raise ValueError("the source labels hold a single class; a classifier needs two.")
        self.classes_ = np.arange(n_classes)
        self.n_features_in_ = int(np.prod(src.sample_shape))
        self._train(src, tgt, n_classes, src.sample_shape)

    def _scan_labels(self, data: Any) -> Tensor | None:
        """Every source label when cheap, or when ``n_classes`` must be inferred."""
        if isinstance(data, ArrayData):
            return data.y
        if isinstance(data, DatasetData):
            labels = data.all_labels()
            if labels is not None or self.n_classes is not None:
                return labels
            chunks = [
                data.fetch(torch.arange(i, min(i + 1024, len(data))))[1]
                for i in range(0, len(data), 1024)
            ]
            return torch.cat(chunks)
        if self.n_classes is not None:
            _check_labels(data.first[1], int(self.n_classes), "source")
            return None
        return torch.cat([y for _, y, _ in data])

    def _check_params(self) -> None:
        if self.dropout != "auto" and (
            isinstance(self.dropout, bool)
            or not isinstance(self.dropout, numbers.Real)
            or not 0 <= self.dropout < 1
        ):
            raise ValueError(f"dropout must be 'auto' or a float in [0, 1); got {self.dropout!r}.")
        if not (self.standardize == "auto" or isinstance(self.standardize, (bool, np.bool_))):
            raise ValueError(
                f"standardize must be 'auto', True or False; got {self.standardize!r}."
            )
        if self.standardize != "auto" and bool(self.standardize) and self.network is not None:
            raise ValueError(
                "standardize=True applies to the default MLP only (network=None); a custom "
                "network normalises its own inputs."
            )
        check_int("batch_size", self.batch_size, 1)
        if self.n_epochs is not None:
            check_int("n_epochs", self.n_epochs, 1)
        check_positive("lr", self.lr)
        check_positive("weight_decay", self.weight_decay, allow_zero=True)
        check_positive("momentum", self.momentum, allow_zero=True)
        if self.max_grad_norm is not None:
            check_positive("max_grad_norm", self.max_grad_norm)
        if self.optimizer not in ("adam", "adamw", "sgd"):
            raise ValueError(f"optimizer must be 'adam', 'adamw' or 'sgd'; got {self.optimizer!r}.")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(
                f"lr_schedule must be one of {LR_SCHEDULES}; got {self.lr_schedule!r}."
            )
        check_int("num_workers", self.num_workers, 0)
        if self.n_threads is not None:
            check_int("n_threads", self.n_threads, 1)
        if self.checkpoint_every is not None:
            check_int("checkpoint_every", self.checkpoint_every, 1)
        if self.resume not in (True, False, "auto"):
            raise ValueError(f"resume must be True, False or 'auto'; got {self.resume!r}.")
        if self.resume is not False and self.checkpoint_dir is None:
            raise ValueError("resume needs checkpoint_dir (where the checkpoint is).")
        if self.callbacks is not None and not isinstance(self.callbacks, (list, tuple)):
            raise TypeError("callbacks must be a list of callback objects or None.")

    def _seed(self) -> int:
        if isinstance(self.random_state, numbers.Integral) and not isinstance(
            self.random_state, bool
        ):
            return int(self.random_state) % (2**62)
        return int(check_random_state(self.random_state).randint(0, 2**31 - 1))

    def _make_parts(self, input_shape: tuple[int, ...], n_classes: int) -> nn.ModuleDict:
        parts = self._build_parts(tuple(input_shape), n_classes)
        if not isinstance(parts, dict) or not all(isinstance(m, nn.Module) for m in parts.values()):
            raise TypeError("_build_parts must return a dict of name -> nn.Module.")
        parts = nn.ModuleDict(parts)
        x = torch.zeros((2, *input_shape))
        parts.eval()
        try:
            with torch.no_grad():
                out = self._predict_logits(parts, x)
        except ValueError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise ValueError(
                f"the model of {type(self).__name__} cannot process inputs of shape "
                f"{tuple(input_shape)}: {type(exc).__name__}: {exc}"
            ) from None
        parts.train()
        if tuple(out.shape) != (2, n_classes):
            raise ValueError(
                f"the classifier outputs {tuple(out.shape[1:])} scores per row, but the data "
                f"have {n_classes} classes."
            )
        return parts

    def _resolve_architecture(self, source: Any, target: Any, input_shape: tuple[int, ...]) -> None:
        """Resolve ``dropout`` and ``standardize`` from the data (``dropout_``,
        ``standardize_``, ``input_mean_``, ``input_scale_``)."""
        default_mlp = self.network is None
        if not default_mlp:
            self.dropout_ = None
        elif self.dropout == "auto":
            if isinstance(source, LoaderData):
                n_rows = (source.n_batches or 1) * self.batch_size
            else:
                n_rows = len(source)
            sizes = _check_sizes("hidden_sizes", self.hidden_sizes)
            n_weights = int(np.prod(input_shape)) * sizes[0] if sizes else 0
            self.dropout_ = AUTO_DROPOUT if n_weights > n_rows else 0.0
        else:
            self.dropout_ = float(self.dropout)
        self.standardize_ = bool(default_mlp if self.standardize == "auto" else self.standardize)
        if self.standardize_:
            mean, scale = input_statistics(source, target)
            self.input_mean_, self.input_scale_ = mean, scale
        else:
            self.input_mean_ = self.input_scale_ = None

    def _sync_input_statistics(self) -> None:
        """Read ``input_mean_`` / ``input_scale_`` back from the trained MLP's buffers (a
        subclass may load them from a starting point, e.g. FineTuning)."""
        features = self.parts_["features"] if "features" in self.parts_ else None
        if isinstance(features, MLP) and features.standardizes:
            self.standardize_ = True
            self.input_mean_ = features.input_mean.detach().cpu().numpy().astype(np.float64)
            self.input_scale_ = features.input_scale.detach().cpu().numpy().astype(np.float64)
        else:
            self.standardize_ = False
            self.input_mean_ = self.input_scale_ = None

    def _architecture(self) -> dict[str, Any]:
        """What ``load`` needs to rebuild the default MLP (read from the trained module)."""
        features = self.parts_["features"] if "features" in self.parts_ else None
        if not isinstance(features, MLP) or self.network is not None:
            return {}
        drops = [m.p for m in features.modules() if isinstance(m, nn.Dropout)]
        return {
            "dropout": float(drops[0]) if drops else 0.0,
            "standardize": bool(features.standardizes),
        }

    def _resolve_epochs(self, source: Any, world: int) -> int:
        if self.n_epochs is not None:
            return int(self.n_epochs)
        if isinstance(source, LoaderData):
            spe = source.n_batches or 1
        else:
            spe = max(1, len(source) // self.batch_size)
        return int(min(200, max(5, math.ceil(AUTO_STEPS / spe))))

    def _train(
        self, source: Any, target: Any, n_classes: int, input_shape: tuple[int, ...]
    ) -> None:
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
            seed = dist_ctx.broadcast_int(seed, device if dist_ctx.group is None else device)
        n_epochs = self._resolve_epochs(source, dist_ctx.world_size)
        callbacks = copy.deepcopy(list(self.callbacks or []))
        if self.checkpoint_dir is not None:
            callbacks.append(Checkpoint(self.checkpoint_dir, self.checkpoint_every))
        source, validation = self._hold_out(source, callbacks, seed)
        self._resolve_architecture(source, target, tuple(input_shape))
        with training_context(seed, device, self.n_threads):
            parts = self._make_parts(input_shape, n_classes).to(device)
            if dist_ctx.world_size > 1:
                dist_ctx.broadcast_module(parts)
            trainer = Trainer(
                self,
                parts,
                source,
                target,
                n_classes=n_classes,
                n_epochs=n_epochs,
                batch_size=self.batch_size,
                seed=seed,
                device=device,
                callbacks=callbacks,
                dist_ctx=dist_ctx,
                validation=validation,
            )
            if self.resume is not False:
                path = Path(self.checkpoint_dir) / "last.pt"
                if path.exists():
                    trainer.resume_from(path)
                elif self.resume is True:
                    raise ValueError(f"resume=True but there is no checkpoint at {path}.")
            trainer.run()
        self.parts_ = parts.eval()
        self._sync_input_statistics()
        self.n_classes_ = n_classes
        self.input_shape_ = tuple(int(s) for s in input_shape)
        self.history_ = trainer.history
        self.n_iter_ = trainer.step
        self.n_epochs_ = n_epochs
        self.callbacks_ = callbacks
        if self.estimator is not None:
            self._fit_estimator(source, target)
        elif hasattr(self, "estimator_"):
            del self.estimator_

    @staticmethod
    def _hold_out(source: Any, callbacks: list, seed: int) -> tuple[Any, ArrayData | None]:
        """Split off the source rows a callback asks to hold out (``validation_fraction``)."""
        frac = max(
            (float(getattr(cb, "validation_fraction", 0.0)) for cb in callbacks), default=0.0
        )
        if frac <= 0:
            return source, None
        if not isinstance(source, ArrayData):
            raise ValueError("validation_fraction needs array inputs for the source.")
        rng = np.random.RandomState(seed % (2**32))
        y = source.y.numpy()
        val = []
        for c in np.unique(y):
            rows = np.flatnonzero(y == c)
            k = int(round(frac * len(rows)))
            if k >= len(rows):
                k = len(rows) - 1
            val.append(rng.choice(rows, k, replace=False))
        val = np.sort(np.concatenate(val))
        train = np.setdiff1d(np.arange(len(y)), val)
        if len(val) == 0 or len(train) < 2:
            raise ValueError(
                f"validation_fraction={frac} leaves no rows to hold out or to train on."
            )

        def take(rows: np.ndarray) -> ArrayData:
            out = ArrayData.__new__(ArrayData)
            idx = torch.from_numpy(rows)
            out.x, out.y = source.x.index_select(0, idx), source.y.index_select(0, idx)
            out.weight = None if source.weight is None else source.weight.index_select(0, idx)
            return out

        return take(train), take(val)

    def _fit_estimator(self, source: Any, target: Any) -> None:
        feats, ys, ws = [], [], []
        for x, y, w in self._iter_rows(source):
            feats.append(self._transform_tensor(x))
            ys.append(y.numpy())
            ws.append(np.ones(len(y)) if w is None else w.numpy().astype(np.float64))
        for x, y, _ in self._iter_rows(target):
            if y is None:
                continue
            keep = (y >= 0).numpy()
            if keep.any():
                feats.append(self._transform_tensor(x)[keep])
                ys.append(y.numpy()[keep])
                ws.append(np.ones(int(keep.sum())))
        F_, y_, w_ = np.concatenate(feats), self.classes_[np.concatenate(ys)], np.concatenate(ws)
        w_ = None if np.all(w_ == 1) else w_
        self.estimator_ = _fit_with_weights(clone(self.estimator), F_, y_, w_)

    @staticmethod
    def _iter_rows(data: Any, chunk: int = 1024):
        if isinstance(data, LoaderData):
            yield from data
            return
        for i in range(0, len(data), chunk):
            yield data.fetch(torch.arange(i, min(i + chunk, len(data))))

    # ------------------------------------------------------------------ inference
    def _require_estimator(self) -> Any:  # predict goes through the network
        check_is_fitted(self, "parts_")
        return None

    @property
    def _device_(self) -> torch.device:
        return next(iter(self.parts_.parameters())).device

    def _batches_for_predict(self, X: Any, chunk: int = 1024) -> Iterator[Tensor]:
        if isinstance(X, (Dataset, DataLoader)):
            data = (
                LoaderData(X, "X", False)
                if isinstance(X, DataLoader)
                else DatasetData(X, "X", False)
            )
            if data.sample_shape != self.input_shape_:
                raise ValueError(
                    f"X rows have shape {data.sample_shape}, but {type(self).__name__} was "
                    f"fitted with {self.input_shape_}."
                )
            for x, _, _ in self._iter_rows(data, chunk):
                yield x
            return
        arr = self._check_X(X)
        arr = arr.reshape((len(arr), *self.input_shape_))
        t = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))
        for i in range(0, len(t), chunk):
            yield t[i : i + chunk]

    @torch.no_grad()
    def _apply(self, X: Any, fn: Any) -> np.ndarray:
        check_is_fitted(self, "parts_")
        self.parts_.eval()
        dev = self._device_
        out = [fn(self.parts_, x.to(dev)).float().cpu() for x in self._batches_for_predict(X)]
        return torch.cat(out).numpy().astype(np.float64)

    def _transform_tensor(self, x: Tensor) -> np.ndarray:
        self.parts_.eval()
        with torch.no_grad():
            return (
                self._features(self.parts_, x.to(self._device_))
                .float()
                .cpu()
                .numpy()
                .astype(np.float64)
            )

    def decision_function(self, X: Any, sample_domain: Any = None) -> np.ndarray:
        """Class scores (logits) of the network for target rows."""
        return self._apply(X, self._predict_logits)

    def predict_proba(self, X: Any, sample_domain: Any = None) -> np.ndarray:
        """Class probabilities (softmax of the network's scores, or ``estimator_``'s)."""
        check_is_fitted(self, "parts_")
        if getattr(self, "estimator_", None) is not None:
            return self.estimator_.predict_proba(self.transform(X))
        return self._apply(X, lambda parts, x: F.softmax(self._predict_logits(parts, x).float(), 1))

    def predict(self, X: Any, sample_domain: Any = None) -> np.ndarray:
        """Predicted class labels of target rows."""
        check_is_fitted(self, "parts_")
        if getattr(self, "estimator_", None) is not None:
            return self.estimator_.predict(self.transform(X))
        return self.classes_[self.decision_function(X).argmax(1)]

    def transform(self, X: Any, sample_domain: Any = None) -> np.ndarray:
        """The learned representation (output of the ``features`` part, flattened)."""
        return self._apply(X, self._features)

    # ------------------------------------------------------------------ save / load
    def _plain_params(self) -> tuple[dict[str, Any], list[str]]:
        """Parameters storable weights-only, and the names of those that are not."""
        out, dropped = {}, []
        for k, v in self.get_params(deep=False).items():
            if isinstance(v, (Path, torch.device)):
                v = str(v)
            elif isinstance(v, np.integer):
                v = int(v)
            elif isinstance(v, np.floating):
                v = float(v)
            if _is_plain(v):
                out[k] = v
            else:
                dropped.append(k)
        return out, dropped

    def save(self, path: str | Path) -> None:
        """Write the fitted model to ``path``, readable with ``torch.load(weights_only=True)``.

        Parameters are kept when they are plain values (numbers, strings, tuples ...);
        the others (a custom ``network``, ``callbacks``, a ``RandomState``) must be passed
        again to :meth:`load` when needed. A fitted ``estimator_`` cannot be stored
        weights-only (pickle the adapter instead).
        """
        check_is_fitted(self, "parts_")
        if getattr(self, "estimator_", None) is not None:
            raise ValueError(
                "save() stores tensors only and cannot hold the scikit-learn estimator_; "
                "pickle the adapter instead."
            )
        classes = self.classes_.tolist()
        params, dropped = self._plain_params()
        payload = {
            "format": SAVE_FORMAT,
            "class": f"{type(self).__module__}.{type(self).__qualname__}",
            "params": params,
            "dropped_params": dropped,
            "custom_network": self.network is not None,
            "classes": classes,
            "input_shape": list(self.input_shape_),
            "n_classes": int(self.n_classes_),
            "n_features_in": int(self.n_features_in_),
            "n_iter": int(self.n_iter_),
            "n_epochs": int(self.n_epochs_),
            "history": [dict(r) for r in self.history_],
            "architecture": self._architecture(),
            "parts": {
                k: {n: t.detach().cpu() for n, t in m.state_dict().items()}
                for k, m in self.parts_.items()
            },
        }
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(payload, path)

    @classmethod
    def load(
        cls, path: str | Path, network: nn.Module | None = None, device: Any = "cpu", **params: Any
    ) -> DeepAdapter:
        """Read a model written by :meth:`save` (``torch.load(weights_only=True)``).

        Parameters
        ----------
        path : str or path
        network : nn.Module, optional
            The feature extractor (module or factory), when the model was fitted with
            a custom ``network`` (its weights are replaced by the saved ones).
        device : str or torch.device, default="cpu"
        **params
            Values of parameters that could not be stored (listed in the file's
            ``"dropped_params"``), e.g. ``callbacks``.
        """
        state = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(state, dict) or state.get("format") != SAVE_FORMAT:
            raise ValueError(f"{path} is not a model written by DeepAdapter.save.")
        module, _, name = state["class"].rpartition(".")
        klass = getattr(importlib.import_module(module), name)
        if not issubclass(klass, cls):
            raise TypeError(f"{path} holds a {name}, not a {cls.__name__}.")
        if state["custom_network"] and network is None:
            raise ValueError(
                f"{path} was fitted with a custom network: pass network= (the same architecture)."
            )
        kwargs = dict(state["params"])
        kwargs.update(params)
        kwargs["network"] = network
        obj = klass(**kwargs)
        shape = tuple(state["input_shape"])
        arch = state.get("architecture") or {}
        if obj.network is None:
            # rebuild the default MLP as trained (the statistics come with the tensors)
            dropout = arch.get("dropout", obj.dropout)
            obj.dropout_ = 0.0 if dropout == "auto" else float(dropout)
            obj.standardize_ = bool(arch.get("standardize", False))
            n_in = int(np.prod(shape))
            obj.input_mean_ = np.zeros(n_in) if obj.standardize_ else None
            obj.input_scale_ = np.ones(n_in) if obj.standardize_ else None
        else:
            obj.dropout_, obj.standardize_ = None, False
            obj.input_mean_ = obj.input_scale_ = None
        obj._loading = True  # the saved tensors replace any starting point
        try:
            with torch.random.fork_rng(devices=[]):
                parts = obj._make_parts(shape, state["n_classes"])
        finally:
            del obj._loading
        for k, m in parts.items():
            m.load_state_dict(state["parts"][k])
        obj.parts_ = parts.to(resolve_device(device)).eval()
        obj._sync_input_statistics()
        obj.classes_ = np.asarray(state["classes"])
        obj.n_classes_ = state["n_classes"]
        obj.input_shape_ = shape
        obj.n_features_in_ = state["n_features_in"]
        obj.n_iter_ = state["n_iter"]
        obj.n_epochs_ = state["n_epochs"]
        obj.history_ = state["history"]
        return obj
