"""Tests of gradient reversal and the DANN schedule."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from domainadapt.ops import GradientReversal, ReversalSchedule, gradient_reverse


def test_gradient_reverse_identity_forward_negated_backward():
    x = torch.randn(4, 3, requires_grad=True)
    y = gradient_reverse(x, 0.3)
    assert torch.equal(y, x)
    (y * torch.arange(12.0).reshape(4, 3)).sum().backward()
    assert torch.allclose(x.grad, -0.3 * torch.arange(12.0).reshape(4, 3))
    x.grad = None
    gradient_reverse(x, torch.tensor(2.0)).sum().backward()
    assert torch.allclose(x.grad, torch.full((4, 3), -2.0))


def test_gradient_reverse_gradcheck_and_validation():
    x = torch.randn(3, 2, dtype=torch.float64, requires_grad=True)
    # gradcheck compares to the numerical (identity) Jacobian: coeff=-1 makes them equal
    assert torch.autograd.gradcheck(lambda t: gradient_reverse(t, -1.0), (x,))
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        gradient_reverse([1.0, 2.0])
    with pytest.raises(TypeError, match="coeff must be"):
        gradient_reverse(x, "1")


def test_schedule_formula_and_warmup():
    s = ReversalSchedule(max_steps=110, gamma=10.0, warmup_steps=10)
    assert s.coeff == 0.0
    for _ in range(10):
        s.step()
    assert s.coeff == 0.0  # end of warm-up: p = 0
    for _ in range(50):
        s.step()
    assert s.progress == pytest.approx(0.5)
    assert s.coeff == pytest.approx(2.0 / (1.0 + math.exp(-5.0)) - 1.0)
    for _ in range(100):
        s.step()
    assert s.progress == 1.0 and s.coeff == pytest.approx(2.0 / (1.0 + math.exp(-10.0)) - 1.0)
    s2 = ReversalSchedule(max_steps=110, warmup_steps=10)
    s2.load_state_dict(s.state_dict())
    assert s2.coeff == s.coeff
    with pytest.raises(ValueError, match="max_steps"):
        ReversalSchedule(max_steps=0)
    with pytest.raises(ValueError, match="warmup_steps"):
        ReversalSchedule(max_steps=5, warmup_steps=5)


def test_schedule_moves_only_on_step_not_on_forward():
    s = ReversalSchedule(max_steps=100)
    for _ in range(20):
        s.step()
    c = s.coeff
    grl = GradientReversal(s)
    model = nn.Sequential(nn.Linear(3, 3), grl, nn.Linear(3, 1))
    x = torch.randn(8, 3)
    model.train()
    for _ in range(5):
        model(x).sum().backward()
    model.eval()
    with torch.no_grad():
        for _ in range(5):
            model(x)
    assert s.step_count == 20 and s.coeff == c
    # the layer reads the live coefficient
    x2 = torch.randn(2, 3, requires_grad=True)
    grl(x2).sum().backward()
    assert torch.allclose(x2.grad, torch.full((2, 3), -c))
    s.step()
    assert grl.coeff == s.coeff > c


def test_gradient_reversal_module_fixed_coeff():
    grl = GradientReversal(0.5)
    x = torch.randn(2, 2, requires_grad=True)
    grl(x).sum().backward()
    assert torch.allclose(x.grad, torch.full((2, 2), -0.5))
    assert "coeff=0.5" in repr(grl)
    with pytest.raises(TypeError):
        GradientReversal("fast")
