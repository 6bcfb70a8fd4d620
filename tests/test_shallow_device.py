"""``device=`` of the shallow strategies whose solver is torch (issue #11, item 5).

KMM (FISTA solver), OTMapping (cost matrix and Sinkhorn) and TCA (Nyström path) take
``device=``; ``"auto"`` resolves to CUDA when present, else the CPU. Checked here:

* on the CPU the results are those of a reference computed without the device code
  (the NumPy Nyström branch JDA still uses, a NumPy Sinkhorn, the exact KMM QP);
* ``"auto"`` gives the CPU on a machine without CUDA, and the same results as ``"cpu"``;
* a CUDA device without CUDA, or a string that is no device, is refused with a message
  naming the estimator, the parameter and what to pass instead;
* every fitted attribute is NumPy (or a Python number), never a tensor, and
  ``device_`` records where the solve ran;
* ``@pytest.mark.cuda``: CUDA and CPU agree (skipped without a GPU).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.utils import check_random_state

from domainadapt._utils import resolve_device
from domainadapt.feature import TCA, OTMapping
from domainadapt.feature.tca import marginal_factor, mmd_embedding, normalise_factor
from domainadapt.instance import KMM

HAS_CUDA = torch.cuda.is_available()
no_cuda_only = pytest.mark.skipif(HAS_CUDA, reason="checks the behaviour without CUDA")


def _data(n_s=240, n_t=200, d=5, seed=0):
    rng = np.random.default_rng(seed)
    X_s = rng.normal(size=(n_s, d))
    y_s = (X_s[:, 0] + 0.3 * rng.normal(size=n_s) > 0).astype(int)
    X_t = rng.normal(size=(n_t, d)) @ np.diag([1.3, 0.8, 1.0, 1.1, 0.9][:d]) + 0.4
    return X_s, y_s, X_t


def _assert_no_tensors(est):
    for name, value in vars(est).items():
        if name.endswith("_") and not name.startswith("_"):
            assert not isinstance(value, torch.Tensor), f"{name} is a tensor"
    assert isinstance(est.device_, torch.device)


def _same_up_to_sign(A, B, **tol):
    signs = np.sign(np.sum(A * B, axis=0))
    signs[signs == 0] = 1.0
    np.testing.assert_allclose(A * signs, B, **tol)


# ----------------------------------------------------------------------------- resolve_device
@no_cuda_only
def test_auto_resolves_to_cpu_without_cuda():
    assert resolve_device("auto") == torch.device("cpu")


def test_cpu_spellings():
    for spelling in ("cpu", torch.device("cpu")):
        assert resolve_device(spelling) == torch.device("cpu")


@no_cuda_only
@pytest.mark.parametrize("device", ["cuda", "cuda:1", torch.device("cuda")])
def test_cuda_without_cuda_is_refused_clearly(device):
    with pytest.raises(ValueError) as info:
        resolve_device(device, owner="KMM")
    msg = str(info.value)
    assert msg.startswith("KMM: device=")  # which estimator, which argument
    assert "CUDA is not available" in msg  # why
    assert "device='cpu'" in msg and "device='auto'" in msg  # what to do


@pytest.mark.parametrize("device", ["gpu", "tpu9", "", 3.5])
def test_invalid_device_is_refused_clearly(device):
    with pytest.raises(ValueError, match=r"^TCA: device must be 'auto', 'cpu', 'cuda'") as info:
        resolve_device(device, owner="TCA")
    assert "device='auto'" in str(info.value)


@pytest.mark.cuda
def test_cuda_index_beyond_the_machine_is_refused():
    with pytest.raises(ValueError, match="names CUDA device"):
        resolve_device(f"cuda:{torch.cuda.device_count()}")


# ----------------------------------------------------------------------------- estimators
def _estimators():
    return [
        KMM(solver="fista", max_iter=300, tol=1e-6, flatten=1.0),
        OTMapping(reg=0.1),
        TCA(3, kernel="rbf", n_landmarks=60, random_state=0),
    ]


@pytest.mark.parametrize("est", _estimators(), ids=lambda e: type(e).__name__)
def test_device_is_a_declared_parameter_defaulting_to_auto(est):
    assert "device" in type(est)._parameter_constraints
    assert est.get_params()["device"] == "auto"


@no_cuda_only
@pytest.mark.parametrize("est", _estimators(), ids=lambda e: type(e).__name__)
def test_cuda_without_cuda_fails_at_fit_naming_the_estimator(est):
    X_s, y_s, X_t = _data()
    name = type(est).__name__
    with pytest.raises(ValueError, match=rf"^{name}: device='cuda' asks for a GPU"):
        est.set_params(device="cuda").fit((X_s, y_s), X_t)


@pytest.mark.parametrize("est", _estimators(), ids=lambda e: type(e).__name__)
def test_invalid_device_fails_at_fit(est):
    X_s, y_s, X_t = _data()
    with pytest.raises(ValueError, match="device"):
        est.set_params(device="tpu9").fit((X_s, y_s), X_t)


@no_cuda_only
@pytest.mark.parametrize("est", _estimators(), ids=lambda e: type(e).__name__)
def test_auto_is_cpu_here_with_the_same_results(est):
    X_s, y_s, X_t = _data()
    auto = est.fit((X_s, y_s), X_t)
    assert auto.device_ == torch.device("cpu")
    _assert_no_tensors(auto)
    from sklearn.base import clone

    cpu = clone(est).set_params(device="cpu").fit((X_s, y_s), X_t)
    for name in ("weights_", "coupling_", "projection_"):
        if hasattr(cpu, name):
            np.testing.assert_array_equal(getattr(auto, name), getattr(cpu, name))


# ----------------------------------------------------------------------------- KMM
def test_kmm_fista_on_cpu_matches_the_exact_qp():
    X_s, y_s, X_t = _data(300, 250)
    kw = dict(B=3.0, bandwidth=1.5, flatten=1.0)
    qp = KMM(solver="qp", **kw).fit((X_s, y_s), X_t)
    fista = KMM(solver="fista", device="cpu", max_iter=3000, tol=1e-9, **kw).fit((X_s, y_s), X_t)
    assert qp.device_ == torch.device("cpu") and fista.device_ == torch.device("cpu")
    for m in (qp, fista):
        _assert_no_tensors(m)
        assert isinstance(m.raw_weights_, np.ndarray) and m.raw_weights_.dtype == np.float64
        assert isinstance(m.objective_, float) and isinstance(m.mmd2_, float)
    # the same optimum value (the QP is flat: the weights themselves are not unique)
    assert fista.objective_ == pytest.approx(qp.objective_, rel=1e-4)
    assert fista.objective_ >= qp.objective_ - 1e-6 * abs(qp.objective_)
    assert fista.mmd2_ == pytest.approx(qp.mmd2_, rel=1e-2, abs=1e-6)
    # and the objective reported is the QP objective at the returned weights
    from domainadapt.instance.kmm import kmm_objective

    obj = kmm_objective(X_s, X_t, fista.raw_weights_, fista.bandwidth_)
    assert obj == pytest.approx(fista.objective_, rel=1e-4)


def test_kmm_qp_runs_on_cpu_whatever_the_device():
    X_s, y_s, X_t = _data(60, 50)
    m = KMM(solver="qp", device="cpu", flatten=1.0).fit((X_s, y_s), X_t)
    assert m.solver_ == "qp" and m.device_ == torch.device("cpu")


# ----------------------------------------------------------------------------- OT
def _numpy_sinkhorn(a, b, C, reg, n_iter=20_000):
    """Plain Sinkhorn scaling in NumPy float64 (the reference; fine for moderate reg)."""
    K = np.exp(-C / reg)
    u, v = np.ones_like(a), np.ones_like(b)
    for _ in range(n_iter):
        u = a / (K @ v)
        v = b / (K.T @ u)
    return u[:, None] * K * v[None, :]


def test_ot_sinkhorn_on_cpu_matches_a_numpy_reference():
    X_s, y_s, X_t = _data(80, 60, d=3, seed=1)
    ot = OTMapping(reg=0.5, tol=1e-12, max_iter=20_000, device="cpu").fit((X_s, y_s), X_t)
    assert ot.device_ == torch.device("cpu")
    _assert_no_tensors(ot)
    assert ot.coupling_.dtype == np.float64 and ot.source_mapped_.dtype == np.float64
    M = ((X_s[:, None, :] - X_t[None, :, :]) ** 2).sum(-1)
    scale = np.sort(M.ravel())[(M.size - 1) // 2]  # torch.median: the lower middle value
    ref = _numpy_sinkhorn(np.full(80, 1 / 80), np.full(60, 1 / 60), M / scale, 0.5)
    assert ot.cost_scale_ == pytest.approx(scale, rel=1e-12)
    np.testing.assert_allclose(ot.coupling_, ref, rtol=1e-7, atol=1e-12)
    assert ot.cost_ == pytest.approx(float((ref * M).sum()), rel=1e-8)


# ----------------------------------------------------------------------------- TCA
def _tca_numpy_reference(est, X_s, X_t):
    """The NumPy Nyström branch (as before the device code, and as JDA still runs it)."""
    ref = TCA(**est.get_params())
    rng = check_random_state(est.random_state)
    X = np.concatenate([X_s, X_t])
    F = ref._prepare_features(X, len(X_s), rng)  # no device: NumPy
    E = normalise_factor(marginal_factor(len(X_s), len(X_t))[:, None])
    values, vectors = mmd_embedding(F, E, float(est.mu), est.n_components_)
    proj = ref._to_features @ vectors
    mmd = float(np.sum((E.T @ (F @ vectors)) ** 2))
    return ref, values, proj, mmd


@pytest.mark.parametrize("n_landmarks", [40, 440])  # a subsample, and m = n (exact kernel)
def test_tca_nystroem_on_cpu_matches_the_numpy_path(n_landmarks):
    X_s, y_s, X_t = _data()
    tca = TCA(4, kernel="rbf", mu=0.5, n_landmarks=n_landmarks, random_state=3, device="cpu")
    tca.fit((X_s, y_s), X_t)
    assert tca.device_ == torch.device("cpu") and tca.n_landmarks_ == min(n_landmarks, 440)
    _assert_no_tensors(tca)
    assert isinstance(tca.projection_, np.ndarray) and tca.projection_.dtype == np.float64
    ref, values, proj, mmd = _tca_numpy_reference(tca, X_s, X_t)
    assert ref.bandwidth_ == tca.bandwidth_
    np.testing.assert_array_equal(ref._basis, tca._basis)  # the same landmarks
    np.testing.assert_allclose(tca.eigenvalues_, values, rtol=1e-8)
    assert tca.mmd_ == pytest.approx(mmd, rel=1e-6, abs=1e-12)
    # embeddings of training and new rows, up to the sign of each component
    X_new = np.random.default_rng(9).normal(size=(30, 5))
    for X in (X_s, X_t, X_new):
        Z_ref = ref._kernel(X, ref._basis) @ proj
        Z = tca.transform(X, domain="target")
        assert isinstance(Z, np.ndarray) and Z.dtype == np.float64
        _same_up_to_sign(Z, Z_ref, rtol=1e-6, atol=1e-8 * np.abs(Z_ref).max())


def test_tca_transform_blocks_and_dtype(monkeypatch):
    import domainadapt.feature.tca as tca_module

    X_s, y_s, X_t = _data()
    tca = TCA(3, kernel="rbf", n_landmarks=50, random_state=0, device="cpu").fit((X_s, y_s), X_t)
    whole = tca.transform(X_t, domain="target")
    monkeypatch.setattr(tca_module, "TRANSFORM_BLOCK_ROWS", 7)
    np.testing.assert_allclose(tca.transform(X_t, domain="target"), whole, rtol=1e-12)
    Z32 = tca.transform(X_t.astype(np.float32), domain="target")
    assert Z32.dtype == np.float32
    # a model fitted on a GPU and loaded on a machine without one embeds on the CPU
    tca.device_ = torch.device("cuda")
    if not HAS_CUDA:
        np.testing.assert_allclose(tca.transform(X_t, domain="target"), whole, rtol=1e-12)
    del tca.device_  # pickled before device_ existed
    np.testing.assert_allclose(tca.transform(X_t, domain="target"), whole, rtol=1e-12)


@pytest.mark.parametrize("kernel", ["linear", "linear_dual", "rbf"])
def test_tca_numpy_paths_record_the_cpu(kernel):
    X_s, y_s, X_t = _data(60, 50)
    tca = TCA(2, kernel=kernel, device="cpu").fit((X_s, y_s), X_t)  # rbf: exact, no landmarks
    assert tca.n_landmarks_ is None and tca.device_ == torch.device("cpu")
    _assert_no_tensors(tca)


# ----------------------------------------------------------------------------- CUDA
@pytest.mark.cuda
def test_kmm_fista_cuda_matches_cpu():
    X_s, y_s, X_t = _data(3000, 2500, seed=4)
    kw = dict(solver="fista", max_iter=500, tol=1e-6, flatten=1.0, random_state=0)
    cpu = KMM(device="cpu", **kw).fit((X_s, y_s), X_t)
    gpu = KMM(device="cuda", **kw).fit((X_s, y_s), X_t)
    assert gpu.device_.type == "cuda"
    _assert_no_tensors(gpu)
    # the same optimum value (the weights of this flat QP are not unique, and float32
    # products on the two devices round differently along the way)
    assert gpu.objective_ == pytest.approx(cpu.objective_, rel=1e-4)
    assert gpu.mmd2_ == pytest.approx(cpu.mmd2_, rel=2e-2, abs=1e-6)
    from domainadapt.instance.kmm import kmm_objective  # float64, on the CPU

    obj = kmm_objective(X_s, X_t, gpu.raw_weights_, gpu.bandwidth_)
    assert obj == pytest.approx(gpu.objective_, rel=1e-4)
    w = gpu.raw_weights_
    assert w.min() >= 0.0 and w.max() <= 2.0 + 1e-9 and abs(w.mean() - 1) <= gpu.eps_ + 1e-9


@pytest.mark.cuda
def test_ot_cuda_float32_matches_cpu():
    X_s, y_s, X_t = _data(400, 300, seed=5)
    cpu = OTMapping(reg=0.1, device="cpu").fit((X_s, y_s), X_t)
    gpu = OTMapping(reg=0.1, device="auto").fit((X_s, y_s), X_t)
    assert gpu.device_.type == "cuda"
    _assert_no_tensors(gpu)
    assert gpu.coupling_.dtype == np.float64
    np.testing.assert_allclose(gpu.coupling_, cpu.coupling_, atol=1e-6)
    np.testing.assert_allclose(gpu.source_mapped_, cpu.source_mapped_, atol=5e-3)


@pytest.mark.cuda
def test_tca_nystroem_cuda_matches_cpu():
    X_s, y_s, X_t = _data(3000, 2000, seed=6)
    kw = dict(n_components=5, kernel="rbf", n_landmarks="auto", random_state=0)
    cpu = TCA(device="cpu", **kw).fit((X_s, y_s), X_t)
    gpu = TCA(device="cuda", **kw).fit((X_s, y_s), X_t)
    assert gpu.device_.type == "cuda" and gpu.n_landmarks_ == 500
    _assert_no_tensors(gpu)
    np.testing.assert_allclose(gpu.eigenvalues_, cpu.eigenvalues_, rtol=1e-6)
    Z_cpu, Z_gpu = cpu.transform(X_t, domain="target"), gpu.transform(X_t, domain="target")
    _same_up_to_sign(Z_gpu, Z_cpu, rtol=1e-5, atol=1e-7 * np.abs(Z_cpu).max())


# ----------------------------------------------------------------------------- benchmarks/gpu.py
@pytest.fixture
def gpu_bench(monkeypatch):
    import importlib.util
    import sys
    from pathlib import Path

    bench = Path(__file__).resolve().parents[1] / "benchmarks"
    monkeypatch.syspath_prepend(str(bench))
    spec = importlib.util.spec_from_file_location("_gpu_bench_shallow", bench / "gpu.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "SIZES_CPU", [(64, 4)])
    monkeypatch.setattr(module, "SHALLOW_SIZES_CPU", [120])
    return module


def test_gpu_benchmark_writes_the_shallow_table_on_cpu(gpu_bench, tmp_path):
    out = tmp_path / "gpu.md"
    argv = ["--allow-cpu", "--quick", "--skip-deep", "--repeats", "1", "--out", str(out)]
    assert gpu_bench.main(argv) == 0
    text = out.read_text()
    rows = {r.split("|")[1].strip(): r for r in text.splitlines() if r.startswith("| ")}
    for name in gpu_bench.SHALLOW_STRATEGIES:
        cells = [c.strip() for c in rows[name].strip("|").split("|")]
        assert cells[1] == "120" and float(cells[2]) > 0
        if not HAS_CUDA:
            assert cells[3] == "- (no CUDA)" and cells[4] == "-"
    if not HAS_CUDA:
        assert "no CUDA here: GPU columns not measured" in text
    out2 = tmp_path / "gpu2.md"
    assert gpu_bench.main([*argv[:-1], str(out2), "--skip-shallow"]) == 0
    assert "| KMM |" not in out2.read_text()


def test_gpu_benchmark_skips_what_would_not_fit(gpu_bench):
    cpu = torch.device("cpu")
    assert gpu_bench.shallow_skip("OTMapping", 100_000, cpu, quick=False).startswith("skipped")
    assert gpu_bench.shallow_skip("OTMapping", 100, cpu, quick=False) is None
    assert gpu_bench.shallow_skip("KMM", 100_000, cpu, quick=True).startswith("skipped (--quick")
    assert gpu_bench.shallow_skip("KMM", 100_000, cpu, quick=False) is None
    assert gpu_bench.shallow_skip("TCA (Nyström)", 100_000, cpu, quick=True) is None


# ----------------------------------------------------------------------------- no device: CPU cost
def test_label_propagation_factorises_its_graph_once(monkeypatch):
    """The sparse LU (the CPU cost of solver='direct') is computed once, not once per
    self-training round, and the rounds give exactly what a fresh solve per round gives."""
    import domainadapt._solvers._label_spreading as ls
    import domainadapt.relation.label_propagation as lp_module
    from domainadapt.datasets import make_shifted_digits
    from domainadapt.relation import LabelPropagation

    source, target = make_shifted_digits("rotation", random_state=0)
    calls = []
    real_splu = ls.splu
    monkeypatch.setattr(ls, "splu", lambda A: calls.append(A.shape) or real_splu(A))
    kw = dict(solver="direct", n_rounds=3)
    once = LabelPropagation(**kw).fit(source, target.X)
    assert once.n_rounds_done_ >= 1 and len(calls) == 1

    def per_round(S, alpha, **options):  # the former behaviour: factorise at every solve
        return lambda Y0: ls.spread_labels(S, Y0, alpha, **options)

    monkeypatch.setattr(lp_module, "factorize_spreading", per_round)
    fresh = LabelPropagation(**kw).fit(source, target.X)
    assert len(calls) == 1 + fresh.n_rounds_done_ + 1
    np.testing.assert_array_equal(once.label_distributions_, fresh.label_distributions_)
    np.testing.assert_array_equal(once.transduction_, fresh.transduction_)


@pytest.mark.parametrize("solver", ["direct", "cg", "dense"])
def test_factorize_spreading_equals_spread_labels(solver):
    from domainadapt._solvers import factorize_spreading, spread_labels, symmetric_normalize

    rng = np.random.default_rng(3)
    W = rng.random((40, 40)) * (rng.random((40, 40)) < 0.2)
    S = symmetric_normalize(W + W.T)
    solve = factorize_spreading(S, 0.8, solver=solver, tol=1e-12)
    for _ in range(2):
        Y0 = rng.random((40, 3))
        np.testing.assert_array_equal(
            solve(Y0), spread_labels(S, Y0, 0.8, solver=solver, tol=1e-12)
        )
    with pytest.raises(ValueError, match="solver must be"):
        factorize_spreading(S, 0.8, solver="jacobi")
