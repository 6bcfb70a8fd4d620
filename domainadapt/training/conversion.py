"""From what ``fit`` / ``predict`` receive to what the engine reads.

Validated arrays (:class:`~domainadapt.Domain`), ``torch.utils.data.Dataset`` and
``DataLoader`` objects become :class:`~domainadapt.training.data.ArrayData`,
:class:`~domainadapt.training.data.DatasetData` or
:class:`~domainadapt.training.data.LoaderData` with labels as class indices; the
helpers here do that conversion, stream rows back out of them, compute input
statistics and hold out validation rows. None of them depends on a method.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from sklearn.utils.multiclass import type_of_target
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from .._domain import Domain
from ..validation import check_domain
from .data import ArrayData, DatasetData, LoaderData, _check_labels

__all__ = [
    "as_data",
    "domains_to_data",
    "hold_out",
    "input_statistics",
    "iter_rows",
    "predict_batches",
    "resolve_n_classes",
]

Data = ArrayData | DatasetData | LoaderData


def iter_rows(data: Data, chunk: int = 1024) -> Iterator[tuple[Tensor, Tensor | None, Tensor | None]]:
    """Every row of ``data`` in order, as ``(x, y, weight)`` chunks (a loader's own batches)."""
    if isinstance(data, LoaderData):
        yield from data
        return
    for i in range(0, len(data), chunk):
        yield data.fetch(torch.arange(i, min(i + chunk, len(data))))


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
        for x, _, _ in iter_rows(data, chunk):
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


def domains_to_data(
    source: Domain, target: Domain, name: str
) -> tuple[ArrayData, ArrayData, np.ndarray]:
    """Validated source and target arrays as engine data with class-index labels.

    The classes are those of the source and of the labelled target rows; unlabelled
    target rows get ``-1``; source importance weights are rescaled to mean 1.

    Returns
    -------
    source, target : ArrayData
    classes : ndarray
        The sorted class labels (``classes_``).
    """
    kind = type_of_target(source.y)
    if kind not in ("binary", "multiclass"):
        raise ValueError(
            f"{name} is a classifier: source y must be class labels; got a {kind!r} target."
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
    return ArrayData(source.X, ys, w), ArrayData(target.X, yt), classes


def as_data(obj: Any, name: str, num_workers: int = 0) -> Data:
    """``fit``'s ``source`` / ``target`` (Dataset, DataLoader or arrays next to one)
    as engine data; array labels must then be class indices."""
    labelled = name == "source"
    if isinstance(obj, DataLoader):
        return LoaderData(obj, name, labelled)
    if isinstance(obj, Dataset):
        return DatasetData(obj, name, labelled, num_workers)
    if obj is None:
        raise ValueError(f"{name} is missing.")
    dom = check_domain(obj, name, require_labels=labelled, allow_nd=True)
    y = dom.y
    if y is not None:
        mask = np.ones(len(y), dtype=bool) if labelled else dom.labelled
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


def _scan_labels(data: Data, n_classes: int | None) -> Tensor | None:
    """Every source label when cheap, or when ``n_classes`` must be inferred."""
    if isinstance(data, ArrayData):
        return data.y
    if isinstance(data, DatasetData):
        labels = data.all_labels()
        if labels is not None or n_classes is not None:
            return labels
        chunks = [
            data.fetch(torch.arange(i, min(i + 1024, len(data))))[1]
            for i in range(0, len(data), 1024)
        ]
        return torch.cat(chunks)
    if n_classes is not None:
        _check_labels(data.first[1], int(n_classes), "source")
        return None
    return torch.cat([y for _, y, _ in data])


def resolve_n_classes(source: Data, n_classes: int | None) -> int:
    """The number of classes of torch-data inputs: ``n_classes`` when given (the
    labels are checked against it), else one more than the largest source label."""
    labels = _scan_labels(source, n_classes)
    if n_classes is not None:
        n = int(n_classes)  # >= 2: declared in DeepAdapter._parameter_constraints
    elif labels is not None:
        n = int(labels.max()) + 1
    else:  # pragma: no cover - _scan_labels returns labels when n_classes is None
        raise RuntimeError
    if labels is not None:
        _check_labels(labels, n, "source")
    if n < 2:
        raise ValueError("the source labels hold a single class; a classifier needs two.")
    return n


def hold_out(source: Data, callbacks: list, seed: int) -> tuple[Data, ArrayData | None]:
    """Split off the source rows a callback asks to hold out (``validation_fraction``),
    stratified by class; returns the training rows and the held-out ones (or None)."""
    frac = max((float(getattr(cb, "validation_fraction", 0.0)) for cb in callbacks), default=0.0)
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
        raise ValueError(f"validation_fraction={frac} leaves no rows to hold out or to train on.")

    def take(rows: np.ndarray) -> ArrayData:
        out = ArrayData.__new__(ArrayData)
        idx = torch.from_numpy(rows)
        out.x, out.y = source.x.index_select(0, idx), source.y.index_select(0, idx)
        out.weight = None if source.weight is None else source.weight.index_select(0, idx)
        return out

    return take(train), take(val)


def predict_batches(
    X: Any,
    input_shape: tuple[int, ...],
    check_X: Callable[[Any], np.ndarray],
    owner: str,
    chunk: int = 1024,
) -> Iterator[Tensor]:
    """Input chunks of ``X`` (arrays, Dataset or DataLoader) for inference.

    Parameters
    ----------
    X : array-like, Dataset or DataLoader
    input_shape : tuple of int
        Shape of one row the model was fitted on.
    check_X : callable
        Validates array inputs (the adapter's ``_check_X``).
    owner : str
        Name of the model in error messages.
    chunk : int, default=1024
    """
    if isinstance(X, (Dataset, DataLoader)):
        data = LoaderData(X, "X", False) if isinstance(X, DataLoader) else DatasetData(X, "X", False)
        if data.sample_shape != input_shape:
            raise ValueError(
                f"X rows have shape {data.sample_shape}, but {owner} was fitted with "
                f"{input_shape}."
            )
        for x, _, _ in iter_rows(data, chunk):
            yield x
        return
    arr = check_X(X)
    arr = arr.reshape((len(arr), *input_shape))
    t = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))
    for i in range(0, len(t), chunk):
        yield t[i : i + chunk]
