"""Conversion of the benchmark sets' public original files to our ``.npz`` layout.

Each converter takes the paths of the original files (a mapping from the
registered original name, see :class:`~domainadapt.datasets.OriginalFile`, to
a local path) and returns a list of *candidate* archives (dicts of arrays in
file order). Nearly always there is one candidate; the USPS text conversion
returns two roundings (see :func:`convert_usps_esl`). The caller writes the
first candidate whose archive matches the registered checksum.

The layout is the one of the data ``README``: ``X_*`` features, ``y_*`` int64
labels 0-based, the same array names, dtypes, shapes and memory order as the
registered files, so that ``numpy.savez_compressed`` of a converted set
reproduces the registered ``.npz`` byte for byte.

Formats read:

* MATLAB ``.mat`` v4/v5/v7 with :func:`scipy.io.loadmat`; v7.3 (HDF5) with
  ``h5py`` when it is installed;
* HDF5 ``usps.h5`` (Kaggle "usps-dataset") with ``h5py`` when installed;
* gzip'd idx files (MNIST) and gzip'd text (ESL ``zip.train.gz``/``zip.test.gz``)
  with the standard library and NumPy.
"""

from __future__ import annotations

import gzip
import io
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ._fetch import ConversionError
from ._real import OFFICE_CALTECH_CLASSES, OFFICE_CALTECH_DOMAINS

__all__ = [
    "CONVERTERS",
    "convert_mnist_idx",
    "convert_mnist_usps_jda",
    "convert_office_caltech_surf",
    "convert_usps_esl",
    "convert_usps_h5",
    "npz_bytes",
    "read_idx",
    "read_mat",
]

Arrays = dict[str, np.ndarray]
Paths = Mapping[str, "str | os.PathLike[str]"]

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


# --------------------------------------------------------------------------- #
# readers
# --------------------------------------------------------------------------- #
def _need_h5py(path: Path, what: str) -> Any:
    try:
        import h5py
    except ImportError:
        raise ConversionError(
            f"{path.name} is {what}; reading it needs h5py, which is not installed "
            "(pip install h5py)"
        ) from None
    return h5py


def _is_hdf5(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(520)
    # a MATLAB v7.3 file is HDF5 with a 512-byte user block
    return head[:8] == _HDF5_SIGNATURE or head[512:520] == _HDF5_SIGNATURE


def read_mat(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read the numeric variables of a MATLAB file, in MATLAB's orientation.

    v4/v5/v7 files are read with :func:`scipy.io.loadmat`; v7.3 files (HDF5)
    with ``h5py`` if it is installed. A v7.3 matrix comes out of ``h5py``
    transposed; it is transposed back, so that both readers give a MATLAB
    ``m x n`` matrix as an ``(m, n)`` array.

    Raises
    ------
    ConversionError
        The file is not a MATLAB file, or is v7.3 and ``h5py`` is missing.
    """
    path = Path(path)
    if _is_hdf5(path):
        h5py = _need_h5py(path, "a MATLAB v7.3 (HDF5) file")
        out = {}
        with h5py.File(path, "r") as f:
            for key, node in f.items():
                if key.startswith("#") or not isinstance(node, h5py.Dataset):
                    continue
                out[key] = np.asarray(node[()]).T
        return out
    import scipy.io

    try:
        data = scipy.io.loadmat(path)
    except (ValueError, NotImplementedError, TypeError, OSError) as exc:
        raise ConversionError(f"{path.name} is not a readable MATLAB file: {exc}") from exc
    return {k: v for k, v in data.items() if not k.startswith("__")}


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a (gzip'd or plain) idx file of unsigned bytes, e.g. MNIST's.

    Raises
    ------
    ConversionError
        Not an idx file of unsigned bytes, or truncated.
    """
    path = Path(path)
    with open(path, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    try:
        with gzip.open(path, "rb") if gz else open(path, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError) as exc:
        raise ConversionError(f"{path.name} is not a valid gzip file: {exc}") from exc
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] != 0x08:
        raise ConversionError(
            f"{path.name} is not an idx file of unsigned bytes (magic {raw[:4].hex()})"
        )
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    count = int(np.prod(shape)) if shape else 0
    if len(raw) != header + count:
        raise ConversionError(
            f"{path.name}: header says shape {shape} ({count} bytes), file holds "
            f"{len(raw) - header} bytes (truncated or corrupted)"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape).copy()


def npz_bytes(arrays: Mapping[str, np.ndarray]) -> bytes:
    """The ``numpy.savez_compressed`` archive of ``arrays`` (in their order), as bytes.

    NumPy writes every member with the fixed ZIP date 1980-01-01, so the bytes
    depend only on the arrays (and the zlib build).
    """
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


# --------------------------------------------------------------------------- #
# helpers
# --------------------------------------------------------------------------- #
def _labels_1_to_10(y: Any, where: str) -> np.ndarray:
    y = np.asarray(y).ravel()
    if y.size and not np.all(np.isfinite(y.astype(np.float64))):
        raise ConversionError(f"{where}: labels are not finite")
    yi = y.astype(np.int64)
    if not np.array_equal(yi, y) or yi.size == 0 or yi.min() < 1 or yi.max() > 10:
        raise ConversionError(f"{where}: labels must be integers 1..10 (the .mat convention)")
    return yi - 1


def _pick(data: Mapping[str, np.ndarray], names: tuple[str, ...], where: str) -> np.ndarray:
    for n in names:
        if n in data:
            return data[n]
    raise ConversionError(
        f"{where}: none of the variables {list(names)} found (it has {sorted(data)})"
    )


def _one(paths: Paths, names: tuple[str, ...]) -> dict[str, Path]:
    missing = [n for n in names if n not in paths]
    if missing:
        raise ConversionError(f"missing original file(s): {missing}")
    return {n: Path(paths[n]) for n in names}


# --------------------------------------------------------------------------- #
# converters
# --------------------------------------------------------------------------- #
def convert_mnist_usps_jda(paths: Paths) -> list[Arrays]:
    """``MNIST_vs_USPS.mat`` (JDA release, v5, or the v7.3 re-save) -> ``mnist_usps_jda.npz``.

    The source domain (``X_src``/``Xs``, 256 x 2000) is MNIST and the target
    (``X_tar``/``Xt``, 256 x 1800) is USPS; one column per image. Labels 1..10
    become 0..9. ``X_*`` are float32 C-ordered (n, 256), ``y_*`` int64.
    """
    if len(paths) != 1:
        raise ConversionError(f"expected one .mat file, got {sorted(paths)}")
    path = Path(next(iter(paths.values())))
    m = read_mat(path)
    out: Arrays = {}
    for dom, xs, ys in (
        ("mnist", ("X_src", "Xs"), ("Y_src", "Ys")),
        ("usps", ("X_tar", "Xt"), ("Y_tar", "Yt")),
    ):
        where = f"{path.name} ({dom})"
        X = np.asarray(_pick(m, xs, where))
        if X.ndim != 2 or 256 not in X.shape:
            raise ConversionError(f"{where}: expected a 256 x n matrix, got shape {X.shape}")
        if X.shape[0] != 256:  # stored one image per row
            X = X.T
        y = _labels_1_to_10(_pick(m, ys, where), where)
        if y.shape[0] != X.shape[1]:
            raise ConversionError(f"{where}: {X.shape[1]} images but {y.shape[0]} labels")
        out[f"X_{dom}"] = np.ascontiguousarray(X.T, dtype=np.float32)
        out[f"y_{dom}"] = y
    return [out]


def convert_office_caltech_surf(paths: Paths) -> list[Arrays]:
    """``{amazon,caltech,dslr,webcam}_SURF_L10.mat`` -> ``office_caltech10_surf.npz``.

    Variables ``fts`` (n x 800 SURF counts) and ``labels`` (1..10). ``X_*``
    are float32 in Fortran order (as ``loadmat`` gives them and as the
    registered file stores them), ``y_*`` int64 0..9, then ``class_names``.
    """
    files = _one(paths, tuple(f"{d}_SURF_L10.mat" for d in OFFICE_CALTECH_DOMAINS))
    out: Arrays = {}
    for dom in OFFICE_CALTECH_DOMAINS:
        path = files[f"{dom}_SURF_L10.mat"]
        m = read_mat(path)
        X = np.asarray(_pick(m, ("fts",), path.name))
        if X.ndim != 2 or X.shape[1] != 800:
            raise ConversionError(f"{path.name}: expected fts of shape (n, 800), got {X.shape}")
        y = _labels_1_to_10(_pick(m, ("labels",), path.name), path.name)
        if y.shape[0] != X.shape[0]:
            raise ConversionError(f"{path.name}: {X.shape[0]} rows but {y.shape[0]} labels")
        out[f"X_{dom}"] = np.asfortranarray(X, dtype=np.float32)
        out[f"y_{dom}"] = y
    out["class_names"] = np.array(OFFICE_CALTECH_CLASSES)
    return [out]


def _esl_table(path: Path) -> np.ndarray:
    try:
        with gzip.open(path, "rt") if _is_gzip(path) else open(path) as fh:
            table = np.loadtxt(fh, dtype=np.float64, ndmin=2)
    except (OSError, EOFError, ValueError) as exc:
        raise ConversionError(f"{path.name} is not the ESL zip text table: {exc}") from exc
    if table.shape[1] != 257:
        raise ConversionError(
            f"{path.name}: expected 257 columns (digit + 16x16 pixels), got {table.shape[1]}"
        )
    return table


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _digits(y: np.ndarray, where: str) -> np.ndarray:
    yi = y.astype(np.int64)
    if not np.array_equal(yi, y) or yi.size == 0 or yi.min() < 0 or yi.max() > 9:
        raise ConversionError(f"{where}: labels must be the digits 0..9")
    return yi


def convert_usps_esl(paths: Paths) -> list[Arrays]:
    """ESL ``zip.train.gz``/``zip.test.gz`` (gzip'd text) -> ``usps.npz``.

    Each line is the digit then 256 grey values in [-1, 1] (row-major 16x16,
    -1 = background). The pixel is ``round(255 * (v + 1) / 2)`` as uint8
    (the registered file was made from a copy storing ``(v + 1) / 2``).

    Two candidates are returned, ``(v + 1) / 2`` rounded in float64 and in
    float32: they differ only on the few exact ``.5`` ties, and which one the
    intermediate copy used is not documented; the caller keeps the one that
    reproduces the registered checksum.
    """
    files = _one(paths, ("zip.train.gz", "zip.test.gz"))
    parts = {}
    for split, name in (("train", "zip.train.gz"), ("test", "zip.test.gz")):
        t = _esl_table(files[name])
        v = t[:, 1:]
        if v.min() < -1.0 - 1e-9 or v.max() > 1.0 + 1e-9:
            raise ConversionError(f"{name}: pixel values must lie in [-1, 1]")
        parts[split] = (v, _digits(t[:, 0], name))
    candidates = []
    for dtype in (np.float64, np.float32):
        arrays: Arrays = {}
        for split, (v, y) in parts.items():
            x = ((v + 1.0) / 2.0).astype(dtype)
            u = np.clip(np.round(dtype(255) * x), 0, 255).astype(np.uint8)
            arrays[f"X_{split}"] = np.ascontiguousarray(u.reshape(-1, 16, 16))
            arrays[f"y_{split}"] = y
        if not any(all(np.array_equal(c[k], arrays[k]) for k in c) for c in candidates):
            candidates.append(arrays)
    return candidates


def convert_usps_h5(paths: Paths) -> list[Arrays]:
    """Kaggle ``usps.h5`` (groups ``train``/``test`` with ``data``, ``target``) -> ``usps.npz``.

    ``data`` holds ``(v + 1) / 2`` in [0, 1]; the pixel is ``round(255 * x)``
    as uint8. Needs ``h5py``.
    """
    (path,) = _one(paths, ("usps.h5",)).values()
    h5py = _need_h5py(path, "an HDF5 file")
    arrays: Arrays = {}
    try:
        with h5py.File(path, "r") as f:
            for split in ("train", "test"):
                x = np.asarray(f[split]["data"][()])
                y = np.asarray(f[split]["target"][()]).ravel()
                if x.ndim != 2 or x.shape[1] != 256 or x.shape[0] != y.shape[0]:
                    raise ConversionError(
                        f"{path.name}: {split}/data must be (n, 256) with n labels, got "
                        f"{x.shape} and {y.shape}"
                    )
                u = np.clip(np.round(x.dtype.type(255) * x), 0, 255).astype(np.uint8)
                arrays[f"X_{split}"] = np.ascontiguousarray(u.reshape(-1, 16, 16))
                arrays[f"y_{split}"] = _digits(y, f"{path.name} {split}/target")
    except KeyError as exc:
        raise ConversionError(f"{path.name}: missing group/dataset {exc}") from exc
    return [arrays]


_MNIST_FILES = (
    ("X_train", "train-images-idx3-ubyte.gz"),
    ("y_train", "train-labels-idx1-ubyte.gz"),
    ("X_test", "t10k-images-idx3-ubyte.gz"),
    ("y_test", "t10k-labels-idx1-ubyte.gz"),
)


def convert_mnist_idx(paths: Paths) -> list[Arrays]:
    """The four gzip'd MNIST idx files -> ``mnist.npz`` (uint8 (n, 28, 28), int64 labels)."""
    files = _one(paths, tuple(n for _, n in _MNIST_FILES))
    arrays: Arrays = {}
    for key, name in _MNIST_FILES:
        a = read_idx(files[name])
        want = 3 if key.startswith("X") else 1
        if a.ndim != want:
            raise ConversionError(f"{name}: expected a {want}-d idx array, got shape {a.shape}")
        arrays[key] = a if want == 3 else _digits(a.astype(np.int64), name)
    for split in ("train", "test"):
        if len(arrays[f"X_{split}"]) != len(arrays[f"y_{split}"]):
            raise ConversionError(f"MNIST {split}: images and labels differ in number")
    return [arrays]


#: Converter of each registered conversion, by name (see ``Conversion.converter``).
CONVERTERS: dict[str, Callable[[Paths], list[Arrays]]] = {
    "mnist_usps_jda": convert_mnist_usps_jda,
    "office_caltech_surf": convert_office_caltech_surf,
    "usps_esl": convert_usps_esl,
    "usps_h5": convert_usps_h5,
    "mnist_idx": convert_mnist_idx,
}
