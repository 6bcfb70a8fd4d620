"""Loaders of the real benchmark files (MNIST/USPS, Office-Caltech10 SURF)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from domainadapt._domain import Domain

from ._fetch import fetch_file

__all__ = [
    "OFFICE_CALTECH_CLASSES",
    "OFFICE_CALTECH_DOMAINS",
    "load_domain_pair",
    "load_mnist",
    "load_mnist_usps_jda",
    "load_office_caltech_surf",
    "load_usps",
]

#: Class names of Office-Caltech10, in label order (label ``k`` is ``OFFICE_CALTECH_CLASSES[k]``).
OFFICE_CALTECH_CLASSES: tuple[str, ...] = (
    "back_pack",
    "bike",
    "calculator",
    "headphones",
    "keyboard",
    "laptop_computer",
    "monitor",
    "mouse",
    "mug",
    "projector",
)

#: Domain names of Office-Caltech10 (keys of :func:`load_office_caltech_surf`).
OFFICE_CALTECH_DOMAINS: tuple[str, ...] = ("amazon", "caltech", "dslr", "webcam")

_JDA_DOMAINS: tuple[str, ...] = ("mnist", "usps")


def _load_npz(name: str, data_home: str | os.PathLike[str] | None, download: bool) -> Any:
    path = fetch_file(name, data_home=data_home, download=download)
    return np.load(path, allow_pickle=False)


# --------------------------------------------------------------------------- #
# MNIST / USPS (JDA subsets)
# --------------------------------------------------------------------------- #
def load_mnist_usps_jda(
    data_home: str | os.PathLike[str] | None = None,
    download: bool = False,
    normalize: Literal["l2"] | None = None,
) -> dict[str, Domain]:
    """Load the MNIST+USPS subsets of the TCA/JDA papers.

    2000 MNIST digits and 1800 USPS digits, both 16x16 grey images flattened to
    256 features, labels 0..9. Both transfer directions (MNIST->USPS and
    USPS->MNIST) use these two domains.

    Parameters
    ----------
    data_home : str or path-like, optional
        Data directory, see :func:`get_data_home`.
    download : bool, default=False
        If the file is missing, download its public original files, convert
        them and write it (or download it from a mirror of the ``.npz``
        files, ``DOMAINADAPT_DATA_URL``), see :func:`fetch_file`.
    normalize : {"l2", None}, default=None
        ``"l2"``: divide every sample by its Euclidean norm (the JDA protocol).
        ``None``: raw values (MNIST in ``[0, 255/256]``, USPS in ``[0, 1]``).

    Returns
    -------
    dict of str to Domain
        Keys ``"mnist"`` (X: (2000, 256)) and ``"usps"`` (X: (1800, 256));
        X float32, y int64.

    Notes
    -----
    With ``normalize="l2"``, 1-nearest-neighbour classification reproduces the NN
    baseline of Long et al. (2013): USPS->MNIST 44.70 %, MNIST->USPS 65.94 %.

    References
    ----------
    .. [1] M. Long, J. Wang, G. Ding, J. Sun, P. S. Yu, "Transfer Feature Learning
       with Joint Distribution Adaptation", ICCV 2013.
    .. [2] Y. LeCun et al., "Gradient-based learning applied to document
       recognition", Proc. IEEE, 1998. (MNIST)
    .. [3] J. J. Hull, "A database for handwritten text recognition research",
       IEEE TPAMI, 1994. (USPS)

    Examples
    --------
    >>> doms = load_mnist_usps_jda(normalize="l2")  # doctest: +SKIP
    >>> doms["mnist"].X.shape  # doctest: +SKIP
    (2000, 256)
    """
    if normalize not in (None, "l2"):
        raise ValueError(f"normalize must be 'l2' or None, got {normalize!r}")
    with _load_npz("mnist_usps_jda.npz", data_home, download) as data:
        out = {}
        for dom in _JDA_DOMAINS:
            X = np.asarray(data[f"X_{dom}"], dtype=np.float32)
            y = np.asarray(data[f"y_{dom}"], dtype=np.int64)
            if normalize == "l2":
                norms = np.linalg.norm(X.astype(np.float64), axis=1, keepdims=True)
                norms[norms == 0] = 1.0
                X = (X / norms).astype(np.float32)
            out[dom] = Domain(X, y=y, name=dom)
    return out


# --------------------------------------------------------------------------- #
# Office-Caltech10 SURF
# --------------------------------------------------------------------------- #
def _zscore(X: np.ndarray) -> np.ndarray:
    """Column z-score with the population std; constant columns become 0."""
    mean = X.mean(axis=0)
    std = X.std(axis=0)  # ddof=0, MATLAB zscore(X, 1)
    centred = X - mean
    safe = np.where(std > 0, std, 1.0)
    return np.where(std > 0, centred / safe, 0.0)


def load_office_caltech_surf(
    data_home: str | os.PathLike[str] | None = None,
    download: bool = False,
    preprocess: Literal["zscore", "l1", "raw"] = "zscore",
) -> dict[str, Domain]:
    """Load Office-Caltech10 with 800-bin SURF bag-of-words features.

    Four domains (amazon 958, caltech 1123, dslr 157, webcam 295 images) over the
    ten classes of :data:`OFFICE_CALTECH_CLASSES` (label ``k`` is
    ``OFFICE_CALTECH_CLASSES[k]``).

    Parameters
    ----------
    data_home : str or path-like, optional
        Data directory, see :func:`get_data_home`.
    download : bool, default=False
        If the file is missing, download its public original files, convert
        them and write it (or download it from a mirror of the ``.npz``
        files, ``DOMAINADAPT_DATA_URL``), see :func:`fetch_file`.
    preprocess : {"zscore", "l1", "raw"}, default="zscore"
        ``"raw"``: the SURF word counts. ``"l1"``: each histogram divided by its
        sum. ``"zscore"``: L1, then every feature z-scored *within each domain*
        with the population standard deviation (MATLAB ``zscore(X, 1)``); a
        feature that is constant in a domain becomes 0. ``"zscore"`` is the
        standard protocol of the GFK, SA, CORAL and JDA code.

    Returns
    -------
    dict of str to Domain
        Keys ``"amazon"``, ``"caltech"``, ``"dslr"``, ``"webcam"``; X float32 of
        shape (n, 800), y int64 in 0..9.

    Notes
    -----
    With ``preprocess="zscore"``, 1-nearest-neighbour classification reproduces
    the NN row of Long et al. (2013) on all 12 pairs, e.g. C->A 23.70 %,
    W->D 59.24 %, D->W 63.39 %.

    References
    ----------
    .. [1] B. Gong, Y. Shi, F. Sha, K. Grauman, "Geodesic Flow Kernel for
       Unsupervised Domain Adaptation", CVPR 2012.
    .. [2] K. Saenko, B. Kulis, M. Fritz, T. Darrell, "Adapting Visual Category
       Models to New Domains", ECCV 2010.
    .. [3] G. Griffin, A. Holub, P. Perona, "Caltech-256 Object Category
       Dataset", 2007.
    """
    if preprocess not in ("zscore", "l1", "raw"):
        raise ValueError(f"preprocess must be 'zscore', 'l1' or 'raw', got {preprocess!r}")
    out = {}
    with _load_npz("office_caltech10_surf.npz", data_home, download) as data:
        for dom in OFFICE_CALTECH_DOMAINS:
            X = np.asarray(data[f"X_{dom}"], dtype=np.float64)
            y = np.asarray(data[f"y_{dom}"], dtype=np.int64)
            if preprocess in ("l1", "zscore"):
                sums = X.sum(axis=1, keepdims=True)
                X = X / np.where(sums > 0, sums, 1.0)
            if preprocess == "zscore":
                X = _zscore(X)
            out[dom] = Domain(X.astype(np.float32), y=y, name=dom)
    return out


# --------------------------------------------------------------------------- #
# full MNIST / USPS images
# --------------------------------------------------------------------------- #
def _subset_indices(y: np.ndarray, n_samples: int, stratify: bool, random_state: Any) -> np.ndarray:
    from sklearn.utils import check_random_state

    n = len(y)
    if not 0 < n_samples <= n:
        raise ValueError(f"n_samples must be in [1, {n}], got {n_samples}")
    if n_samples == n:
        return np.arange(n)
    if stratify:
        from sklearn.model_selection import train_test_split

        idx, _ = train_test_split(
            np.arange(n), train_size=n_samples, stratify=y, random_state=random_state
        )
    else:
        idx = check_random_state(random_state).choice(n, size=n_samples, replace=False)
    return np.sort(idx)


def _images(
    dataset: str,
    split: str,
    data_home: str | os.PathLike[str] | None,
    download: bool,
    flatten: bool,
    size: int | None,
    n_samples: int | None,
    stratify: bool,
    random_state: Any,
) -> Domain:
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    with _load_npz(f"{dataset}.npz", data_home, download) as data:
        X = data[f"X_{split}"]
        y = np.asarray(data[f"y_{split}"], dtype=np.int64)
    if n_samples is not None:
        idx = _subset_indices(y, int(n_samples), stratify, random_state)
        X, y = X[idx], y[idx]
    X = (X.astype(np.float32) / np.float32(255.0))[:, None, :, :]
    if size is not None:
        size = int(size)
        if size < 1:
            raise ValueError(f"size must be a positive int, got {size}")
        if size != X.shape[-1]:
            import torch
            import torch.nn.functional as F

            with torch.no_grad():
                t = F.interpolate(
                    torch.from_numpy(X),
                    size=(size, size),
                    mode="bilinear",
                    align_corners=False,
                    antialias=True,
                )
            X = np.clip(t.numpy(), 0.0, 1.0).astype(np.float32, copy=False)
    if flatten:
        X = X.reshape(len(X), -1)
    return Domain(np.ascontiguousarray(X), y=y, name=dataset)


_IMG_DOC = """
    Parameters
    ----------
    split : {{"train", "test"}}, default="train"
        Which split to load.
    data_home : str or path-like, optional
        Data directory, see :func:`get_data_home`.
    download : bool, default=False
        If the file is missing, download its public original files, convert
        them and write it (or download it from a mirror of the ``.npz``
        files, ``DOMAINADAPT_DATA_URL``), see :func:`fetch_file`.
    flatten : bool, default=False
        Return X of shape (n, H*W) instead of (n, 1, H, W).
    size : int, optional
        Resize the images to ``size x size`` with bilinear, antialiased
        interpolation (:func:`torch.nn.functional.interpolate`), e.g. ``size=16``
        for MNIST or ``size=28`` for USPS. Default: native size ({native}x{native}).
    n_samples : int, optional
        Draw a random subset of this many images (without replacement; the rows
        keep their order in the file). The ADDA protocol uses 2000 MNIST and 1800
        USPS training images.
    stratify : bool, default=False
        Draw the subset stratified by class (class proportions kept).
    random_state : int, RandomState instance or None
        Seed of the subset.

    Returns
    -------
    Domain
        ``name="{name}"``; X float32 in [0, 1] (0 = background), y int64 in 0..9.
"""


def _image_loader(
    dataset: str, summary: str, native: int, references: str
) -> Callable[..., Domain]:
    """The public loader of one digit set: the signature and the shared part of the
    docstring (``_IMG_DOC``) are written once, here."""

    def load(
        split: Literal["train", "test"] = "train",
        data_home: str | os.PathLike[str] | None = None,
        download: bool = False,
        *,
        flatten: bool = False,
        size: int | None = None,
        n_samples: int | None = None,
        stratify: bool = False,
        random_state: Any = None,
    ) -> Domain:
        return _images(
            dataset, split, data_home, download, flatten, size, n_samples, stratify, random_state
        )

    load.__name__ = load.__qualname__ = f"load_{dataset}"
    load.__doc__ = summary + _IMG_DOC.format(native=native, name=dataset) + references
    return load


load_mnist = _image_loader(
    "mnist",
    """Load MNIST (60000 train / 10000 test 28x28 grey digits).
""",
    28,
    """
    References
    ----------
    .. [1] Y. LeCun, L. Bottou, Y. Bengio, P. Haffner, "Gradient-based learning
       applied to document recognition", Proc. IEEE 86(11), 1998.
""",
)

load_usps = _image_loader(
    "usps",
    """Load USPS (7291 train / 2007 test 16x16 grey digits, ESL "zip" version).

    The pixel values are those of the ESL/Kaggle release, which is a different
    (sharper) rendering of the same scans than the LIBSVM file used by
    ``torchvision.datasets.USPS``; results can differ by a few points from
    papers that used torchvision's USPS. Labels and order equal LIBSVM's.
""",
    16,
    """
    References
    ----------
    .. [1] J. J. Hull, "A database for handwritten text recognition research",
       IEEE TPAMI 16(5), 1994.
    .. [2] T. Hastie, R. Tibshirani, J. Friedman, "The Elements of Statistical
       Learning", data set "ZIP code".
""",
)


# --------------------------------------------------------------------------- #
# pairs
# --------------------------------------------------------------------------- #
_PAIR_LOADERS = {
    "mnist_usps_jda": (load_mnist_usps_jda, _JDA_DOMAINS),
    "office_caltech_surf": (load_office_caltech_surf, OFFICE_CALTECH_DOMAINS),
}


def _resolve_domain(name: str, domains: tuple[str, ...], dataset: str) -> str:
    key = name.lower()
    if key in domains:
        return key
    matches = [d for d in domains if d[0] == key]
    if len(key) == 1 and len(matches) == 1:
        return matches[0]
    raise ValueError(
        f"unknown domain {name!r} for {dataset!r}; choose from {list(domains)} "
        f"(or their first letters)"
    )


def load_domain_pair(
    dataset: Literal["mnist_usps_jda", "office_caltech_surf"],
    source: str,
    target: str,
    **kw: Any,
) -> tuple[Domain, Domain]:
    """Load a (source, target) pair of a multi-domain benchmark.

    Parameters
    ----------
    dataset : {"mnist_usps_jda", "office_caltech_surf"}
        The benchmark.
    source, target : str
        Domain names (``"mnist"``, ``"usps"``; ``"amazon"``, ``"caltech"``,
        ``"dslr"``, ``"webcam"``), case-insensitive, or their first letter
        (``"A"``, ``"C"``, ``"D"``, ``"W"``, ``"M"``, ``"U"``).
    **kw
        Passed to the loader (``data_home``, ``download``, ``normalize`` or
        ``preprocess``).

    Returns
    -------
    source, target : Domain
        Both labelled; the target labels are for evaluation only.

    Examples
    --------
    >>> src, tgt = load_domain_pair("office_caltech_surf", "C", "A")  # doctest: +SKIP
    """
    try:
        loader, domains = _PAIR_LOADERS[dataset]
    except KeyError:
        raise ValueError(
            f"unknown dataset {dataset!r}; choose from {sorted(_PAIR_LOADERS)}"
        ) from None
    s = _resolve_domain(source, domains, dataset)
    t = _resolve_domain(target, domains, dataset)
    if s == t:
        raise ValueError(f"source and target are the same domain ({s!r})")
    doms = loader(**kw)
    return doms[s], doms[t]
