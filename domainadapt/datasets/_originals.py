"""Build a registered ``.npz`` from its public original files.

Used by :func:`~domainadapt.datasets.fetch_file` when ``download=True`` and no
mirror of the ready ``.npz`` files is configured, and by
:func:`convert_originals` for files downloaded by hand. For each
:class:`~domainadapt.datasets.Conversion` of the registry entry, in order:

1. every original file is taken from the hand-placed folder if it is there,
   else downloaded (stdlib :mod:`urllib`, a progress line, a timeout, retries,
   then the next URL of its mirror list) into a temporary folder inside the
   data directory;
2. its checksum is verified when the registry knows it;
3. it is converted (:mod:`._convert`) and the archive is written atomically,
   but only when it matches the registered SHA-256 (or, compressed by another
   zlib, the registered content digest).

The first conversion that succeeds wins; when all fail, one error lists what
went wrong with each (the failing URLs included) and how to place the files by
hand. Nothing is left in the data directory after a failure.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.client
import importlib.util
import os
import shutil
import socket
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from ._fetch import (
    _CHUNK,
    DATA_URL_ENV,
    ORIGINALS_URL_ENV,
    ChecksumError,
    Conversion,
    ConversionError,
    DataFile,
    DownloadError,
    OriginalFile,
    _locate,
    npz_content_sha256,
)

__all__ = ["build_from_originals", "convert_originals", "http_get", "verify_original"]

#: Name of the folder, inside the data directory, for original files placed by hand.
ORIGINALS_DIRNAME = "originals"
#: Seconds to wait before the first retry (doubled at each further one).
_BACKOFF = 1.0
_RETRY_HTTP = frozenset({408, 429, 500, 502, 503, 504})
_USER_AGENT = "domainadapt-data-fetcher (Python urllib)"


# --------------------------------------------------------------------------- #
# download
# --------------------------------------------------------------------------- #
class _Progress:
    """One progress line on stderr: ``name: 3.1 of 9.9 MB (31%)``."""

    def __init__(self, label: str, total: int | None, enabled: bool):
        self.label, self.total, self.enabled = label, total, enabled
        self.done = 0
        self._last = 0.0
        self._tty = enabled and hasattr(sys.stderr, "isatty") and sys.stderr.isatty()

    def _text(self) -> str:
        mb = self.done / 1e6
        if self.total:
            return f"{self.label}: {mb:.1f} of {self.total / 1e6:.1f} MB ({100 * self.done // self.total}%)"
        return f"{self.label}: {mb:.1f} MB"

    def update(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if self._tty and now - self._last > 0.2:
            self._last = now
            sys.stderr.write("\r" + self._text())
            sys.stderr.flush()

    def close(self, ok: bool) -> None:
        if self.enabled:
            end = "" if ok else " (failed)"
            sys.stderr.write(("\r" if self._tty else "") + self._text() + end + "\n")
            sys.stderr.flush()


def http_get(
    url: str,
    dest: Path,
    *,
    timeout: float,
    retries: int,
    verbose: bool,
    label: str,
    size: int | None = None,
) -> None:
    """Download ``url`` to ``dest``, retrying network errors and HTTP 5xx/429.

    Raises
    ------
    DownloadError
        After the last attempt, or at once on another HTTP error (404, 403, ...);
        the message names the URL and the reason.
    """
    attempts = 1 + max(0, int(retries))
    reason = ""
    tried = 0
    while tried < attempts:
        if tried:
            time.sleep(_BACKOFF * 2 ** (tried - 1))
        tried += 1
        progress: _Progress | None = None
        try:
            req = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
            with urllib.request.urlopen(req, timeout=timeout) as resp, open(dest, "wb") as out:
                length = resp.headers.get("Content-Length")
                expected = int(length) if length and length.isdigit() else None
                progress = _Progress(label, expected or size, verbose)
                for chunk in iter(lambda: resp.read(_CHUNK), b""):
                    out.write(chunk)
                    progress.update(len(chunk))
                if expected is not None and progress.done != expected:
                    raise http.client.IncompleteRead(b"", expected - progress.done)
            progress.close(True)
            return
        except urllib.error.HTTPError as exc:
            reason = f"HTTP {exc.code} {exc.reason}"
            if exc.code not in _RETRY_HTTP:
                break
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            cause = getattr(exc, "reason", None)
            reason = str(cause or exc) or type(exc).__name__
            if isinstance(cause, socket.gaierror):  # unknown host / offline: next mirror
                break
        if progress is not None:
            progress.close(False)
    with contextlib.suppress(OSError):
        dest.unlink()
    tries = f" (after {tried} attempts)" if tried > 1 else ""
    raise DownloadError(f"{url}: {reason}{tries}", url=url)


# --------------------------------------------------------------------------- #
# checksums of originals
# --------------------------------------------------------------------------- #
def _digest(path: Path, algorithm: str, gunzip: bool) -> str:
    if algorithm == "gitblob":
        h = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    elif algorithm in ("sha256", "sha1", "md5"):
        h = hashlib.new(algorithm)
    else:
        raise ValueError(f"unknown checksum algorithm {algorithm!r}")
    opener = gzip.open if gunzip else open
    with opener(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_original(path: Path, original: OriginalFile, source: str, entry: DataFile) -> None:
    """Check an original file against its registered checksum (if any).

    Raises
    ------
    ChecksumError
        It differs; the message names ``source`` (the URL or the local path).
    """
    if not original.checksum:
        return
    algorithm, _, expected = original.checksum.partition(":")
    gunzip = original.checksum_of == "gunzipped"
    try:
        actual = _digest(path, algorithm, gunzip)
    except (OSError, EOFError) as exc:  # not gzip, truncated
        actual = f"unreadable ({exc})"
    if actual != expected.lower():
        what = f"{algorithm} of its gunzipped content" if gunzip else algorithm
        raise ChecksumError(
            f"checksum mismatch for {original.name} from {source}: expected {what} "
            f"{expected}, got {actual}. That copy is corrupted, truncated or a different "
            "file.",
            filename=original.name,
            path=path,
            expected=expected,
            actual=actual,
        )


def _obtain(
    original: OriginalFile,
    entry: DataFile,
    work: Path,
    hand_dir: Path,
    *,
    originals_url: str | None,
    local_only: bool,
    verbose: bool,
    timeout: float,
    retries: int,
) -> Path:
    """The local path of a verified original: placed by hand, or downloaded."""
    placed = hand_dir / original.name
    if placed.is_file():
        verify_original(placed, original, f"{placed} (placed by hand)", entry)
        return placed
    if local_only:
        raise DownloadError(
            f"{original.name} is not in {hand_dir} (download it from {' or '.join(original.urls)})"
        )
    if originals_url:
        urls: tuple[str, ...] = (f"{originals_url.rstrip('/')}/{original.name}",)
    else:
        urls = original.urls
    dest = work / original.name
    failures: list[Exception] = []
    for url in urls:
        try:
            http_get(
                url,
                dest,
                timeout=timeout,
                retries=retries,
                verbose=verbose,
                label=original.name,
                size=original.size,
            )
            verify_original(dest, original, url, entry)
            return dest
        except (DownloadError, ChecksumError) as exc:
            failures.append(exc)
            with contextlib.suppress(OSError):
                dest.unlink()
    if len(failures) == 1:
        raise failures[0]
    text = "; ".join(str(e) for e in failures)
    last = failures[-1]
    if all(isinstance(e, ChecksumError) for e in failures):
        assert isinstance(last, ChecksumError)
        raise ChecksumError(
            f"every copy of {original.name} failed its checksum: {text}",
            filename=last.filename,
            path=last.path,
            expected=last.expected,
            actual=last.actual,
        )
    failed = [e for e in failures if isinstance(e, DownloadError)]
    raise DownloadError(
        f"could not download {original.name} from any of its {len(urls)} URLs: {text}",
        url=failed[0].url if failed else None,
    )


# --------------------------------------------------------------------------- #
# convert and write
# --------------------------------------------------------------------------- #
def _write_matching(candidates: list, dest: Path, entry: DataFile, work: Path) -> None:
    from ._convert import npz_bytes

    got = []
    for arrays in candidates:
        data = npz_bytes(arrays)
        digest = hashlib.sha256(data).hexdigest()
        part = work / f".{entry.filename}.part"
        part.write_bytes(data)
        if digest == entry.sha256 or (
            entry.content_sha256 and npz_content_sha256(part) == entry.content_sha256
        ):
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(part, dest)
            return
        part.unlink()
        got.append(digest)
    raise ChecksumError(
        f"checksum mismatch for {entry.filename} converted from the original files: "
        f"expected sha256 {entry.sha256}, got {' or '.join(got)}. The originals are a "
        "different version than the ones the registered file was made from; nothing was "
        "written to the data directory.",
        filename=entry.filename,
        path=dest,
        expected=entry.sha256,
        actual=got[0] if got else "",
    )


def _hand_help(entry: DataFile, home: Path, hand_dir: Path, chosen_by: str) -> str:
    lines = [
        "To place the files by hand, either:",
        f"  - copy {entry.filename} (sha256 {entry.sha256}) into {home} (chosen by "
        f"{chosen_by}), or set {DATA_URL_ENV} to a mirror that serves it;",
        f"  - or download the original files of one of the ways below into {hand_dir} "
        "and call again with download=True (or convert_originals(...)): they are "
        "verified and converted, and nothing else is downloaded:",
    ]
    for k, conv in enumerate(entry.conversions, 1):
        need = f" (needs {conv.requires})" if conv.requires else ""
        lines.append(f"      way {k}{need}: {conv.description}")
        for of in conv.files:
            lines.append(f"        {of.urls[0]} -> {hand_dir / of.name}")
    lines.append(f"  - or serve the original files under those names and set {ORIGINALS_URL_ENV}.")
    return "\n".join(lines)


def _combined(
    entry: DataFile,
    failures: list[tuple[Conversion, Exception | str]],
    home: Path,
    hand_dir: Path,
    chosen_by: str,
) -> Exception:
    lines = [f"could not build {entry.filename} from its public original files:"]
    for k, (conv, exc) in enumerate(failures, 1):
        lines.append(f"  way {k}, {conv.description}: {exc}")
    lines.append(f"Nothing was written to {home}.")
    lines.append(_hand_help(entry, home, hand_dir, chosen_by))
    msg = "\n".join(lines)
    errors = [e for _, e in failures if isinstance(e, Exception)]
    first = errors[0] if errors else None
    if isinstance(first, ChecksumError):
        return ChecksumError(
            msg,
            filename=first.filename,
            path=first.path,
            expected=first.expected,
            actual=first.actual,
        )
    if isinstance(first, ConversionError):
        return ConversionError(msg)
    url = first.url if isinstance(first, DownloadError) else None
    return DownloadError(msg, url=url)


def build_from_originals(
    entry: DataFile,
    dest: Path,
    *,
    chosen_by: str,
    verbose: bool,
    timeout: float,
    retries: int,
    originals_url: str | None = None,
    hand_dir: Path | None = None,
    local_only: bool = False,
) -> None:
    """Download (or take from ``hand_dir``), verify and convert the originals to ``dest``.

    Raises
    ------
    ChecksumError, DownloadError, ConversionError
        Every registered conversion failed; the message lists why for each.
    """
    from ._convert import CONVERTERS

    home = dest.parent
    hand_dir = hand_dir if hand_dir is not None else home / ORIGINALS_DIRNAME
    failures: list[tuple[Conversion, Exception | str]] = []
    home.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{entry.filename}.", dir=home) as tmp:
        work = Path(tmp)
        for conv in entry.conversions:
            if conv.requires and importlib.util.find_spec(conv.requires) is None:
                failures.append(
                    (conv, f"skipped: needs {conv.requires} (pip install {conv.requires})")
                )
                continue
            try:
                paths = {
                    of.name: _obtain(
                        of,
                        entry,
                        work,
                        hand_dir,
                        originals_url=originals_url,
                        local_only=local_only,
                        verbose=verbose,
                        timeout=timeout,
                        retries=retries,
                    )
                    for of in conv.files
                }
                if verbose:
                    print(f"converting to {dest}", file=sys.stderr)
                _write_matching(CONVERTERS[conv.converter](paths), dest, entry, work)
                return
            except (DownloadError, ChecksumError, ConversionError) as exc:
                failures.append((conv, exc))
            finally:
                for child in work.iterdir():
                    if child.is_dir():
                        shutil.rmtree(child, ignore_errors=True)
                    else:
                        with contextlib.suppress(OSError):
                            child.unlink()
    raise _combined(entry, failures, home, hand_dir, chosen_by)


def convert_originals(
    name: str,
    source_dir: str | os.PathLike[str],
    data_home: str | os.PathLike[str] | None = None,
    *,
    verbose: bool = True,
) -> Path:
    """Convert original files downloaded by hand into a registered ``.npz``.

    Nothing is downloaded. The files must carry their registered names
    (``REGISTRY[name].conversions[k].files[j].name``, e.g. ``zip.train.gz``);
    their checksums are verified where known, and the archive is written to
    the data directory only if it matches the registered SHA-256.

    Parameters
    ----------
    name : str
        A registered file name, with or without ``.npz``.
    source_dir : str or path-like
        Folder holding the original files.
    data_home : str or path-like, optional
        Data directory, see :func:`get_data_home`.
    verbose : bool, default=True
        Say what is converted (on stderr).

    Returns
    -------
    pathlib.Path
        Path of the verified ``.npz`` (an existing valid one is kept as it is).

    Raises
    ------
    ChecksumError, DownloadError, ConversionError
        A file is missing, differs from the registered one, or cannot be converted.
    """
    entry, dest, chosen_by, found = _locate(name, data_home)
    if found:
        return dest
    build_from_originals(
        entry,
        dest,
        chosen_by=chosen_by,
        verbose=verbose,
        timeout=0.0,
        retries=0,
        hand_dir=Path(source_dir),
        local_only=True,
    )
    return dest
