"""RKD and class-conditional discrepancy losses vs hand-computed values; gradient checks."""

from __future__ import annotations

import math

import pytest
import torch

from domainadapt.ops import mmd
from domainadapt.relation import (
    ContrastiveDomainDiscrepancyLoss,
    RKDAngleLoss,
    RKDDistanceLoss,
    class_discrepancy_matrix,
    contrastive_domain_discrepancy,
    rkd_angle_loss,
    rkd_distance_loss,
)

TEACHER = torch.tensor([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]], dtype=torch.float64)
STUDENT = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)


def _huber(x: float) -> float:
    return 0.5 * x * x if abs(x) < 1 else abs(x) - 0.5


def test_rkd_distance_by_hand():
    t = [3.0, 4.0, 5.0]  # pairs (0,1), (0,2), (1,2)
    s = [1.0, 1.0, math.sqrt(2)]
    mt, ms = sum(t) / 3, sum(s) / 3
    expected = sum(_huber(a / ms - b / mt) for a, b in zip(s, t)) / 3
    assert float(rkd_distance_loss(STUDENT, TEACHER)) == pytest.approx(expected)
    assert float(RKDDistanceLoss()(STUDENT, TEACHER)) == pytest.approx(expected)


def test_rkd_angle_by_hand():
    # cosines at each vertex: teacher 3-4-5 triangle (0, 3/5, 4/5), student (0, 1/sqrt2, 1/sqrt2)
    t = [0.0, 0.6, 0.8]
    s = [0.0, 1 / math.sqrt(2), 1 / math.sqrt(2)]
    expected = sum(_huber(a - b) for a, b in zip(s, t)) / 3  # each vertex appears twice of 6
    assert float(rkd_angle_loss(STUDENT, TEACHER)) == pytest.approx(expected)
    assert float(RKDAngleLoss()(STUDENT, TEACHER)) == pytest.approx(expected)


def test_rkd_invariances():
    g = torch.Generator().manual_seed(0)
    T = torch.randn(12, 5, generator=g, dtype=torch.float64)
    Q, _ = torch.linalg.qr(torch.randn(5, 5, generator=g, dtype=torch.float64))
    S = 3.0 * T @ Q + 1.0  # a similarity transform keeps every relation
    assert float(rkd_distance_loss(S, T)) == pytest.approx(0.0, abs=1e-12)
    assert float(rkd_angle_loss(S, T)) == pytest.approx(0.0, abs=1e-12)
    # different widths are allowed: the student embeds in 3 dimensions
    assert rkd_distance_loss(torch.randn(12, 3, dtype=torch.float64), T) > 0


def test_rkd_teacher_gets_no_gradient():
    T = torch.randn(6, 4, dtype=torch.float64, requires_grad=True)
    S = torch.randn(6, 3, dtype=torch.float64, requires_grad=True)
    (rkd_distance_loss(S, T) + rkd_angle_loss(S, T)).backward()
    assert T.grad is None and S.grad is not None and torch.isfinite(S.grad).all()


@pytest.mark.parametrize("loss", [rkd_distance_loss, rkd_angle_loss])
def test_rkd_gradcheck(loss):
    g = torch.Generator().manual_seed(1)
    T = torch.randn(6, 4, generator=g, dtype=torch.float64)
    S = torch.randn(6, 3, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda s: loss(s, T), (S,))


def test_rkd_input_errors():
    with pytest.raises(ValueError, match="same rows"):
        rkd_distance_loss(torch.randn(4, 2), torch.randn(5, 2))
    with pytest.raises(ValueError, match="2-D"):
        rkd_angle_loss(torch.randn(4), torch.randn(4, 2))
    with pytest.raises(ValueError, match="at least 3 rows"):
        rkd_angle_loss(torch.randn(2, 2), torch.randn(2, 2))
    with pytest.raises(TypeError, match="torch.Tensor"):
        rkd_distance_loss([[0.0]], torch.randn(1, 1))


def _two_domains(seed=0, n=40, offset=0.5):
    g = torch.Generator().manual_seed(seed)
    centres = torch.tensor([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]], dtype=torch.float64)
    ys = torch.arange(n) % 3
    yt = torch.arange(n + 5) % 3
    Xs = centres[ys] + torch.randn(n, 2, generator=g, dtype=torch.float64)
    Xt = centres[yt] + offset + torch.randn(n + 5, 2, generator=g, dtype=torch.float64)
    return Xs, Xt, ys, yt


def test_class_matrix_matches_weighted_mmd():
    Xs, Xt, ys, yt = _two_domains()
    kw = dict(bandwidth=1.5, multipliers=(0.5, 1.0, 2.0))
    D, present = class_discrepancy_matrix(Xs, Xt, ys, yt, 3, **kw)
    assert present.all()
    for c in range(3):
        for c2 in range(3):
            ref = mmd(Xs[ys == c], Xt[yt == c2], **kw)
            assert float(D[c, c2]) == pytest.approx(float(ref), rel=1e-9, abs=1e-12)
    # soft one-hot labels give the same matrix
    D_soft, _ = class_discrepancy_matrix(
        Xs, Xt, ys, torch.nn.functional.one_hot(yt, 3).double(), 3, **kw
    )
    torch.testing.assert_close(D_soft, D)


def test_cdd_formula_and_direction():
    Xs, Xt, ys, yt = _two_domains()
    kw = dict(bandwidth=1.5)
    D, _ = class_discrepancy_matrix(Xs, Xt, ys, yt, 3, **kw)
    intra = torch.diagonal(D).mean()
    inter = (D.sum() - torch.diagonal(D).sum()) / 6
    cdd = contrastive_domain_discrepancy(Xs, Xt, ys, yt, 3, **kw)
    assert float(cdd) == pytest.approx(float(intra - inter))
    assert float(
        contrastive_domain_discrepancy(Xs, Xt, ys, yt, 3, contrastive=False, **kw)
    ) == pytest.approx(float(intra))
    # right pseudo-labels give a lower discrepancy than shuffled ones
    wrong = (yt + 1) % 3
    assert cdd < contrastive_domain_discrepancy(Xs, Xt, ys, wrong, 3, **kw)
    module = ContrastiveDomainDiscrepancyLoss(3, bandwidth=1.5)
    assert float(module(Xs, Xt, ys, yt)) == pytest.approx(float(cdd))


def test_cdd_absent_classes_and_errors():
    Xs, Xt, ys, yt = _two_domains()
    only_two = yt.clone()
    only_two[only_two == 2] = 1  # class 2 never predicted on the target
    D, present = class_discrepancy_matrix(Xs, Xt, ys, only_two, 3, bandwidth=1.0)
    assert not present[:, 2].any() and torch.all(D[:, 2] == 0)
    value = contrastive_domain_discrepancy(Xs, Xt, ys, only_two, 3, bandwidth=1.0)
    assert torch.isfinite(value)
    with pytest.raises(ValueError, match="must lie in"):
        class_discrepancy_matrix(Xs, Xt, ys, yt + 3, 3)
    with pytest.raises(ValueError, match="same number of features"):
        class_discrepancy_matrix(Xs, Xt[:, :1], ys, yt, 3)
    with pytest.raises(ValueError, match="n_classes"):
        ContrastiveDomainDiscrepancyLoss(0)


def test_cdd_gradcheck():
    Xs, Xt, ys, yt = _two_domains(n=9)
    Xs = Xs.clone().requires_grad_(True)
    Pt = torch.softmax(torch.randn(14, 3, dtype=torch.float64), 1).requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda a, p: contrastive_domain_discrepancy(a, Xt, ys, p, 3, bandwidth=1.3), (Xs, Pt)
    )
