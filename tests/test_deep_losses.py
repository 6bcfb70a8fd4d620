"""Deep alignment losses: MK-MMD (DAN), joint MMD (JAN), Deep CORAL."""

from __future__ import annotations

import dataclasses
import inspect

import numpy as np
import pytest
import torch

from domainadapt.feature import DeepCORAL, JointMMDAlignment, MMDAlignment
from domainadapt.ops import (
    DAN_MULTIPLIERS,
    MMDLoss,
    coral_loss,
    joint_mmd,
    mmd,
    mmd_test,
    multilayer_mmd,
)
from domainadapt.ops._options import MMDOptions


def _gauss(A: np.ndarray, B: np.ndarray, sigma: float, mults) -> np.ndarray:
    D = ((A[:, None, :] - B[None, :, :]) ** 2).sum(-1)
    return np.mean([np.exp(-D / (2 * (sigma * m) ** 2)) for m in mults], axis=0)


def _mmd_ref(X, Y, sigma, mults, unbiased=False):
    Kxx, Kyy, Kxy = (
        _gauss(X, X, sigma, mults),
        _gauss(Y, Y, sigma, mults),
        _gauss(X, Y, sigma, mults),
    )
    if unbiased:
        n, m = len(X), len(Y)
        return (
            (Kxx.sum() - np.trace(Kxx)) / (n * (n - 1))
            + (Kyy.sum() - np.trace(Kyy)) / (m * (m - 1))
            - 2 * Kxy.mean()
        )
    return Kxx.mean() + Kyy.mean() - 2 * Kxy.mean()


@pytest.fixture
def feats():
    g = torch.Generator().manual_seed(0)
    Xs = torch.randn(9, 5, generator=g, dtype=torch.float64)
    Xt = torch.randn(14, 5, generator=g, dtype=torch.float64) * 1.3 + 0.4  # unequal sizes
    Ls = torch.randn(9, 3, generator=g, dtype=torch.float64)
    Lt = torch.randn(14, 3, generator=g, dtype=torch.float64) + 0.2
    return Xs, Xt, Ls, Lt


@pytest.mark.parametrize("estimator", ["biased", "unbiased"])
def test_mmd_alignment_matches_dense_reference_unequal_batches(feats, estimator):
    Xs, Xt, _, _ = feats
    mults = (0.5, 1.0, 2.0)
    loss = MMDAlignment(bandwidth=1.3, multipliers=mults, estimator=estimator)
    ref = _mmd_ref(Xs.numpy(), Xt.numpy(), 1.3, mults, unbiased=estimator == "unbiased")
    np.testing.assert_allclose(float(loss(Xs, Xt)), ref, rtol=1e-10)


def test_mmd_alignment_sums_layers_with_weights(feats):
    Xs, Xt, Ls, Lt = feats
    loss = MMDAlignment(bandwidth=1.1, multipliers=[(1.0,), (0.5, 2.0)], layer_weights=(0.3, 2.0))
    ref = 0.3 * _mmd_ref(Xs.numpy(), Xt.numpy(), 1.1, (1.0,)) + 2.0 * _mmd_ref(
        Ls.numpy(), Lt.numpy(), 1.1, (0.5, 2.0)
    )
    np.testing.assert_allclose(float(loss([Xs, Ls], [Xt, Lt])), ref, rtol=1e-10)
    # default: the median heuristic of ops.mmd on each layer, weights 1
    dflt = MMDAlignment()
    expect = mmd(Xs, Xt, multipliers=(0.25, 0.5, 1, 2, 4)) + mmd(
        Ls, Lt, multipliers=(0.25, 0.5, 1, 2, 4)
    )
    torch.testing.assert_close(dflt([Xs, Ls], [Xt, Lt]), expect)


def test_mmd_alignment_uniform_weights_change_nothing(feats):
    Xs, Xt, _, _ = feats
    loss = MMDAlignment(bandwidth=1.0)
    w = torch.full((len(Xs),), 3.0, dtype=torch.float64)
    torch.testing.assert_close(loss(Xs, Xt, source_weights=w), loss(Xs, Xt))
    # non-uniform weights: a weighted mean embedding (zero weight = row left out)
    w0 = torch.ones(len(Xs), dtype=torch.float64)
    w0[:3] = 0
    torch.testing.assert_close(loss(Xs, Xt, source_weights=w0), loss(Xs[3:], Xt))


def test_joint_mmd_alignment_matches_product_kernel(feats):
    Xs, Xt, Ls, Lt = feats
    loss = JointMMDAlignment(bandwidth=1.2, multipliers=[(0.5, 1.0), (1.0,)])

    def k(a, b, c, d):
        return _gauss(a, b, 1.2, (0.5, 1.0)) * _gauss(c, d, 1.2, (1.0,))

    xs, xt, ls, lt = (t.numpy() for t in (Xs, Xt, Ls, Lt))
    ref = k(xs, xs, ls, ls).mean() + k(xt, xt, lt, lt).mean() - 2 * k(xs, xt, ls, lt).mean()
    np.testing.assert_allclose(float(loss([Xs, Ls], [Xt, Lt])), ref, rtol=1e-10)


def test_deep_coral_matches_formula(feats):
    Xs, Xt, _, _ = feats
    d = Xs.shape[1]
    Cs, Ct = np.cov(Xs.numpy(), rowvar=False), np.cov(Xt.numpy(), rowvar=False)
    ref = ((Cs - Ct) ** 2).sum() / (4 * d * d)
    np.testing.assert_allclose(float(DeepCORAL()(Xs, Xt)), ref, rtol=1e-12)
    assert float(coral_loss(Xs, Xs + 5.0)) == pytest.approx(0.0, abs=1e-12)  # shift-invariant


def test_losses_gradcheck_float64(feats):
    # a few rows and columns: gradcheck perturbs every input entry
    Xs, Xt, Ls, Lt = (t[:5, :3].clone().requires_grad_() for t in feats)
    Xt, Lt = (
        feats[1][5:11, :3].clone().requires_grad_(),
        feats[3][5:11, :3].clone().requires_grad_(),
    )
    mk = MMDAlignment(bandwidth=1.3, multipliers=(0.5, 1.0, 2.0))
    assert torch.autograd.gradcheck(lambda a, b: mk(a, b), (Xs, Xt))
    jm = JointMMDAlignment(bandwidth=1.1)
    assert torch.autograd.gradcheck(lambda a, b, c, d: jm([a, c], [b, d]), (Xs, Xt, Ls, Lt))
    assert torch.autograd.gradcheck(lambda a, b: coral_loss(a, b), (Xs, Xt))


def test_losses_accept_image_shaped_features_and_float32():
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(6, 2, 3, 3, generator=g), torch.randn(8, 2, 3, 3, generator=g)
    v = MMDAlignment()(a, b)
    assert v.dtype == torch.float32 and v.dim() == 0 and float(v) > 0
    assert float(DeepCORAL()(a, b)) > 0


def test_losses_bad_inputs_name_the_problem(feats):
    Xs, Xt, Ls, Lt = feats
    with pytest.raises(ValueError, match="source has 2 layers but target has 1"):
        MMDAlignment()([Xs, Ls], [Xt])
    with pytest.raises(ValueError, match="layer_weights has 1 entries for 2 layers"):
        MMDAlignment(layer_weights=(1.0,))([Xs, Ls], [Xt, Lt])
    with pytest.raises(ValueError, match="at least 2 rows"):
        coral_loss(Xs[:1], Xt)
    with pytest.raises(ValueError, match="same number of features"):
        coral_loss(Xs, Lt)
    with pytest.raises(TypeError, match=r"source\[0\] must be a torch.Tensor"):
        MMDAlignment()([Xs.numpy()], [Xt])
    # group= without an initialised process group
    with pytest.raises(ValueError, match="not initialised"):
        MMDAlignment(group=object())(Xs, Xt)
    with pytest.raises(ValueError, match="not initialised"):
        DeepCORAL(group=object())(Xs, Xt)


def test_one_mmd_module_dan_defaults_on_top(feats):
    Xs, Xt, Ls, Lt = feats
    dan = MMDAlignment(bandwidth=1.1, layer_weights=(0.3, 2.0))
    assert isinstance(dan, MMDLoss)
    same = MMDLoss(bandwidth=1.1, multipliers=DAN_MULTIPLIERS, layer_weights=(0.3, 2.0))
    torch.testing.assert_close(dan([Xs, Ls], [Xt, Lt]), same([Xs, Ls], [Xt, Lt]))
    # one 2-D layer: exactly ops.mmd
    torch.testing.assert_close(MMDLoss(bandwidth=1.1)(Xs, Xt), mmd(Xs, Xt, bandwidth=1.1))


def test_mmd_options_are_declared_once_and_listed_in_signatures():
    names = {f.name for f in dataclasses.fields(MMDOptions)}
    for func in (mmd, joint_mmd, multilayer_mmd):
        assert names <= set(inspect.signature(func).parameters)
    assert "group" not in inspect.signature(mmd_test).parameters
    with pytest.raises(TypeError, match="mmd_test.*'group'"):
        mmd_test(torch.randn(4, 2), torch.randn(4, 2), group=None)
    with pytest.raises(TypeError, match="multilayer_mmd.*'kernal'"):
        multilayer_mmd(torch.randn(4, 2), torch.randn(4, 2), kernal="gaussian")
