"""Data directory, registry of the benchmark files, and checksummed fetching.

The four benchmark archives are conversions (``.npz``) of public original files
(MATLAB ``.mat``, gzip'd idx, gzip'd text, HDF5). :func:`fetch_file` finds a
file in the data directory, or with ``download=True``

* downloads the ready ``.npz`` from a mirror that *you* configure (``base_url``
  or ``DOMAINADAPT_DATA_URL``), or else
* downloads the original files from their public origins (each
  :class:`Conversion` of the registry lists them, with mirrors and checksums),
  converts them (:mod:`._convert`) and writes the ``.npz``,

and always checks the ``.npz`` against the registered SHA-256.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path

from ._datafiles import REGISTRY, Conversion, DataFile, OriginalFile

__all__ = [
    "DATA_HOME_ENV",
    "DATA_URL_ENV",
    "ORIGINALS_URL_ENV",
    "REGISTRY",
    "ChecksumError",
    "Conversion",
    "ConversionError",
    "DataFile",
    "DataNotFoundError",
    "DownloadError",
    "NoMirrorError",
    "OriginalFile",
    "fetch_file",
    "get_data_home",
    "npz_content_sha256",
    "sha256sum",
]

#: Environment variable that names the data directory.
DATA_HOME_ENV = "DOMAINADAPT_DATA"
#: Environment variable that names a mirror (base URL) holding the ``.npz`` files.
DATA_URL_ENV = "DOMAINADAPT_DATA_URL"
#: Environment variable that names a mirror (base URL) holding the *original* files
#: under their registered names (:attr:`OriginalFile.name`); it replaces their URLs.
ORIGINALS_URL_ENV = "DOMAINADAPT_ORIGINALS_URL"

_CHUNK = 1 << 20  # 1 MiB


# --------------------------------------------------------------------------- #
# errors
# --------------------------------------------------------------------------- #
class ChecksumError(ValueError, OSError):
    """A data file's SHA-256 differs from the registry's.

    Subclass of both :class:`ValueError` and :class:`OSError`. Attributes
    ``filename``, ``path``, ``expected`` and ``actual`` hold the details.

    Examples
    --------
    >>> from pathlib import Path
    >>> from domainadapt.datasets import ChecksumError
    >>> err = ChecksumError("mnist.npz differs", filename="mnist.npz",
    ...                     path=Path("mnist.npz"), expected="ab", actual="cd")
    >>> isinstance(err, ValueError) and isinstance(err, OSError), err.expected
    (True, 'ab')
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
    """A registered data file is not in the data directory (and was not downloaded).

    Examples
    --------
    >>> import tempfile
    >>> from domainadapt.datasets import DataNotFoundError, fetch_file
    >>> with tempfile.TemporaryDirectory() as empty:
    ...     try:
    ...         fetch_file("mnist.npz", data_home=empty)
    ...     except DataNotFoundError as err:
    ...         print(isinstance(err, FileNotFoundError), "not found" in str(err))
    True True
    """

    def __str__(self) -> str:
        return str(self.args[0])


class NoMirrorError(DataNotFoundError):
    """No source to download from: kept for compatibility.

    Every registered file can now be built from its public originals, so
    :func:`fetch_file` no longer raises it for them.

    Examples
    --------
    >>> from domainadapt.datasets import DataNotFoundError, NoMirrorError
    >>> issubclass(NoMirrorError, DataNotFoundError)
    True
    """


class DownloadError(OSError):
    """A download failed (network or HTTP error); ``url`` names the failing URL.

    Examples
    --------
    >>> from domainadapt.datasets import DownloadError
    >>> err = DownloadError("HTTP 404", url="http://127.0.0.1:9/zip.train.gz")
    >>> isinstance(err, OSError), err.url
    (True, 'http://127.0.0.1:9/zip.train.gz')
    """

    def __init__(self, message: str, *, url: str | None = None):
        super().__init__(message)
        self.url = url

    def __str__(self) -> str:
        return str(self.args[0])


class ConversionError(ValueError):
    """An original file could not be converted (wrong format, variables or shapes).

    Examples
    --------
    >>> from domainadapt.datasets import ConversionError
    >>> issubclass(ConversionError, ValueError)
    True
    """


# `_lookup` reads this module's REGISTRY, so that a test can point it elsewhere.
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


def npz_content_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of an ``.npz`` archive's content, independent of its compression.

    Hashes, for every member in archive order, its name, a NUL byte, its
    uncompressed size (8 bytes, little-endian) and its uncompressed bytes (the
    ``.npy`` data: header with dtype, order and shape, then the raw values).
    Two archives of the same arrays compressed by different zlib builds have
    the same content digest.

    Raises
    ------
    zipfile.BadZipFile, zlib.error, OSError
        The file is not a readable ZIP archive.
    """
    h = hashlib.sha256()
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            h.update(info.filename.encode("utf-8") + b"\0")
            h.update(info.file_size.to_bytes(8, "little"))
            with zf.open(info) as fh:
                for chunk in iter(lambda: fh.read(_CHUNK), b""):
                    h.update(chunk)
    return h.hexdigest()


def _content_matches(path: Path, entry: DataFile) -> bool:
    if not entry.content_sha256:
        return False
    try:
        return npz_content_sha256(path) == entry.content_sha256
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError):
        return False


def _source_text(entry: DataFile) -> str:
    return (
        f"Public source: {entry.origin}.\n"
        f"Original file(s): {', '.join(entry.source_urls)} (the .npz is a conversion of "
        "these; see the data section of the user guide for how download=True rebuilds it).\n"
        f"Cite: {entry.citation}."
    )


def _verify(path: Path, entry: DataFile, what: str) -> None:
    actual = sha256sum(path)
    if actual == entry.sha256 or _content_matches(path, entry):
        # the second: same arrays, compressed to other bytes by another zlib
        return
    raise ChecksumError(
        f"checksum mismatch for {entry.filename} ({what} {path}): expected sha256 "
        f"{entry.sha256}, got {actual}. The file is corrupted, truncated or a "
        f"different version: delete it and copy a good {entry.filename} into the data "
        f"directory (or rebuild it with download=True).",
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
                f"URL (base_url / {DATA_URL_ENV}) and that it serves {entry.filename}, "
                f"or unset it to build the file from its public originals.",
                url=url,
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


def _locate(name: str, data_home: str | os.PathLike[str] | None) -> tuple[DataFile, Path, str, bool]:
    """The entry of ``name``, its path in the data directory, how that directory was
    chosen, and whether a copy is there (verified against the registry when it is)."""
    entry = _lookup(name)
    home, chosen_by = _resolve_data_home(data_home)
    path = home / entry.filename
    found = path.is_file()
    if found:
        _verify(path, entry, "found at")
    return entry, path, chosen_by, found


def fetch_file(
    name: str,
    data_home: str | os.PathLike[str] | None = None,
    download: bool = False,
    base_url: str | None = None,
    *,
    verbose: bool = True,
    timeout: float = 60.0,
    retries: int = 2,
    originals_url: str | None = None,
) -> Path:
    """Locate a registered data file, downloading or building it if asked.

    Parameters
    ----------
    name : str
        A registered file name (see :data:`REGISTRY`), with or without ``.npz``.
    data_home : str or path-like, optional
        Data directory, see :func:`get_data_home`.
    download : bool, default=False
        If the file is missing: with a mirror of the ``.npz`` files (``base_url``
        or ``DOMAINADAPT_DATA_URL``), download ``f"{base_url}/{filename}"``;
        otherwise download the public *original* files (see
        :attr:`DataFile.conversions`; files already in ``<data_home>/originals/``
        are used instead), verify their checksums where known, convert them and
        write the ``.npz``. The originals are deleted afterwards.
    base_url : str, optional
        Mirror holding the ready ``.npz`` files. Defaults to the environment
        variable ``DOMAINADAPT_DATA_URL``.
    verbose : bool, default=True
        Print a progress line per file while downloading (on stderr).
    timeout : float, default=60.0
        Socket timeout in seconds for each request.
    retries : int, default=2
        Further attempts per URL of an original after a network error or an
        HTTP 5xx/429 answer (not after 404/403), before the next mirror is tried.
    originals_url : str, optional
        A mirror of the original files under their registered names, used
        instead of their public URLs. Defaults to ``DOMAINADAPT_ORIGINALS_URL``.

    Returns
    -------
    pathlib.Path
        Path of the verified file.

    Raises
    ------
    DataNotFoundError
        (a :class:`FileNotFoundError`) The file is missing and ``download`` is false.
        The message says where it looked, why there, the public source and the fix.
    ChecksumError
        (a :class:`ValueError` and :class:`OSError`) The SHA-256 of the file, of a
        downloaded original or of the converted archive does not match.
        A failed download or conversion leaves nothing in the data directory.
    DownloadError
        A URL could not be reached or answered with an HTTP error; the message
        names it and says how to place the files by hand.
    ConversionError
        (a :class:`ValueError`) An original file has an unexpected format.
    """
    entry, path, chosen_by, found = _locate(name, data_home)
    if found:
        return path

    if not download:
        raise DataNotFoundError(
            f"data file {entry.filename!r} not found: looked for {path} (data directory "
            f"chosen by {chosen_by}).\n"
            f"{_source_text(entry)}\n"
            f"To fix: put {entry.filename} (sha256 {entry.sha256}) in a directory and set "
            f"{DATA_HOME_ENV} to it (or pass data_home=...), or call with download=True to "
            f"build it from the public original files (or to download it from a mirror of "
            f"the .npz files: base_url=... or {DATA_URL_ENV})."
        )

    mirror = base_url if base_url else os.environ.get(DATA_URL_ENV, "")
    if mirror:
        url = f"{mirror.rstrip('/')}/{entry.filename}"
        _download(url, path, entry, verbose=verbose, timeout=timeout)
        return path

    from ._originals import build_from_originals

    build_from_originals(
        entry,
        path,
        chosen_by=chosen_by,
        verbose=verbose,
        timeout=timeout,
        retries=retries,
        originals_url=originals_url or os.environ.get(ORIGINALS_URL_ENV, "") or None,
    )
    return path
