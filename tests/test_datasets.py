"""Tests of :mod:`domainadapt.datasets`.

Real-data tests read the files from ``DOMAINADAPT_DATA`` and are skipped when it
is unset or a file is missing. The download tests use a local HTTP server on
127.0.0.1 only; nothing contacts the internet.
"""

from __future__ import annotations

import dataclasses
import functools
import http.server
import os
import shutil
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest

from domainadapt._domain import Domain
from domainadapt.datasets import (
    OFFICE_CALTECH_CLASSES,
    OFFICE_CALTECH_DOMAINS,
    REGISTRY,
    ChecksumError,
    DataNotFoundError,
    fetch_file,
    get_data_home,
    load_domain_pair,
    load_mnist,
    load_mnist_usps_jda,
    load_office_caltech_surf,
    load_usps,
    make_gaussian_shift,
    make_rotated_moons,
    make_shifted_digits,
    sha256sum,
)

OFFICE = "office_caltech10_surf.npz"


def _real_file(filename: str) -> Path:
    """Path of a real data file under DOMAINADAPT_DATA, or skip."""
    env = os.environ.get("DOMAINADAPT_DATA", "")
    if not env:
        pytest.skip("DOMAINADAPT_DATA is not set: real benchmark files unavailable")
    path = Path(env) / filename
    if not path.is_file():
        pytest.skip(f"{filename} not found in DOMAINADAPT_DATA={env}")
    return path


@pytest.fixture
def real_home():
    """The data directory of the real files, as a function of the needed file."""
    return lambda filename: _real_file(filename).parent


def _nn_accuracy(src: Domain, tgt: Domain) -> float:
    from sklearn.neighbors import KNeighborsClassifier

    clf = KNeighborsClassifier(n_neighbors=1).fit(src.X, src.y)
    return 100.0 * clf.score(tgt.X, tgt.y)


# --------------------------------------------------------------------------- #
# data home and registry
# --------------------------------------------------------------------------- #
def test_get_data_home_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("DOMAINADAPT_DATA", str(tmp_path / "env"))
    assert get_data_home(tmp_path / "arg") == tmp_path / "arg"
    assert get_data_home() == tmp_path / "env"
    monkeypatch.delenv("DOMAINADAPT_DATA")
    assert get_data_home() == Path("~/domainadapt_data").expanduser()


def test_registry_entries():
    assert set(REGISTRY) == {
        "mnist_usps_jda.npz",
        "office_caltech10_surf.npz",
        "usps.npz",
        "mnist.npz",
    }
    for name, entry in REGISTRY.items():
        assert entry.filename == name
        assert len(entry.sha256) == 64 and int(entry.sha256, 16) >= 0
        assert entry.size > 0 and entry.description and entry.origin and entry.citations
        assert entry.source_url == entry.source_urls[0]
        for url in entry.source_urls:
            assert url.startswith(("https://raw.githubusercontent.com/", "http://yann.lecun.com/"))
    jda = REGISTRY["mnist_usps_jda.npz"]
    assert "Aravidroid/Domain_Adaptation_OT" in jda.origin
    assert "66e989a28c48c97f45b8a81ea76b15f33d74292e" in jda.source_url
    with pytest.raises(dataclasses.FrozenInstanceError):
        jda.sha256 = "0" * 64  # type: ignore[misc]


@pytest.mark.parametrize("filename", sorted(REGISTRY))
def test_registry_matches_real_files(filename):
    path = _real_file(filename)
    entry = REGISTRY[filename]
    assert path.stat().st_size == entry.size
    assert sha256sum(path) == entry.sha256


# --------------------------------------------------------------------------- #
# real data loaders
# --------------------------------------------------------------------------- #
def test_mnist_usps_jda_shapes_and_counts(real_home):
    doms = load_mnist_usps_jda(data_home=real_home("mnist_usps_jda.npz"))
    assert set(doms) == {"mnist", "usps"}
    m, u = doms["mnist"], doms["usps"]
    assert isinstance(m, Domain) and m.name == "mnist" and u.name == "usps"
    assert m.X.shape == (2000, 256) and u.X.shape == (1800, 256)
    assert m.X.dtype == np.float32 and m.y.dtype == np.int64
    assert u.X.dtype == np.float32 and u.y.dtype == np.int64
    assert np.bincount(m.y).tolist() == [196, 227, 207, 202, 196, 179, 191, 206, 195, 201]
    assert np.bincount(u.y).tolist() == [352, 241, 165, 166, 166, 126, 139, 172, 129, 144]
    assert 0.0 <= m.X.min() and m.X.max() <= 1.0


def test_mnist_usps_jda_reproduces_nn_baseline(monkeypatch, real_home):
    # via the environment variable, as a user would
    monkeypatch.setenv("DOMAINADAPT_DATA", str(real_home("mnist_usps_jda.npz")))
    doms = load_mnist_usps_jda(normalize="l2")
    np.testing.assert_allclose(np.linalg.norm(doms["mnist"].X, axis=1), 1.0, rtol=1e-5)
    assert _nn_accuracy(doms["usps"], doms["mnist"]) == pytest.approx(44.70, abs=0.01)
    assert _nn_accuracy(doms["mnist"], doms["usps"]) == pytest.approx(65.94, abs=0.01)
    src, tgt = load_domain_pair("mnist_usps_jda", "U", "mnist", normalize="l2")
    assert (src.name, tgt.name) == ("usps", "mnist")


def test_office_caltech_shapes_counts_and_classes(real_home):
    home = real_home(OFFICE)
    raw = load_office_caltech_surf(data_home=home, preprocess="raw")
    assert tuple(raw) == OFFICE_CALTECH_DOMAINS
    counts = {
        "amazon": [92, 82, 94, 99, 100, 100, 99, 100, 94, 98],
        "caltech": [151, 110, 100, 138, 85, 128, 133, 94, 87, 97],
        "dslr": [12, 21, 12, 13, 10, 24, 22, 12, 8, 23],
        "webcam": [29, 21, 31, 27, 27, 30, 43, 30, 27, 30],
    }
    for name, dom in raw.items():
        assert dom.name == name
        assert dom.X.shape == (sum(counts[name]), 800)
        assert dom.X.dtype == np.float32 and dom.y.dtype == np.int64
        assert np.bincount(dom.y).tolist() == counts[name]
        assert np.all(dom.X == np.round(dom.X)) and dom.X.min() >= 0  # counts
    with np.load(home / OFFICE) as data:
        assert tuple(data["class_names"].tolist()) == OFFICE_CALTECH_CLASSES

    l1 = load_office_caltech_surf(data_home=home, preprocess="l1")
    np.testing.assert_allclose(l1["dslr"].X.sum(axis=1), 1.0, rtol=1e-5)

    z = load_office_caltech_surf(data_home=home)  # default zscore
    for dom in z.values():
        assert np.isfinite(dom.X).all()
        np.testing.assert_allclose(dom.X.mean(axis=0), 0.0, atol=1e-5)
        std = dom.X.std(axis=0)
        assert np.all((np.abs(std - 1) < 1e-3) | (std == 0))


def test_zscore_constant_column_is_zero():
    from domainadapt.datasets._real import _zscore

    X = np.array([[1.0, 5.0, 0.0], [3.0, 5.0, 0.0], [5.0, 5.0, 0.0]])
    Z = _zscore(X)
    assert np.isfinite(Z).all()
    np.testing.assert_allclose(Z[:, 0], [-np.sqrt(1.5), 0.0, np.sqrt(1.5)])  # population std
    np.testing.assert_array_equal(Z[:, 1:], 0.0)


@pytest.mark.parametrize(
    ("source", "target", "expected"),
    [("C", "A", 23.70), ("W", "D", 59.24), ("D", "W", 63.39), ("A", "C", 26.00)],
)
def test_office_caltech_reproduces_jda_nn_row(real_home, source, target, expected):
    src, tgt = load_domain_pair("office_caltech_surf", source, target, data_home=real_home(OFFICE))
    assert _nn_accuracy(src, tgt) == pytest.approx(expected, abs=0.01)


def test_load_domain_pair_errors():
    with pytest.raises(ValueError, match="unknown dataset"):
        load_domain_pair("office31", "A", "W")
    with pytest.raises(ValueError, match="same domain"):
        load_domain_pair("office_caltech_surf", "A", "amazon")
    with pytest.raises(ValueError, match="unknown domain"):
        load_domain_pair("mnist_usps_jda", "svhn", "mnist")


def test_load_usps_and_mnist_images(real_home):
    home = real_home("usps.npz")
    mhome = real_home("mnist.npz")
    u = load_usps("test", data_home=home)
    assert u.X.shape == (2007, 1, 16, 16) and u.X.dtype == np.float32
    assert u.y.dtype == np.int64 and u.name == "usps"
    assert u.X.min() >= 0 and u.X.max() <= 1
    assert np.bincount(u.y).tolist() == [359, 264, 198, 166, 200, 160, 170, 147, 166, 177]

    m = load_mnist("test", data_home=mhome, flatten=True)
    assert m.X.shape == (10000, 784) and m.X.dtype == np.float32
    assert np.bincount(m.y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert m.X.mean() == pytest.approx(0.1325, abs=1e-3)

    # ADDA protocol: 2000 MNIST resized to 16x16, 1800 USPS resized to 28x28
    a = load_mnist(data_home=mhome, n_samples=2000, size=16, stratify=True, random_state=0)
    b = load_mnist(data_home=mhome, n_samples=2000, size=16, stratify=True, random_state=0)
    assert a.X.shape == (2000, 1, 16, 16) and a.X.dtype == np.float32
    np.testing.assert_array_equal(a.X, b.X)
    full = np.bincount(load_mnist(data_home=mhome).y) / 60000
    assert np.abs(np.bincount(a.y) / 2000 - full).max() < 0.002  # stratified
    assert 0 <= a.X.min() and a.X.max() <= 1
    up = load_usps(data_home=home, n_samples=1800, size=28, flatten=True, random_state=1)
    assert up.X.shape == (1800, 784) and up.y.shape == (1800,)
    assert 0 <= up.X.min() and up.X.max() <= 1
    with pytest.raises(ValueError, match="split"):
        load_usps("valid", data_home=home)
    with pytest.raises(ValueError, match="n_samples"):
        load_usps(data_home=home, n_samples=10**6)


# --------------------------------------------------------------------------- #
# checksum and missing files
# --------------------------------------------------------------------------- #
def test_corrupted_file_raises_checksum_error(tmp_path):
    src = _real_file(OFFICE)
    data = bytearray(src.read_bytes())
    data[1000] ^= 0xFF
    (tmp_path / OFFICE).write_bytes(bytes(data))
    with pytest.raises(ChecksumError) as info:
        fetch_file(OFFICE, data_home=tmp_path)
    msg = str(info.value)
    assert OFFICE in msg and REGISTRY[OFFICE].sha256 in msg and info.value.actual in msg
    assert isinstance(info.value, OSError) and isinstance(info.value, ValueError)
    with pytest.raises(ChecksumError, match=OFFICE):
        load_office_caltech_surf(data_home=tmp_path)


def test_checksum_error_without_real_data(tmp_path):
    (tmp_path / "usps.npz").write_bytes(b"not an npz")
    with pytest.raises(ChecksumError, match="usps.npz"):
        fetch_file("usps", data_home=tmp_path)


def test_missing_file_message(tmp_path, monkeypatch):
    monkeypatch.delenv("DOMAINADAPT_DATA_URL", raising=False)
    with pytest.raises(FileNotFoundError) as info:
        load_mnist_usps_jda(data_home=tmp_path)
    msg = str(info.value)
    assert isinstance(info.value, DataNotFoundError)
    assert "mnist_usps_jda.npz" in msg
    assert str(tmp_path / "mnist_usps_jda.npz") in msg
    assert "data_home argument" in msg
    assert "Aravidroid/Domain_Adaptation_OT" in msg and "Long" in msg
    assert "DOMAINADAPT_DATA" in msg and "download=True" in msg

    monkeypatch.setenv("DOMAINADAPT_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="DOMAINADAPT_DATA environment variable"):
        fetch_file("usps.npz")


def test_unknown_file():
    with pytest.raises(KeyError, match="unknown data file"):
        fetch_file("svhn.npz")


# --------------------------------------------------------------------------- #
# download from a local mirror
# --------------------------------------------------------------------------- #
class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002
        pass


@pytest.fixture
def local_mirror(tmp_path):
    """A local HTTP server on 127.0.0.1 serving ``tmp_path / "mirror"``."""
    root = tmp_path / "mirror"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_download_from_local_mirror(tmp_path, local_mirror):
    root, url = local_mirror
    shutil.copy(_real_file(OFFICE), root / OFFICE)
    home = tmp_path / "home" / "nested"  # created on download
    path = fetch_file(OFFICE, data_home=home, download=True, base_url=url, verbose=False)
    assert path == home / OFFICE
    assert sha256sum(path) == REGISTRY[OFFICE].sha256
    assert sorted(p.name for p in home.iterdir()) == [OFFICE]
    # a second call finds it without downloading
    (root / OFFICE).unlink()
    assert fetch_file(OFFICE, data_home=home, download=True, base_url=url) == path
    doms = load_office_caltech_surf(data_home=home)
    assert doms["amazon"].X.shape == (958, 800)


def test_download_via_env_url(tmp_path, local_mirror, monkeypatch):
    root, url = local_mirror
    shutil.copy(_real_file(OFFICE), root / OFFICE)
    monkeypatch.setenv("DOMAINADAPT_DATA_URL", url + "/")
    home = tmp_path / "home"
    doms = load_office_caltech_surf(data_home=home, download=True, preprocess="raw")
    assert doms["webcam"].X.shape == (295, 800)


def test_download_corrupted_leaves_nothing(tmp_path, local_mirror):
    root, url = local_mirror
    data = bytearray(_real_file(OFFICE).read_bytes())
    data[-100] ^= 0x01
    (root / OFFICE).write_bytes(bytes(data))
    home = tmp_path / "home"
    with pytest.raises(ChecksumError) as info:
        fetch_file(OFFICE, data_home=home, download=True, base_url=url, verbose=False)
    assert OFFICE in str(info.value)
    assert list(home.iterdir()) == []  # no file, no temporary file


def test_download_http_error_leaves_nothing(tmp_path, local_mirror):
    _, url = local_mirror  # serves nothing: 404
    home = tmp_path / "home"
    with pytest.raises(OSError, match="usps.npz"):
        fetch_file("usps.npz", data_home=home, download=True, base_url=url, verbose=False)
    assert list(home.iterdir()) == []


def test_download_without_mirror_builds_from_originals_and_reports_failures(tmp_path, monkeypatch):
    # no .npz mirror: download=True fetches the original files instead; here they are
    # served nowhere (a closed local port), so the error lists the URL tried and what to
    # do by hand, and nothing is left behind
    from domainadapt.datasets import DownloadError

    monkeypatch.delenv("DOMAINADAPT_DATA_URL", raising=False)
    with pytest.raises(DownloadError) as info:
        fetch_file("mnist.npz", data_home=tmp_path, download=True,
                   originals_url="http://127.0.0.1:9")
    msg = str(info.value)
    assert "127.0.0.1:9" in msg
    assert "originals" in msg
    assert isinstance(info.value, FileNotFoundError) or isinstance(info.value, OSError)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


# --------------------------------------------------------------------------- #
# generators
# --------------------------------------------------------------------------- #
def test_rotated_moons():
    s, t = make_rotated_moons(n_source=100, n_target=80, angle=30, random_state=0)
    assert s.X.shape == (100, 2) and t.X.shape == (80, 2)
    assert s.y.dtype == np.int64 and t.y is not None and t.y.shape == (80,)
    s2, t2 = make_rotated_moons(n_source=100, n_target=80, angle=30, random_state=0)
    np.testing.assert_array_equal(s.X, s2.X)
    np.testing.assert_array_equal(t.X, t2.X)
    # angle=0: same distribution, angle=90 rotates about the moons centre (0.5, 0.25)
    _, t0 = make_rotated_moons(n_source=100, n_target=80, angle=0, noise=0, random_state=0)
    _, t90 = make_rotated_moons(n_source=100, n_target=80, angle=90, noise=0, random_state=0)
    d0, d90 = t0.X - [0.5, 0.25], t90.X - [0.5, 0.25]
    np.testing.assert_allclose(d90, np.c_[-d0[:, 1], d0[:, 0]], atol=1e-12)
    np.testing.assert_array_equal(t0.y, t90.y)


def test_gaussian_shift_shapes_and_determinism():
    s, t, ratio = make_gaussian_shift(100, 50, n_features=3, random_state=1)
    assert s.X.shape == (100, 3) and t.X.shape == (50, 3)
    assert set(np.unique(s.y)) <= {0, 1} and s.y.dtype == np.int64 and t.y.shape == (50,)
    s2, t2, _ = make_gaussian_shift(100, 50, n_features=3, random_state=1)
    np.testing.assert_array_equal(t.X, t2.X)
    np.testing.assert_array_equal(t.y, t2.y)
    assert ratio(s.X).shape == (100,)
    sr, tr, _ = make_gaussian_shift(100, 50, task="regression", random_state=1)
    assert sr.y.dtype == np.float64 and tr.y.shape == (50,)
    np.testing.assert_allclose(
        sr.y, np.sinc(sr.X.sum(axis=1) / np.sqrt(2)), atol=0.5
    )  # sinc + noise(0.1)
    with pytest.raises(ValueError, match="task"):
        make_gaussian_shift(task="ranking")


@pytest.mark.parametrize(("d", "shift", "scale"), [(1, 1.0, 1.0), (2, 1.0, 0.8), (5, 0.7, 1.2)])
def test_gaussian_shift_density_ratio_exact(d, shift, scale):
    s, t, ratio = make_gaussian_shift(
        20000, 20000, n_features=d, shift=shift, scale=scale, random_state=0
    )
    # the target mean has norm `shift` along (1, ..., 1) / sqrt(d)
    np.testing.assert_allclose(t.X.mean(axis=0), shift / np.sqrt(d), atol=0.05)
    np.testing.assert_allclose(t.X.std(axis=0), scale, atol=0.05)
    # E_source[w] = 1 (Monte Carlo)
    assert ratio(s.X).mean() == pytest.approx(1.0, abs=0.05)
    # matches an independent closed form at a few points
    rng = np.random.default_rng(3)
    X = rng.normal(size=(7, d))
    mu = np.full(d, shift / np.sqrt(d))
    log_ps = -0.5 * (X**2).sum(1) - 0.5 * d * np.log(2 * np.pi)
    log_pt = (
        -0.5 * ((X - mu) ** 2).sum(1) / scale**2 - d * np.log(scale) - 0.5 * d * np.log(2 * np.pi)
    )
    np.testing.assert_allclose(ratio(X), np.exp(log_pt - log_ps), rtol=1e-10)
    assert ratio(X[0]).shape == (1,)


def test_gaussian_shift_importance_weighting_helps():
    from sklearn.linear_model import LogisticRegression

    s, t, ratio = make_gaussian_shift(2000, 2000, random_state=0)
    plain = LogisticRegression().fit(s.X, s.y).score(t.X, t.y)
    weighted = LogisticRegression().fit(s.X, s.y, sample_weight=ratio(s.X)).score(t.X, t.y)
    assert weighted > plain + 0.2


def test_shifted_digits_shapes_and_determinism():
    s, t = make_shifted_digits(random_state=0)
    assert s.X.shape == (898, 64) and t.X.shape == (899, 64)
    assert s.X.dtype == np.float32 and s.y.dtype == np.int64 and t.y.shape == (899,)
    assert 0 <= t.X.min() and t.X.max() <= 1 and 0 <= s.X.min() and s.X.max() <= 1
    s2, t2 = make_shifted_digits(random_state=0)
    np.testing.assert_array_equal(t.X, t2.X)
    np.testing.assert_array_equal(s.y, s2.y)
    _, t3 = make_shifted_digits(random_state=1)
    assert not np.array_equal(t.y, t3.y)
    for shift in ("blur", "invert", "noise", "rotation+blur"):
        a, b = make_shifted_digits(shift, random_state=0, n_target=100)
        assert a.X.shape == (898, 64) and b.X.shape == (100, 64)
        assert np.isfinite(b.X).all() and 0 <= b.X.min() and b.X.max() <= 1
    _, inv = make_shifted_digits("invert", random_state=0)
    _, none = make_shifted_digits("rotation", 0.0, random_state=0)
    np.testing.assert_allclose(inv.X, 1 - none.X, atol=1e-6)
    with pytest.raises(ValueError, match="shift"):
        make_shifted_digits("shear")


def test_shifted_digits_shift_is_real():
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    held_out, target = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for seed in range(3):
            s, t = make_shifted_digits(random_state=seed)
            Xa, Xb, ya, yb = train_test_split(s.X, s.y, test_size=0.25, random_state=seed)
            held_out.append(LogisticRegression(max_iter=2000).fit(Xa, ya).score(Xb, yb))
            target.append(LogisticRegression(max_iter=2000).fit(s.X, s.y).score(t.X, t.y))
    assert np.mean(held_out) > 0.9
    assert np.mean(target) < np.mean(held_out) - 0.15
