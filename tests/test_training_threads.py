"""``n_threads`` of the deep strategies: the ``"auto"`` choice from the work per step,
the thread count restored after ``fit``, ``n_threads_`` and the parameter's checks.

No timing here (times live in ``benchmarks/deep_throughput.py --thread-sweep``): the
tests check which count is chosen and that the caller's count survives a fit.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.utils._param_validation import InvalidParameterError
from torch import nn

from domainadapt.model import DANN
from domainadapt.training import MLP, Callback, DeepAdapter, settings
from domainadapt.training.settings import (
    AUTO_THREADS_MIN_MACS,
    available_cores,
    forward_macs,
    resolve_threads,
)

FAST = dict(hidden_sizes=(8,), n_epochs=1, batch_size=16, progress=False, random_state=0)
CPU = torch.device("cpu")


def _data(n: int = 64, d: int = 3):
    rng = np.random.RandomState(0)
    Xs, Xt = rng.randn(n, d).astype(np.float32), rng.randn(n, d).astype(np.float32) + 0.5
    return Xs, (Xs[:, 0] > 0).astype(int), Xt


def _conv_net() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
    )


def _forward(parts, x):
    return parts["classifier"](parts["features"](x))


@pytest.fixture
def caller_threads():
    """Run the test with the caller's count at 2 (restored afterwards)."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield 2
    torch.set_num_threads(before)


@pytest.fixture
def many_cores(monkeypatch):
    """A machine whose torch default is 8 threads and where 4 cores are available."""
    monkeypatch.setattr(settings, "available_cores", lambda: 4)
    monkeypatch.setattr(settings.torch, "get_num_threads", lambda: 8)


# ----------------------------------------------------------------------------- the estimate
def test_forward_macs_counts_layers_from_their_shapes():
    d, h, k, b = 10, 6, 3, 32
    parts = nn.ModuleDict({
        "features": nn.Sequential(nn.Linear(d, h), nn.ReLU()),
        "classifier": nn.Linear(h, k),
        "discriminator": nn.Sequential(nn.Linear(h, 5), nn.ReLU(), nn.Linear(5, 1)),
    })
    # called layers from their outputs, the uncalled discriminator one MAC per weight
    expected = b * (d * h + h * k + h * 5 + 5 * 1)
    assert forward_macs(parts, _forward, (d,), b) == expected


def test_forward_macs_conv_uses_spatial_size_and_leaves_state_alone():
    parts = nn.ModuleDict({"features": _conv_net(), "classifier": nn.Linear(128, 2)})
    parts.train()
    rng_before = torch.get_rng_state()
    macs16 = forward_macs(parts, _forward, (3, 16, 16), 1)
    macs32 = forward_macs(parts, _forward, (3, 32, 32), 1)
    assert torch.equal(torch.get_rng_state(), rng_before)
    assert parts.training and all(m.training for m in parts.modules())
    conv = 16 * 16 * 64 * 27 + 8 * 8 * 128 * 64 * 9
    assert macs16 == conv + 128 * 2
    # the convolutions scale with the pixels, the head does not
    assert macs32 == 4 * conv + 128 * 2
    assert forward_macs(parts, _forward, (3, 16, 16), 64) == 64 * macs16


# ----------------------------------------------------------------------------- the choice
def test_auto_one_thread_for_tiny_mlp(many_cores):
    parts = nn.ModuleDict({"features": MLP(2, (64, 64)), "classifier": nn.Linear(64, 2)})
    macs = forward_macs(parts, _forward, (2,), 64)
    assert macs < AUTO_THREADS_MIN_MACS
    assert resolve_threads("auto", CPU, lambda: macs) == 1


def test_auto_many_threads_for_big_conv_net(many_cores):
    parts = nn.ModuleDict({"features": _conv_net(), "classifier": nn.Linear(128, 10)})
    macs = forward_macs(parts, _forward, (3, 128, 128), 64)
    assert macs >= AUTO_THREADS_MIN_MACS
    # torch's count (8) capped at the available cores (4)
    assert resolve_threads("auto", CPU, lambda: macs) == 4


def test_auto_never_more_than_torch_count_or_cores(monkeypatch):
    big = lambda: AUTO_THREADS_MIN_MACS  # noqa: E731
    monkeypatch.setattr(settings, "available_cores", lambda: 16)
    monkeypatch.setattr(settings.torch, "get_num_threads", lambda: 3)
    assert resolve_threads("auto", CPU, big) == 3
    monkeypatch.setattr(settings, "available_cores", lambda: 1)
    assert resolve_threads("auto", CPU, big) == 1


def test_auto_leaves_cuda_alone():
    def never() -> int:
        raise AssertionError("no estimate on CUDA")

    assert resolve_threads("auto", torch.device("cuda"), never) is None
    assert resolve_threads(None, CPU, never) is None
    assert resolve_threads(3, CPU, never) == 3


def test_available_cores_affinity_and_torchrun(monkeypatch):
    import os

    cores = len(os.sched_getaffinity(0))
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    assert available_cores() == cores
    monkeypatch.setenv("LOCAL_WORLD_SIZE", str(2 * cores))
    assert available_cores() == 1


# ----------------------------------------------------------------------------- through fit
def test_default_is_auto_and_fit_uses_one_thread_for_small_model(caller_threads):
    Xs, ys, Xt = _data()
    model = DANN(**FAST)
    assert model.get_params()["n_threads"] == "auto"
    model.fit((Xs, ys), Xt)
    assert model.n_threads_ == 1
    assert torch.get_num_threads() == caller_threads


def test_fit_with_big_work_uses_the_available_cores(monkeypatch, caller_threads):
    # the threshold lowered below this small model's work: the "big" branch, for real
    monkeypatch.setattr(settings, "AUTO_THREADS_MIN_MACS", 1)
    monkeypatch.setattr(settings, "available_cores", lambda: 2)
    Xs, ys, Xt = _data()
    model = DeepAdapter(**FAST).fit((Xs, ys), Xt)
    assert model.n_threads_ == min(caller_threads, 2)
    assert torch.get_num_threads() == caller_threads


@pytest.mark.parametrize("n_threads", [1, None])
def test_int_and_none_kept(n_threads, caller_threads):
    Xs, ys, Xt = _data()
    model = DeepAdapter(n_threads=n_threads, **FAST).fit((Xs, ys), Xt)
    assert model.n_threads_ == (caller_threads if n_threads is None else n_threads)
    assert torch.get_num_threads() == caller_threads


class _Boom(Callback):
    def on_step_end(self, trainer, logs):
        raise RuntimeError("boom")


@pytest.mark.parametrize("n_threads", ["auto", 1])
def test_thread_count_restored_when_fit_fails(n_threads, caller_threads):
    Xs, ys, Xt = _data()
    with pytest.raises(RuntimeError, match="boom"):
        DeepAdapter(n_threads=n_threads, callbacks=[_Boom()], **FAST).fit((Xs, ys), Xt)
    assert torch.get_num_threads() == caller_threads


def test_same_result_whatever_the_setting_on_one_core_choice():
    # "auto" resolving to 1 thread trains exactly like n_threads=1
    Xs, ys, Xt = _data()
    a = DANN(**FAST).fit((Xs, ys), Xt)
    b = DANN(**{**FAST, "n_threads": 1}).fit((Xs, ys), Xt)
    assert a.n_threads_ == 1
    np.testing.assert_array_equal(a.predict_proba(Xt), b.predict_proba(Xt))


@pytest.mark.parametrize("bad", [0, -1, "many", 1.5, True])
def test_bad_n_threads_rejected(bad):
    Xs, ys, Xt = _data()
    with pytest.raises(InvalidParameterError, match="n_threads"):
        DeepAdapter(n_threads=bad, **FAST).fit((Xs, ys), Xt)
