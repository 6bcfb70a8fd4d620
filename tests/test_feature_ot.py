"""OTMapping: exact and entropic OT couplings, class regularisation, barycentric mapping."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
import torch
from scipy import sparse
from scipy.optimize import linprog
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.neighbors import KNeighborsClassifier

from domainadapt import Domain
from domainadapt.datasets import make_rotated_moons
from domainadapt.feature.ot import OTMapping, emd, sinkhorn_log


def sq_cost(X, Y):
    return ((X[:, None, :] - Y[None, :, :]) ** 2).sum(-1)


def linprog_ot(a, b, C):
    """Reference optimum of the transportation LP (dense constraint matrix)."""
    n, m = C.shape
    A = np.vstack([np.kron(np.eye(n), np.ones((1, m))), np.kron(np.ones((1, n)), np.eye(m))])
    res = linprog(C.ravel(), A_eq=sparse.csr_matrix(A), b_eq=np.r_[a, b], method="highs")
    assert res.status == 0
    return res.fun


@pytest.fixture
def tiny():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(12, 3))
    Y = rng.normal(size=(9, 3)) + np.array([2.0, 0.0, -1.0])
    a = rng.uniform(0.5, 1.5, 12)
    a /= a.sum()
    b = np.full(9, 1 / 9)
    C = sq_cost(X, Y)
    return X, Y, a, b, C / C.max()


def test_emd_matches_linprog_reference(tiny):
    _, _, a, b, C = tiny
    gamma, _, converged = emd(a, b, C)
    assert converged
    np.testing.assert_allclose(gamma.sum(1), a, atol=1e-10)
    np.testing.assert_allclose(gamma.sum(0), b, atol=1e-10)
    assert (gamma * C).sum() == pytest.approx(linprog_ot(a, b, C), abs=1e-10)


def test_sinkhorn_tends_to_exact_ot_as_reg_vanishes(tiny):
    _, _, a, b, C = tiny
    exact = linprog_ot(a, b, C)
    gaps = []
    for reg in (1e-1, 1e-2, 1e-3):
        P, _, _, _, err = sinkhorn_log(
            torch.tensor(a), torch.tensor(b), torch.tensor(C), reg, max_iter=5000, tol=1e-9
        )
        P = P.numpy()
        assert err <= 1e-9
        np.testing.assert_allclose(P.sum(1), a, atol=1e-8)
        np.testing.assert_allclose(P.sum(0), b, atol=1e-12)
        gaps.append((P * C).sum() - exact)
    assert gaps[0] > gaps[1] > gaps[2] >= -1e-9  # entropic cost decreases to the optimum
    assert gaps[2] < 5e-3 * exact


def test_sinkhorn_log_domain_is_stable_on_unnormalised_costs():
    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(40, 5)) * 30, rng.normal(size=(30, 5)) * 30 + 50
    C = torch.tensor(sq_cost(X, Y))  # entries up to ~1e5: exp(-C / 1e-3) underflows
    a, b = (
        torch.full((40,), 1 / 40, dtype=torch.float64),
        torch.full((30,), 1 / 30, dtype=torch.float64),
    )
    P, f, g, _, err = sinkhorn_log(a, b, C, 1e-3, max_iter=3000, tol=1e-6)
    assert torch.isfinite(P).all() and torch.isfinite(f).all() and torch.isfinite(g).all()
    assert err <= 1e-6
    exact = linprog_ot(a.numpy(), b.numpy(), C.numpy())
    assert float((P * C).sum()) == pytest.approx(exact, rel=1e-3)


def test_against_pot_when_installed(tiny):
    ot = pytest.importorskip("ot")
    _, _, a, b, C = tiny
    np.testing.assert_allclose((emd(a, b, C)[0] * C).sum(), ot.emd2(a, b, C), atol=1e-10)
    P = sinkhorn_log(torch.tensor(a), torch.tensor(b), torch.tensor(C), 0.05, tol=1e-12)[0]
    ref = ot.sinkhorn(a, b, C, 0.05, stopThr=1e-13, numItermax=100_000)
    np.testing.assert_allclose(P.numpy(), ref, atol=1e-9)


def test_emd_recovers_a_permutation():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(25, 4))
    perm = rng.permutation(25)
    Y = X[perm] + 0.01 * rng.normal(size=(25, 4))
    y = np.arange(25) % 3
    model = OTMapping(method="emd").fit((X, y), Y)
    assert model.method_ == "emd"
    gamma = model.coupling_
    # source row perm[j] goes entirely to target row j
    np.testing.assert_array_equal(gamma.argmax(1)[perm], np.arange(25))
    np.testing.assert_allclose(gamma.max(1), 1 / 25)
    np.testing.assert_allclose(model.transform(X, domain="source"), Y[np.argsort(perm)])


@pytest.mark.parametrize("method", ["emd", "sinkhorn"])
def test_translated_cloud_is_mapped_by_the_translation(method):
    rng = np.random.default_rng(4)
    grid = np.stack(np.meshgrid(np.arange(6), np.arange(6)), -1).reshape(-1, 2)
    X = grid * np.array([1.5, 1.0]) + 0.1 * rng.normal(size=(36, 2))  # a jittered grid
    shift = np.array([5.0, -2.0])
    y = (X[:, 0] > 3).astype(int)
    model = OTMapping(method=method, reg=1e-3, tol=1e-8, max_iter=3000).fit((X, y), X + shift)
    assert model.converged_
    atol = 1e-9 if method == "emd" else 1e-4
    np.testing.assert_allclose(model.transform(X, domain="source"), X + shift, atol=atol)
    # target rows unchanged; new source rows move by their nearest neighbour's displacement
    np.testing.assert_array_equal(model.transform(X + shift, domain="target"), X + shift)
    X_new = X[:5] + 1e-3
    np.testing.assert_allclose(model.transform(X_new, domain="source"), X_new + shift, atol=atol)
    assert model.cost_ == pytest.approx(float(shift @ shift), rel=1e-2)


def test_marginals_and_sample_weight():
    rng = np.random.default_rng(5)
    X, Y = rng.normal(size=(30, 3)), rng.normal(size=(20, 3)) + 1
    y = rng.integers(0, 2, 30)
    w = rng.uniform(0, 2, 30)
    for method in ("emd", "sinkhorn"):
        model = OTMapping(method=method, reg=0.05).fit(Domain(X, y, sample_weight=w), Y)
        np.testing.assert_allclose(model.coupling_.sum(1), w / w.sum(), atol=1e-5)
        np.testing.assert_allclose(model.coupling_.sum(0), 1 / 20, atol=1e-5)
        assert model.marginal_error_ <= 1e-5


def test_class_reg_sends_one_class_to_each_target_row():
    source, target = make_rotated_moons(100, 100, angle=40, noise=0.1, random_state=0)
    plain = OTMapping(method="sinkhorn", reg=0.5).fit(source, target.X)
    regd = OTMapping(method="sinkhorn", reg=0.5, class_reg=3.0)
    regd.fit(source, target.X)

    def purity(gamma):  # share of each target row's mass from its majority class
        per_class = np.stack([gamma[source.y == c].sum(0) for c in (0, 1)])
        return (per_class.max(0) / per_class.sum(0)).mean()

    assert purity(plain.coupling_) < 0.9
    assert purity(regd.coupling_) > 0.97
    assert regd.converged_
    np.testing.assert_allclose(regd.coupling_.sum(0), 1 / 100, atol=1e-12)


def test_raises_target_accuracy_on_rotated_moons():
    accs = {"none": [], "ot": [], "ot_class": []}
    for seed in range(2):
        source, target = make_rotated_moons(100, 100, angle=50, noise=0.1, random_state=seed)
        knn = KNeighborsClassifier(1)
        accs["none"].append(knn.fit(source.X, source.y).score(target.X, target.y))
        ot = OTMapping(method="emd", estimator=knn).fit(source, target.X)
        accs["ot"].append(ot.score(target.X, target.y))
        ot_c = OTMapping(method="sinkhorn", reg=0.5, class_reg=3.0, class_reg_iter=3, estimator=knn)
        accs["ot_class"].append(ot_c.fit(source, target.X).score(target.X, target.y))
    mean = {k: np.mean(v) for k, v in accs.items()}
    assert mean["ot"] > mean["none"] + 0.05, mean
    assert mean["ot_class"] > mean["ot"] + 0.03, mean
    assert mean["ot_class"] > mean["none"] + 0.15, mean


def test_labelled_target_rows_only_receive_their_class():
    rng = np.random.default_rng(6)
    X = rng.normal(size=(60, 2)) + np.repeat([[0, 0], [4, 0]], 30, axis=0)
    y = np.repeat([0, 1], 30)
    Y = rng.normal(size=(40, 2)) + np.repeat([[0, 3], [4, 3]], 20, axis=0)
    y_t = np.full(40, -1)
    y_t[[0, 1, 20, 21]] = [1, 1, 0, 0]  # deliberately the "wrong" side
    model = OTMapping(method="emd").fit((X, y), (Y, y_t))
    assert model.coupling_[y == 0][:, [0, 1]].sum() < 1e-12
    assert model.coupling_[y == 1][:, [20, 21]].sum() < 1e-12


def test_auto_method_and_determinism_and_pickle():
    rng = np.random.default_rng(7)
    X, Y = rng.normal(size=(50, 3)), rng.normal(size=(40, 3)) + 1
    y = rng.integers(0, 3, 50)
    assert OTMapping().fit((X, y), Y).method_ == "sinkhorn"  # the default
    assert OTMapping(method="auto").fit((X, y), Y).method_ == "emd"
    big = OTMapping(method="auto", exact_max_size=100).fit((X, y), Y)
    assert big.method_ == "sinkhorn" and big.converged_ and big.n_iter_ > 0
    again = clone(big).fit((X, y), Y)
    np.testing.assert_array_equal(big.coupling_, again.coupling_)
    restored = pickle.loads(pickle.dumps(big))
    np.testing.assert_array_equal(restored.transform(X, "source"), big.transform(X, "source"))


def test_warns_when_not_converged():
    rng = np.random.default_rng(8)
    X, Y = rng.normal(size=(30, 2)), rng.normal(size=(30, 2)) + 2
    y = rng.integers(0, 2, 30)
    with pytest.warns(ConvergenceWarning, match="max_iter=3.*reg"):
        model = OTMapping(method="sinkhorn", reg=1e-3, max_iter=3).fit((X, y), Y)
    assert not model.converged_
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        OTMapping(method="sinkhorn", reg=0.1).fit((X, y), Y)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"reg": 0}, r"'reg' parameter of OTMapping must be .* Got 0 "),
        ({"reg": -1.0}, r"'reg' parameter of OTMapping must be .* Got \-1\.0 "),
        ({"class_reg": -0.5}, r"'class_reg' parameter of OTMapping must be .* Got \-0\.5 "),
        ({"method": "exact"}, r"'method' parameter of OTMapping must be .* Got 'exact' "),
        ({"metric": "hamming"}, r"'metric' parameter of OTMapping must be .* Got 'hamming' "),
        ({"normalize_cost": "mean"}, r"'normalize_cost' parameter of OTMapping must be .* Got 'mean' "),
        ({"max_iter": 0}, r"'max_iter' parameter of OTMapping must be .* Got 0 "),
        ({"tol": 0.0}, r"'tol' parameter of OTMapping must be .* Got 0\.0 "),
        ({"emd_solver": "simplex"}, r"'emd_solver' parameter of OTMapping must be .* Got 'simplex' "),
        ({"device": "tpu9"}, "device must be"),
        ({"random_state": "seed"}, r"'random_state' parameter of OTMapping must be .* Got 'seed' "),
    ],
)
def test_bad_parameters_name_the_argument(params, match):
    rng = np.random.default_rng(9)
    X, y = rng.normal(size=(10, 2)), np.arange(10) % 2
    with pytest.raises(ValueError, match=match):
        OTMapping(**params).fit((X, y), X)


def test_class_reg_needs_class_labels():
    rng = np.random.default_rng(10)
    X = rng.normal(size=(20, 2))
    with pytest.raises(ValueError, match="class_reg needs class labels"):
        OTMapping(class_reg=1.0).fit((X, rng.normal(size=20)), X)
    # regression without the class term works: a pure feature map
    OTMapping().fit((X, rng.normal(size=20)), X + 1)


@pytest.mark.cuda
def test_sinkhorn_on_cuda_matches_cpu():
    rng = np.random.default_rng(11)
    X, Y = rng.normal(size=(300, 8)), rng.normal(size=(200, 8)) + 1
    y = rng.integers(0, 3, 300)
    cpu = OTMapping(method="sinkhorn", reg=0.1, device="cpu").fit((X, y), Y)
    gpu = OTMapping(method="sinkhorn", reg=0.1, device="cuda").fit((X, y), Y)
    np.testing.assert_allclose(gpu.coupling_, cpu.coupling_, atol=1e-6)
