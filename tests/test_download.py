"""``download=True`` builds the ``.npz`` files from the public original files.

Small files in each original format (MATLAB v5 ``.mat``, gzip'd idx, the ESL
gzip'd text) are written here and served by a local HTTP server on 127.0.0.1;
the registry's URLs are pointed at it (``DOMAINADAPT_ORIGINALS_URL`` or a
patched registry entry). Nothing contacts the internet.

When the real files are present (the directory ``DOMAINADAPT_DATA`` names),
originals are re-made from them and the converters must reproduce the
registered archives byte for byte (the layout: names, dtypes, shapes, order).
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import hashlib
import http.server
import os
import threading
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pytest
import scipy.io

import domainadapt.datasets._fetch as fetch_mod
import domainadapt.datasets._originals as originals_mod
from domainadapt.datasets import (
    OFFICE_CALTECH_CLASSES,
    OFFICE_CALTECH_DOMAINS,
    REGISTRY,
    ChecksumError,
    ConversionError,
    DownloadError,
    convert_originals,
    fetch_file,
    load_mnist,
    load_mnist_usps_jda,
    load_office_caltech_surf,
    load_usps,
    npz_content_sha256,
    sha256sum,
)
from domainadapt.datasets._convert import (
    CONVERTERS,
    convert_mnist_idx,
    convert_mnist_usps_jda,
    convert_office_caltech_surf,
    convert_usps_esl,
    npz_bytes,
    read_idx,
    read_mat,
)

OFFICE = "office_caltech10_surf.npz"
JDA = "mnist_usps_jda.npz"


# --------------------------------------------------------------------------- #
# writers of the original formats
# --------------------------------------------------------------------------- #
def write_jda_mat(path: Path, arrays: dict) -> None:
    """``MNIST_vs_USPS.mat`` as released with JDA: one column per image, labels 1..10."""
    scipy.io.savemat(
        path,
        {
            "X_src": arrays["X_mnist"].T.astype(np.float64),
            "Y_src": (arrays["y_mnist"] + 1).astype(np.float64)[:, None],
            "X_tar": arrays["X_usps"].T.astype(np.float64),
            "Y_tar": (arrays["y_usps"] + 1).astype(np.float64)[:, None],
        },
        format="5",
    )


def write_office_mat(path: Path, X: np.ndarray, y: np.ndarray) -> None:
    """``<domain>_SURF_L10.mat``: ``fts`` uint8 counts (n, 800), ``labels`` 1..10."""
    scipy.io.savemat(
        path,
        {"fts": X.astype(np.uint8), "labels": (y + 1).astype(np.float64)[:, None]},
        format="5",
    )


def write_idx_gz(path: Path, a: np.ndarray) -> None:
    a = np.ascontiguousarray(a, dtype=np.uint8)
    head = bytes([0, 0, 8, a.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in a.shape)
    with gzip.open(path, "wb", compresslevel=1) as fh:
        fh.write(head + a.tobytes())


def write_esl_gz(path: Path, X: np.ndarray, y: np.ndarray) -> None:
    """ESL ``zip.*.gz``: the digit, then 256 values in [-1, 1], one image per line."""
    v = 2.0 * X.reshape(len(X), -1).astype(np.float64) / 255.0 - 1.0
    lines = (f"{float(lab):.4f} " + " ".join(f"{p:.4f}" for p in row) for lab, row in zip(y, v))
    with gzip.open(path, "wt", compresslevel=1) as fh:
        fh.write("\n".join(lines) + "\n")


# --------------------------------------------------------------------------- #
# tiny sets in the documented layout, and their originals
# --------------------------------------------------------------------------- #
def tiny_office(rng) -> dict:
    out = {}
    for dom in OFFICE_CALTECH_DOMAINS:
        X = rng.integers(0, 30, size=(5, 800)).astype(np.float32)
        out[f"X_{dom}"] = np.asfortranarray(X)  # as loadmat gives it
        out[f"y_{dom}"] = rng.integers(0, 10, 5).astype(np.int64)
    out["class_names"] = np.array(OFFICE_CALTECH_CLASSES)
    return out


def tiny_jda(rng) -> dict:
    return {
        "X_mnist": (rng.integers(0, 256, size=(5, 256)) / 256).astype(np.float32),
        "y_mnist": np.array([0, 1, 2, 9, 9], dtype=np.int64),
        "X_usps": rng.random((4, 256)).astype(np.float32),
        "y_usps": np.array([3, 0, 9, 5], dtype=np.int64),
    }


def tiny_digits(rng, side: int, n_train: int, n_test: int) -> dict:
    return {
        "X_train": rng.integers(0, 256, size=(n_train, side, side), dtype=np.uint8),
        "y_train": rng.integers(0, 10, n_train).astype(np.int64),
        "X_test": rng.integers(0, 256, size=(n_test, side, side), dtype=np.uint8),
        "y_test": rng.integers(0, 10, n_test).astype(np.int64),
    }


def write_originals(filename: str, arrays: dict, folder: Path) -> None:
    """The original files of ``filename`` whose conversion gives ``arrays``."""
    folder.mkdir(parents=True, exist_ok=True)
    if filename == OFFICE:
        for dom in OFFICE_CALTECH_DOMAINS:
            write_office_mat(folder / f"{dom}_SURF_L10.mat", arrays[f"X_{dom}"], arrays[f"y_{dom}"])
    elif filename == JDA:
        write_jda_mat(folder / "MNIST_vs_USPS.mat", arrays)
    elif filename == "mnist.npz":
        for key, name in (
            ("X_train", "train-images-idx3-ubyte.gz"),
            ("y_train", "train-labels-idx1-ubyte.gz"),
            ("X_test", "t10k-images-idx3-ubyte.gz"),
            ("y_test", "t10k-labels-idx1-ubyte.gz"),
        ):
            write_idx_gz(folder / name, arrays[key])
    elif filename == "usps.npz":
        write_esl_gz(folder / "zip.train.gz", arrays["X_train"], arrays["y_train"])
        write_esl_gz(folder / "zip.test.gz", arrays["X_test"], arrays["y_test"])
    else:  # pragma: no cover
        raise AssertionError(filename)


def tiny(filename: str, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {
        OFFICE: lambda: tiny_office(rng),
        JDA: lambda: tiny_jda(rng),
        "mnist.npz": lambda: tiny_digits(rng, 28, 6, 4),
        "usps.npz": lambda: tiny_digits(rng, 16, 6, 4),
    }[filename]()


def _checksum(algorithm: str, path: Path, gunzip: bool) -> str:
    data = gzip.decompress(path.read_bytes()) if gunzip else path.read_bytes()
    if algorithm == "gitblob":
        return hashlib.sha1(f"blob {path.stat().st_size}\0".encode() + data).hexdigest()
    return hashlib.new(algorithm, data).hexdigest()


def use_tiny_registry(monkeypatch, arrays_of: dict, originals: Path, urls_of=None) -> None:
    """Point the registry at the tiny sets: their sha256, their originals' checksums/URLs.

    ``urls_of(name)`` gives an original's URL list (default: keep the registered ones).
    Conversions that need a missing module stay (they are skipped).
    """
    entries = dict(fetch_mod.REGISTRY)
    for filename, arrays in arrays_of.items():
        entry = entries[filename]
        convs = []
        for conv in entry.conversions:
            files = []
            for of in conv.files:
                path = originals / of.name
                checksum = of.checksum
                if checksum and path.is_file():
                    algo = checksum.partition(":")[0]
                    checksum = f"{algo}:{_checksum(algo, path, of.checksum_of == 'gunzipped')}"
                urls = urls_of(of.name) if urls_of else of.urls
                files.append(dataclasses.replace(of, checksum=checksum, urls=urls))
            convs.append(dataclasses.replace(conv, files=tuple(files)))
        data = npz_bytes(arrays)
        entries[filename] = dataclasses.replace(
            entry,
            sha256=hashlib.sha256(data).hexdigest(),
            size=len(data),
            content_sha256="",
            conversions=tuple(convs),
        )
    monkeypatch.setattr(fetch_mod, "REGISTRY", MappingProxyType(entries))


# --------------------------------------------------------------------------- #
# a local HTTP server
# --------------------------------------------------------------------------- #
class _Handler(http.server.SimpleHTTPRequestHandler):
    fail_first: dict = {}  # path -> number of 503 answers still to give
    requests: list = []

    def do_GET(self):  # noqa: N802
        type(self).requests.append(self.path)
        left = self.fail_first.get(self.path, 0)
        if left:
            self.fail_first[self.path] = left - 1
            self.send_error(503, "try again")
            return
        super().do_GET()

    def log_message(self, format, *args):  # noqa: A002
        pass


@pytest.fixture
def server(tmp_path):
    """Serve ``tmp_path / "srv"`` on 127.0.0.1; yields (root, base URL, handler class)."""
    root = tmp_path / "srv"
    root.mkdir()
    handler_cls = type("H", (_Handler,), {"fail_first": {}, "requests": []})
    handler = functools.partial(handler_cls, directory=str(root))
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{srv.server_address[1]}", handler_cls
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=5)


@pytest.fixture(autouse=True)
def _no_mirror_env(monkeypatch):
    for var in ("DOMAINADAPT_DATA_URL", "DOMAINADAPT_ORIGINALS_URL", "DOMAINADAPT_DATA"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(originals_mod, "_BACKOFF", 0.0)


def _only(home: Path, *names: str) -> None:
    """The data directory holds exactly ``names`` (no temporary file or folder)."""
    assert sorted(p.name for p in home.iterdir()) == sorted(names)


# --------------------------------------------------------------------------- #
# converters: the documented layout
# --------------------------------------------------------------------------- #
def _layout(arrays: dict) -> list:
    return [
        (k, a.dtype.str, a.shape, bool(a.flags.f_contiguous and not a.flags.c_contiguous))
        for k, a in arrays.items()
    ]


def _assert_same(got: dict, want: dict) -> None:
    assert _layout(got) == _layout(want)
    for k in want:
        np.testing.assert_array_equal(got[k], want[k])


def test_convert_office_layout(tmp_path):
    want = tiny(OFFICE)
    write_originals(OFFICE, want, tmp_path)
    (got,) = convert_office_caltech_surf({p.name: p for p in tmp_path.iterdir()})
    _assert_same(got, want)
    assert list(got) == [
        "X_amazon",
        "y_amazon",
        "X_caltech",
        "y_caltech",
        "X_dslr",
        "y_dslr",
        "X_webcam",
        "y_webcam",
        "class_names",
    ]
    assert got["X_amazon"].dtype == np.float32 and got["X_amazon"].shape == (5, 800)
    assert got["class_names"].dtype.str == "<U15"


def test_convert_jda_layout_and_labels(tmp_path):
    want = tiny(JDA)
    write_originals(JDA, want, tmp_path)
    raw = read_mat(tmp_path / "MNIST_vs_USPS.mat")
    assert raw["X_src"].shape == (256, 5) and raw["Y_src"].min() == 1  # .mat: labels 1..10
    (got,) = convert_mnist_usps_jda({"MNIST_vs_USPS.mat": tmp_path / "MNIST_vs_USPS.mat"})
    _assert_same(got, want)
    assert got["y_mnist"].tolist() == [0, 1, 2, 9, 9]  # 1..10 became 0..9
    assert got["X_mnist"].flags.c_contiguous


def test_convert_jda_rejects_bad_labels(tmp_path):
    arrays = tiny(JDA)
    arrays["y_usps"] = arrays["y_usps"] - 1  # a 0 in the .mat (labels must be 1..10)
    write_jda_mat(tmp_path / "m.mat", arrays)
    with pytest.raises(ConversionError, match="1..10"):
        convert_mnist_usps_jda({"m.mat": tmp_path / "m.mat"})


def test_convert_mnist_idx_layout(tmp_path):
    want = tiny("mnist.npz")
    write_originals("mnist.npz", want, tmp_path)
    (got,) = convert_mnist_idx({p.name: p for p in tmp_path.iterdir()})
    _assert_same(got, want)
    # a truncated file and a file that is not idx are refused
    raw = gzip.decompress((tmp_path / "t10k-images-idx3-ubyte.gz").read_bytes())
    (tmp_path / "cut.gz").write_bytes(gzip.compress(raw[:-7]))
    with pytest.raises(ConversionError, match="truncated"):
        read_idx(tmp_path / "cut.gz")
    (tmp_path / "bad.gz").write_bytes(gzip.compress(b"\x00\x00\x0d\x01" + bytes(8)))
    with pytest.raises(ConversionError, match="not an idx file"):
        read_idx(tmp_path / "bad.gz")


def test_convert_usps_esl_layout(tmp_path):
    want = tiny("usps.npz")
    write_originals("usps.npz", want, tmp_path)
    first = gzip.decompress((tmp_path / "zip.train.gz").read_bytes()).split(b"\n")[0].split()
    assert len(first) == 257
    candidates = convert_usps_esl({p.name: p for p in tmp_path.iterdir()})
    assert 1 <= len(candidates) <= 2
    _assert_same(candidates[0], want)


def test_convert_usps_esl_rounding_candidates(tmp_path):
    # v = -0.4 is an exact .5 tie of 255 (v+1)/2: float64 and float32 round it apart
    X = np.full((1, 256), -0.4)
    line = "3.0000 " + " ".join("-0.4000" for _ in range(256)) + "\n"
    for name in ("zip.train.gz", "zip.test.gz"):
        (tmp_path / name).write_bytes(gzip.compress(line.encode()))
    cands = convert_usps_esl({n: tmp_path / n for n in ("zip.train.gz", "zip.test.gz")})
    values = sorted({int(c["X_train"][0, 0, 0]) for c in cands})
    assert values == sorted(
        {
            int(np.round(255 * ((X[0, 0] + 1) / 2))),
            int(np.round(np.float32(255) * np.float32((X[0, 0] + 1) / 2))),
        }
    )
    assert all(c["y_train"].tolist() == [3] for c in cands)


def test_read_mat_v73_without_h5py(tmp_path):
    pytest.importorskip("scipy")
    try:
        import h5py  # noqa: F401

        pytest.skip("h5py is installed")
    except ImportError:
        pass
    path = tmp_path / "v73.mat"
    path.write_bytes(b"MATLAB 7.3 MAT-file".ljust(512, b" ") + b"\x89HDF\r\n\x1a\n" + bytes(64))
    with pytest.raises(ConversionError, match="h5py"):
        read_mat(path)


def test_registry_conversions():
    for name, entry in REGISTRY.items():
        assert entry.conversions, name
        assert len(entry.content_sha256) == 64
        for conv in entry.conversions:
            assert conv.converter in CONVERTERS and conv.description
            assert conv.requires in (None, "h5py")
            for of in conv.files:
                assert of.urls and all(u.startswith(("https://", "http://")) for u in of.urls)
                assert all(u.endswith(of.name) or name == JDA for u in of.urls)
                if of.checksum:
                    algo, _, hexd = of.checksum.partition(":")
                    assert algo in ("sha256", "sha1", "md5", "gitblob")
                    int(hexd, 16)
    assert {c.converter for e in REGISTRY.values() for c in e.conversions} == set(CONVERTERS)


# --------------------------------------------------------------------------- #
# download=True from a local server
# --------------------------------------------------------------------------- #
LOADERS = {
    OFFICE: lambda **kw: load_office_caltech_surf(preprocess="raw", **kw)["dslr"].X,
    JDA: lambda **kw: load_mnist_usps_jda(**kw)["usps"].X,
    "mnist.npz": lambda **kw: load_mnist("test", **kw).X,
    "usps.npz": lambda **kw: load_usps("train", **kw).X,
}


EXPECTED = {  # what each LOADERS entry returns, from the arrays of the layout
    OFFICE: lambda a: a["X_dslr"],
    JDA: lambda a: a["X_usps"],
    "mnist.npz": lambda a: a["X_test"].reshape(len(a["X_test"]), -1) / np.float32(255),
    "usps.npz": lambda a: a["X_train"].reshape(len(a["X_train"]), -1) / np.float32(255),
}


@pytest.mark.parametrize("filename", sorted(LOADERS))
def test_download_round_trip(filename, tmp_path, server, monkeypatch):
    root, url, _ = server
    arrays = tiny(filename)
    write_originals(filename, arrays, root)
    use_tiny_registry(monkeypatch, {filename: arrays}, root)
    monkeypatch.setenv("DOMAINADAPT_ORIGINALS_URL", url)
    home = tmp_path / "home"
    X = LOADERS[filename](data_home=home, download=True)
    np.testing.assert_allclose(X.reshape(len(X), -1), EXPECTED[filename](arrays), rtol=1e-6)
    _only(home, filename)  # the originals and the temporary folder are gone
    assert sha256sum(home / filename) == fetch_mod.REGISTRY[filename].sha256
    # offline: the server is not needed any more
    monkeypatch.delenv("DOMAINADAPT_ORIGINALS_URL")
    for p in list(root.iterdir()):
        p.unlink()
    np.testing.assert_array_equal(LOADERS[filename](data_home=home), X)


def test_download_uses_registered_mirror_list_and_retries(tmp_path, server, monkeypatch):
    root, url, handler = server
    arrays = tiny(OFFICE)
    write_originals(OFFICE, arrays, root / "good")
    # first URL 404 (next mirror), second answers 503 once (retried)
    use_tiny_registry(
        monkeypatch,
        {OFFICE: arrays},
        root / "good",
        urls_of=lambda n: (f"{url}/missing/{n}", f"{url}/good/{n}"),
    )
    handler.fail_first["/good/amazon_SURF_L10.mat"] = 1
    home = tmp_path / "home"
    path = fetch_file(OFFICE, data_home=home, download=True, verbose=False, retries=1)
    assert path == home / OFFICE
    assert handler.requests.count("/good/amazon_SURF_L10.mat") == 2
    assert handler.requests.count("/missing/amazon_SURF_L10.mat") == 1  # no retry on 404
    _only(home, OFFICE)


def test_download_progress_line(tmp_path, server, monkeypatch, capsys):
    root, url, _ = server
    arrays = tiny("usps.npz")
    write_originals("usps.npz", arrays, root)
    use_tiny_registry(monkeypatch, {"usps.npz": arrays}, root)
    fetch_file("usps", data_home=tmp_path / "h", download=True, originals_url=url)
    err = capsys.readouterr().err
    assert "zip.train.gz:" in err and "MB" in err and "converting" in err


def test_original_checksum_mismatch(tmp_path, server, monkeypatch):
    root, url, _ = server
    arrays = tiny("mnist.npz")
    write_originals("mnist.npz", arrays, root)
    use_tiny_registry(monkeypatch, {"mnist.npz": arrays}, root)
    # the served label file is another one than the registered checksum's
    write_idx_gz(root / "t10k-labels-idx1-ubyte.gz", (arrays["y_test"] + 1) % 10)
    home = tmp_path / "home"
    with pytest.raises(ChecksumError) as info:
        fetch_file("mnist", data_home=home, download=True, verbose=False, originals_url=url)
    msg = str(info.value)
    assert "checksum mismatch for t10k-labels-idx1-ubyte.gz" in msg
    assert f"{url}/t10k-labels-idx1-ubyte.gz" in msg and "md5" in msg
    assert "Nothing was written" in msg and str(home / "originals") in msg
    _only(home)  # no .npz, no partial file, no temporary folder


def test_converted_checksum_mismatch(tmp_path, server, monkeypatch):
    root, url, _ = server
    arrays = tiny(JDA)
    write_originals(JDA, arrays, root)
    use_tiny_registry(monkeypatch, {JDA: arrays}, root)
    write_jda_mat(root / "MNIST_vs_USPS.mat", tiny(JDA, seed=1))  # other data, no checksum check
    entries = dict(fetch_mod.REGISTRY)
    entry = entries[JDA]
    conv = entry.conversions[0]
    files = (dataclasses.replace(conv.files[0], checksum=None),)
    entries[JDA] = dataclasses.replace(
        entry, conversions=(dataclasses.replace(conv, files=files),) + entry.conversions[1:]
    )
    monkeypatch.setattr(fetch_mod, "REGISTRY", MappingProxyType(entries))
    monkeypatch.setenv("DOMAINADAPT_ORIGINALS_URL", url)
    home = tmp_path / "home"
    with pytest.raises(ChecksumError) as info:
        load_mnist_usps_jda(data_home=home, download=True)
    msg = str(info.value)
    assert f"checksum mismatch for {JDA} converted from the original files" in msg
    assert entry.sha256 in msg
    _only(home)


def test_http_404_names_the_url(tmp_path, server, monkeypatch):
    _, url, _ = server  # serves nothing
    home = tmp_path / "home"
    with pytest.raises(DownloadError) as info:
        fetch_file("usps.npz", data_home=home, download=True, verbose=False, originals_url=url)
    msg = str(info.value)
    assert f"{url}/zip.train.gz: HTTP 404" in msg
    assert info.value.url == f"{url}/zip.train.gz"
    # what to do: the public URLs and where to put the files
    assert "hastie.su.domains" in msg and str(home / "originals" / "zip.train.gz") in msg
    assert "DOMAINADAPT_DATA_URL" in msg and REGISTRY["usps.npz"].sha256 in msg
    _only(home)


def test_unreachable_host_is_retried_then_reported(tmp_path, monkeypatch):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with pytest.raises(DownloadError) as info:
        fetch_file(
            OFFICE,
            data_home=tmp_path,
            download=True,
            verbose=False,
            originals_url=url,
            retries=2,
            timeout=5,
        )
    assert f"{url}/amazon_SURF_L10.mat" in str(info.value)
    assert "after 3 attempts" in str(info.value)
    _only(tmp_path)


def test_hand_placed_originals(tmp_path, monkeypatch):
    arrays = tiny("usps.npz")
    home = tmp_path / "home"
    write_originals("usps.npz", arrays, home / "originals")
    use_tiny_registry(monkeypatch, {"usps.npz": arrays}, home / "originals")
    # an unreachable originals URL: the placed files are used, nothing is downloaded
    path = fetch_file(
        "usps", data_home=home, download=True, verbose=False, originals_url="http://127.0.0.1:9"
    )
    assert sha256sum(path) == fetch_mod.REGISTRY["usps.npz"].sha256
    assert (home / "originals" / "zip.train.gz").is_file()  # the user's files are kept

    other = tmp_path / "other"
    path2 = convert_originals("usps.npz", home / "originals", data_home=other, verbose=False)
    assert path2.read_bytes() == path.read_bytes()
    with pytest.raises(DownloadError, match="zip.train.gz is not in"):
        convert_originals("usps", tmp_path / "empty", data_home=tmp_path / "x", verbose=False)


def test_recompressed_archive_passes_by_content(tmp_path, monkeypatch):
    arrays = tiny(OFFICE)
    data = npz_bytes(arrays)
    path = tmp_path / OFFICE
    np.savez(path, **arrays)  # same arrays, not compressed: other bytes
    entries = dict(fetch_mod.REGISTRY)
    entries[OFFICE] = dataclasses.replace(
        entries[OFFICE],
        sha256=hashlib.sha256(data).hexdigest(),
        content_sha256=npz_content_sha256(path),
    )
    monkeypatch.setattr(fetch_mod, "REGISTRY", MappingProxyType(entries))
    assert sha256sum(path) != entries[OFFICE].sha256
    assert fetch_file(OFFICE, data_home=tmp_path) == path
    arrays["y_dslr"][0] += 1  # other content: refused
    np.savez(path, **arrays)
    with pytest.raises(ChecksumError, match=OFFICE):
        fetch_file(OFFICE, data_home=tmp_path)


def test_npz_mirror_still_preferred(tmp_path, server, monkeypatch):
    root, url, handler = server
    arrays = tiny(OFFICE)
    use_tiny_registry(monkeypatch, {OFFICE: arrays}, root)
    (root / OFFICE).write_bytes(npz_bytes(arrays))
    monkeypatch.setenv("DOMAINADAPT_DATA_URL", url)
    path = fetch_file(OFFICE, data_home=tmp_path / "h", download=True, verbose=False)
    assert sha256sum(path) == fetch_mod.REGISTRY[OFFICE].sha256
    assert handler.requests == [f"/{OFFICE}"]


# --------------------------------------------------------------------------- #
# the real files: the converters reproduce them byte for byte
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def real_dir():
    env = os.environ.get("DOMAINADAPT_DATA", "")
    if env and Path(env).is_dir():
        return Path(env)
    pytest.skip("no real benchmark data: set DOMAINADAPT_DATA to the data directory")


@pytest.mark.parametrize("filename", sorted(LOADERS))
def test_converters_reproduce_real_files(filename, real_dir, tmp_path):
    path = real_dir / filename
    if not path.is_file():
        pytest.skip(f"{filename} not in {real_dir}")
    with np.load(path, allow_pickle=False) as data:
        real = {k: data[k] for k in data.files}
    write_originals(filename, real, tmp_path)
    converter = {
        OFFICE: convert_office_caltech_surf,
        JDA: convert_mnist_usps_jda,
        "mnist.npz": convert_mnist_idx,
        "usps.npz": convert_usps_esl,
    }[filename]
    candidates = converter({p.name: p for p in tmp_path.iterdir()})
    # names, order, dtypes, shapes and memory order of every array, then the bytes
    assert _layout(candidates[0]) == _layout(real)
    digests = [hashlib.sha256(npz_bytes(c)).hexdigest() for c in candidates]
    assert REGISTRY[filename].sha256 in digests
