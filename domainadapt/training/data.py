"""Batches of source and target rows for the training engine.

Inputs are NumPy arrays (already validated), ``torch.utils.data.Dataset`` objects or
``DataLoader`` objects. For arrays and Datasets the engine draws the index
permutations itself from two seeded ``torch.Generator``s, so that

* a Dataset gives exactly the batches the same rows as arrays give,
* the order is reproducible under ``random_state`` and can be restored from a
  checkpoint in the middle of an epoch (generator states + the target cursor),
* under ``torch.distributed`` each rank takes its share of every *global* batch
  (rank ``r`` keeps rows ``r, r + world, ...`` of it): the union over ranks is
  the batch a single process would see, as with a ``DistributedSampler``.

An epoch is one pass over the source; the target stream is consumed in
re-shuffled passes and cycles whenever it runs out (it is shorter or longer than
the source, it does not matter).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, TensorDataset
from torch.utils.data._utils.collate import default_collate

__all__ = ["Batch", "ArrayData", "DatasetData", "LoaderData", "EpochPlan", "is_torch_data"]


@dataclass
class Batch:
    """One training batch (what ``DeepAdapter._training_loss`` receives).

    Attributes
    ----------
    source_x : Tensor of shape (b_s, ...)
        Source inputs, float32, on the training device.
    source_y : Tensor of shape (b_s,)
        Source class indices (``int64``, in ``[0, n_classes)``).
    source_weight : Tensor of shape (b_s,) or None
        Importance weights of the source rows (normalised to mean 1 over the
        whole source), ``None`` when unweighted.
    target_x : Tensor of shape (b_t, ...)
        Target inputs.
    target_y : Tensor of shape (b_t,) or None
        Target class indices, ``-1`` on unlabelled rows; ``None`` when the
        target has no labelled row at all.
    target_labelled : Tensor of bool, shape (b_t,) or None
        Which target rows carry a label (``target_y >= 0``).
    target_labelled_index : Tensor of int64, shape (n_labelled,) or None
        The positions of those rows, found on the host when the batch is built (left
        as ``None``, it is derived from ``target_labelled``). Its length is known
        without reading the device, so ``target_x.index_select(0, index)`` gathers
        the labelled rows with no host synchronisation, where ``target_x[mask]`` must
        wait for the device to count the mask.

    Examples
    --------
    >>> import torch
    >>> batch = Batch(source_x=torch.zeros(4, 2), source_y=torch.tensor([0, 1, 0, 1]),
    ...               source_weight=None, target_x=torch.ones(3, 2))
    >>> batch.n_source, batch.n_target, batch.target_y is None
    (4, 3, True)
    >>> nn_loss = torch.nn.functional.cross_entropy(torch.zeros(4, 2), batch.source_y)
    >>> round(float(nn_loss), 4)  # log 2: uniform logits on two classes
    0.6931
    >>> batch.to(torch.device("cpu")).source_x.shape
    torch.Size([4, 2])
    >>> semi = Batch(torch.zeros(2, 2), torch.tensor([0, 1]), None, torch.ones(3, 2),
    ...              target_y=torch.tensor([-1, 1, 0]),
    ...              target_labelled=torch.tensor([False, True, True]))
    >>> semi.target_labelled_index.tolist(), semi.n_target_labelled
    ([1, 2], 2)
    """

    source_x: Tensor
    source_y: Tensor
    source_weight: Tensor | None
    target_x: Tensor
    target_y: Tensor | None = None
    target_labelled: Tensor | None = None
    target_labelled_index: Tensor | None = None

    def __post_init__(self) -> None:
        if self.target_labelled is not None and self.target_labelled_index is None:
            # built from the host's labels in make_batch; derived here for hand-made batches
            self.target_labelled_index = self.target_labelled.nonzero().flatten()

    def to(self, device: torch.device, non_blocking: bool = False) -> Batch:
        """The batch on ``device``."""
        kw = {}
        for f in fields(self):
            v = getattr(self, f.name)
            kw[f.name] = None if v is None else v.to(device, non_blocking=non_blocking)
        return Batch(**kw)

    @property
    def n_source(self) -> int:
        return int(self.source_x.shape[0])

    @property
    def n_target(self) -> int:
        return int(self.target_x.shape[0])

    @property
    def n_target_labelled(self) -> int:
        """How many target rows carry a label (0 without ``target_labelled``); no sync."""
        index = self.target_labelled_index
        return 0 if index is None else int(index.shape[0])


def is_torch_data(obj: Any) -> bool:
    """Whether ``obj`` is a torch ``Dataset`` or ``DataLoader`` (bypasses array validation)."""
    return isinstance(obj, (Dataset, DataLoader))


def _as_float(x: Tensor) -> Tensor:
    return x if x.dtype == torch.float32 else x.float()


def _split_item(
    item: Any, name: str, labelled: bool
) -> tuple[Tensor, Tensor | None, Tensor | None]:
    """``(x, y, w)`` of a collated batch: ``x``, ``(x,)``, ``(x, y)`` or ``(x, y, w)``."""
    if isinstance(item, Tensor):
        parts = [item]
    elif isinstance(item, (tuple, list)):
        parts = list(item)
    elif isinstance(item, dict):
        parts = [item.get("x"), item.get("y"), item.get("weight")]
        parts = [p for p in parts if p is not None]
    else:
        raise TypeError(
            f"{name} items must be tensors or tuples (x, y[, weight]); got {type(item).__name__}."
        )
    if not parts or len(parts) > 3 or not all(isinstance(p, Tensor) for p in parts):
        raise TypeError(f"{name} items must be x, (x, y) or (x, y, weight) tensors.")
    x = parts[0]
    y = parts[1] if len(parts) > 1 else None
    w = parts[2] if len(parts) > 2 else None
    if labelled and y is None:
        raise ValueError(f"{name} must be labelled: its items must be (x, y) pairs.")
    if y is not None:
        if y.dim() == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.dim() != 1 or y.shape[0] != x.shape[0]:
            raise ValueError(
                f"{name} labels must be one class index per row; got {tuple(y.shape)}."
            )
        if y.is_floating_point():
            if not bool(torch.all(y == y.round())):
                raise ValueError(f"{name} labels must be integer class indices.")
        y = y.long()
    if w is not None:
        w = w.reshape(-1).float()
    return _as_float(x), y, w


class ArrayData:
    """Rows held as tensors in memory (validated NumPy input).

    ``y`` are class indices (``-1`` for unlabelled target rows) or ``None``.
    """

    kind = "array"

    def __init__(
        self, x: np.ndarray, y: np.ndarray | None = None, weight: np.ndarray | None = None
    ):
        self.x = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        self.y = None if y is None else torch.from_numpy(np.asarray(y, dtype=np.int64))
        self.weight = None if weight is None else torch.from_numpy(np.asarray(weight, np.float32))

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.x.shape[1:])

    def fetch(self, idx: Tensor) -> tuple[Tensor, Tensor | None, Tensor | None]:
        return (
            self.x.index_select(0, idx),
            None if self.y is None else self.y.index_select(0, idx),
            None if self.weight is None else self.weight.index_select(0, idx),
        )


class DatasetData:
    """A map-style ``torch.utils.data.Dataset`` whose items are ``x``, ``(x, y)`` or ``(x, y, w)``."""

    kind = "dataset"

    def __init__(self, dataset: Dataset, name: str, labelled: bool, num_workers: int = 0):
        try:
            n = len(dataset)  # type: ignore[arg-type]
        except TypeError:
            raise TypeError(
                f"{name} Dataset must have a length (map-style); wrap an IterableDataset in a "
                "DataLoader instead."
            ) from None
        if n == 0:
            raise ValueError(f"{name} Dataset is empty: it has 0 rows.")
        self.dataset = dataset
        self.name = name
        self.labelled = labelled
        self.num_workers = num_workers
        self._n = n
        first = self.fetch(torch.arange(min(2, n)))
        self.sample_shape = tuple(first[0].shape[1:])
        self.has_labels = first[1] is not None

    def __len__(self) -> int:
        return self._n

    def fetch(self, idx: Tensor) -> tuple[Tensor, Tensor | None, Tensor | None]:
        items = [self.dataset[int(i)] for i in idx]
        return _split_item(default_collate(items), self.name, self.labelled)

    def all_labels(self) -> Tensor | None:
        """Every label (cheap for ``TensorDataset`` and datasets with ``.targets``), or None."""
        ds = self.dataset
        if isinstance(ds, TensorDataset) and len(ds.tensors) > 1:
            return torch.as_tensor(ds.tensors[1]).reshape(len(ds), -1)[:, 0].long()
        targets = getattr(ds, "targets", None)
        if targets is not None:
            try:
                return torch.as_tensor(np.asarray(targets)).reshape(-1).long()
            except (TypeError, ValueError):
                return None
        return None


class LoaderData:
    """A user ``DataLoader``: its own sampler and batch size are used as given."""

    kind = "loader"

    def __init__(self, loader: DataLoader, name: str, labelled: bool):
        self.loader = loader
        self.name = name
        self.labelled = labelled
        it = iter(loader)
        try:
            first = next(it)
        except StopIteration:
            raise ValueError(f"{name} DataLoader is empty: it yields no batch.") from None
        x, y, _ = _split_item(first, name, labelled)
        if x.shape[0] == 0:
            raise ValueError(f"{name} DataLoader yields an empty batch.")
        self.sample_shape = tuple(x.shape[1:])
        self.has_labels = y is not None
        self.first = (x, y)
        try:
            self.n_batches = len(loader)
        except TypeError:
            self.n_batches = None

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor | None, Tensor | None]]:
        for item in self.loader:
            yield _split_item(item, self.name, self.labelled)


def _check_labels(y: Tensor, n_classes: int, name: str) -> None:
    if y.numel() == 0:
        return
    lo, hi = int(y.min()), int(y.max())
    if lo < 0 or hi >= n_classes:
        bad = lo if lo < 0 else hi
        raise ValueError(
            f"{name} labels must be class indices in [0, {n_classes}) for the classifier head; "
            f"got {bad}. Pass n_classes= or relabel the data."
        )


class EpochPlan:
    """Index batches of one epoch for both domains, reproducible and resumable.

    Parameters
    ----------
    n_source, n_target : int
        Rows of each domain (array or Dataset input).
    batch_size : int
        Global batch size (split across ranks under ``torch.distributed``).
    seed : int
        Seeds the two generators (source order, target order).
    rank, world_size : int
        This process's share of each global batch.
    """

    def __init__(
        self,
        n_source: int,
        n_target: int,
        batch_size: int,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
    ):
        self.n_source, self.n_target = n_source, n_target
        self.batch_size = batch_size
        self.rank, self.world_size = rank, world_size
        self.gen_source = torch.Generator().manual_seed(seed)
        self.gen_target = torch.Generator().manual_seed(seed + 1)
        self.target_perm = torch.empty(0, dtype=torch.int64)
        self.target_pos = 0

    @property
    def steps_per_epoch(self) -> int:
        return max(1, self.n_source // self.batch_size)

    def next_target(self) -> Tensor:
        """This rank's share of the next target batch (the stream cycles, re-shuffled)."""
        return self._share(self._next_target())

    def state_dict(self) -> dict[str, Any]:
        return {
            "gen_source": self.gen_source.get_state(),
            "gen_target": self.gen_target.get_state(),
            "target_perm": self.target_perm.clone(),
            "target_pos": int(self.target_pos),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.gen_source.set_state(state["gen_source"])
        self.gen_target.set_state(state["gen_target"])
        self.target_perm = state["target_perm"].clone()
        self.target_pos = int(state["target_pos"])

    def _share(self, idx: Tensor) -> Tensor:
        return idx[self.rank :: self.world_size] if self.world_size > 1 else idx

    def _next_target(self) -> Tensor:
        bt = min(self.batch_size, self.n_target)
        if self.target_pos + bt > len(self.target_perm):
            self.target_perm = torch.randperm(self.n_target, generator=self.gen_target)
            self.target_pos = 0
        out = self.target_perm[self.target_pos : self.target_pos + bt]
        self.target_pos += bt
        return out

    def epoch(self) -> list[tuple[Tensor, Tensor | None]]:
        """``[(source_idx, target_idx), ...]`` for this rank, one pair per step of the epoch.

        ``target_idx`` is ``None`` when the target is a user DataLoader (``n_target=0``).
        """
        perm = torch.randperm(self.n_source, generator=self.gen_source)
        bs = min(self.batch_size, self.n_source)
        out = []
        for k in range(self.steps_per_epoch):
            src = perm[k * bs : (k + 1) * bs]
            tgt = self.next_target() if self.n_target > 0 else None
            out.append((self._share(src), tgt))
        return out


def _batches_from_indices(data: ArrayData | DatasetData, indices: list[Tensor], num_workers: int):
    """Fetched ``(x, y, w)`` per index batch (through a DataLoader when workers are asked)."""
    if isinstance(data, DatasetData) and num_workers > 0:
        loader = DataLoader(
            data.dataset,
            batch_sampler=[idx.tolist() for idx in indices],
            num_workers=num_workers,
            collate_fn=default_collate,
            generator=torch.Generator().manual_seed(0),
        )
        for item in loader:
            yield _split_item(item, data.name, data.labelled)
    else:
        for idx in indices:
            yield data.fetch(idx)


def make_batch(src: tuple, tgt: tuple, n_classes: int, check: bool) -> Batch:
    xs, ys, ws = src
    xt, yt, _ = tgt
    if check:
        _check_labels(ys, n_classes, "source")
    labelled = None
    if yt is not None:
        labelled = yt >= 0
        if not bool(labelled.any()):
            yt, labelled = None, None
        elif check:
            _check_labels(yt[labelled], n_classes, "target")
    return Batch(xs, ys, ws, xt, yt, labelled)


class _Cycle:
    """Endless iteration over a user DataLoader (re-iterated, hence re-shuffled, each pass)."""

    def __init__(self, data: LoaderData):
        self.data = data
        self.it: Iterator | None = None

    def __iter__(self):
        return self

    def __next__(self):
        if self.it is None:
            self.it = iter(self.data)
        try:
            return next(self.it)
        except StopIteration:
            self.it = iter(self.data)
            try:
                return next(self.it)
            except StopIteration:
                raise ValueError(f"{self.data.name} DataLoader became empty.") from None


def epoch_batches(
    plan: EpochPlan,
    source: ArrayData | DatasetData | LoaderData,
    target: ArrayData | DatasetData | LoaderData,
    n_classes: int,
    num_workers: int,
    skip: int = 0,
    target_cycle: _Cycle | None = None,
) -> Iterator[Batch]:
    """The batches of one epoch (CPU tensors), skipping the first ``skip`` steps (resume).

    ``plan`` orders the array/Dataset domains; a user DataLoader brings its own order
    (a target loader is cycled through ``target_cycle``).
    """
    check = not isinstance(source, ArrayData)
    if isinstance(source, LoaderData):
        for k, s in enumerate(source):
            if isinstance(target, LoaderData):
                t = next(target_cycle)  # type: ignore[arg-type]
            else:
                t = target.fetch(plan.next_target())
            if k < skip:
                continue
            yield make_batch(s, t, n_classes, True)
        return
    pairs = plan.epoch()[skip:]
    src_iter = _batches_from_indices(source, [p[0] for p in pairs], num_workers)
    if isinstance(target, LoaderData):
        tgt_iter = target_cycle
    else:
        tgt_iter = _batches_from_indices(target, [p[1] for p in pairs], num_workers)
    for _ in pairs:
        yield make_batch(next(src_iter), next(tgt_iter), n_classes, check)  # type: ignore[arg-type]
