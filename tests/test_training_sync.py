"""No deep method's training step makes the host wait for the device (issue #11).

A host synchronisation inside a step (``.item()``, ``float(t)``, a Python ``if`` on a
tensor, a boolean-mask gather, whose length the device must count) stalls every step on
a GPU. Every registered deep strategy is run for a few epochs:

* on CPU, with the tensor-to-Python conversions and the data-dependent-shape operations
  made to raise inside the engine's step (the optimiser's own bookkeeping excepted: its
  step counters live on the host even when training on a GPU), and the value checks
  that are on by default on CPU switched off, as they are on accelerators;
* on CUDA (``-m cuda``), under ``torch.cuda.set_sync_debug_mode("error")`` around every
  step after the first two, which catches every synchronisation, whatever its origin.

Both with an unlabelled target and with a partly labelled one plus source weights (the
semi-supervised paths gather the labelled rows). The strategies come from the registry,
so a new one is checked without editing this file.
"""

from __future__ import annotations

import importlib
import pkgutil
import warnings

import numpy as np
import pytest
import torch

import domainadapt
from domainadapt.registry import get_adapters
from domainadapt.training import DeepAdapter
from domainadapt.training.hooks import TrainHooks

_CONVERSIONS = ("__bool__", "__float__", "__int__", "__index__", "item", "tolist", "numpy", "cpu")
_DATA_DEPENDENT = ("nonzero", "argwhere", "masked_select", "unique", "bincount", "multinomial")


def _deep_entries():
    return [e for e in get_adapters() if isinstance(e.make_for_tests(), DeepAdapter)]


def _data(partial: bool):
    rng = np.random.default_rng(0)
    Xs = rng.normal(size=(96, 4)).astype(np.float32)
    ys = (Xs[:, 0] > 0).astype(int) + (Xs[:, 1] > 0)
    Xt = rng.normal(size=(96, 4)).astype(np.float32) + 0.5
    target = Xt
    fit_params = {}
    if partial:
        yt = (Xt[:, 0] > 0.5).astype(int) + (Xt[:, 1] > 0.5)
        target = (Xt, np.where(np.arange(len(Xt)) % 4 == 0, yt, -1))
        fit_params["sample_weight"] = rng.uniform(0.5, 2.0, len(Xs))
    return (Xs, ys), target, fit_params


def _fit(entry, partial: bool, **params):
    adapter = entry.make_for_tests(random_state=0)
    known = adapter.get_params(deep=False)
    settings = dict(n_epochs=3, progress=False, n_threads=1, max_grad_norm=5.0, **params)
    adapter.set_params(**{k: v for k, v in settings.items() if k in known})
    source, target, fit_params = _data(partial)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. CAN's "the CDD stayed 0" on this tiny fit
        adapter.fit(source, target, **fit_params)
    return adapter


class _StepGuard:
    """Makes host syncs raise while ``active`` (set only inside the engine's step)."""

    def __init__(self, monkeypatch):
        self.active = False
        self.steps = 0
        self.mp = monkeypatch

    def _wrap(self, owner, name, describe):
        original = getattr(owner, name)
        guard = self

        def wrapper(*args, **kwargs):
            if guard.active and describe(*args, **kwargs):
                raise AssertionError(f"host sync inside a training step: {name}")
            return original(*args, **kwargs)

        self.mp.setattr(owner, name, wrapper)

    def install(self) -> None:
        always = lambda *a, **k: True  # noqa: E731

        for name in _CONVERSIONS:
            self._wrap(torch.Tensor, name, always)
        for name in _DATA_DEPENDENT:
            for owner in (torch, torch.Tensor):
                if hasattr(owner, name):
                    self._wrap(owner, name, always)

        def boolean(index) -> bool:
            items = index if isinstance(index, tuple) else (index,)
            return any(isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in items)

        self._wrap(torch.Tensor, "__getitem__", lambda t, index: boolean(index))
        # x[mask] = scalar is a masked fill (no sync); x[mask] = tensor gathers
        self._wrap(
            torch.Tensor,
            "__setitem__",
            lambda t, index, value: boolean(index)
            and isinstance(value, torch.Tensor)
            and value.numel() > 1,
        )
        # the CPU-only shortcuts off, as on accelerators: value checks (on by default on
        # CPU) and host reads taken because they are free there
        def accelerator_default(t, check_finite):
            return False if check_finite is None else bool(check_finite)

        for info in pkgutil.walk_packages(domainadapt.__path__, "domainadapt."):
            module = importlib.import_module(info.name)
            if callable(getattr(module, "want_value_checks", None)):
                self.mp.setattr(module, "want_value_checks", accelerator_default)
            if callable(getattr(module, "host_reads_are_free", None)):
                self.mp.setattr(module, "host_reads_are_free", lambda t: False)

        run_step = TrainHooks.run_step
        guard = self

        def guarded_step(hooks, *args, **kwargs):
            guard.steps += 1
            guard.active = True
            try:
                return run_step(hooks, *args, **kwargs)
            finally:
                guard.active = False

        self.mp.setattr(TrainHooks, "run_step", guarded_step)
        for cls in (torch.optim.SGD, torch.optim.Adam, torch.optim.AdamW):
            self.mp.setattr(cls, "step", self._host_side(cls.step))

    def _host_side(self, step):
        guard = self

        def wrapper(*args, **kwargs):
            was, guard.active = guard.active, False
            try:
                return step(*args, **kwargs)
            finally:
                guard.active = was

        return wrapper


@pytest.fixture
def step_guard(monkeypatch):
    guard = _StepGuard(monkeypatch)
    guard.install()
    return guard


def test_the_guard_catches_the_syncs_it_claims(step_guard):
    """A step that reads a loss, branches on a tensor or gathers by a mask fails."""
    x = torch.randn(8, 3)
    step_guard.active = True
    try:
        for sync in (
            lambda: x.sum().item(),
            lambda: float(x.sum()),
            lambda: bool(x.sum() > 0),
            lambda: x[x[:, 0] > 0],
            lambda: x.nonzero(),
            lambda: torch.unique(x),
        ):
            with pytest.raises(AssertionError, match="host sync"):
                sync()
        x.index_select(0, torch.tensor([0, 2]))  # what the engine does instead
        x[x > 0] = 0.0  # a masked fill
    finally:
        step_guard.active = False
    assert float(x.sum()) == float(x.sum())  # outside a step: allowed


@pytest.mark.parametrize("partial", [False, True], ids=["unlabelled", "semi-supervised"])
@pytest.mark.parametrize("entry", _deep_entries(), ids=lambda e: e.name)
def test_deep_steps_never_read_the_device(step_guard, entry, partial):
    _fit(entry, partial)
    assert step_guard.steps >= 3  # at least one step per epoch ran guarded


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("partial", [False, True], ids=["unlabelled", "semi-supervised"])
@pytest.mark.parametrize("entry", _deep_entries(), ids=lambda e: e.name)
def test_cuda_deep_steps_never_synchronise(monkeypatch, entry, partial):
    """Every step after the first two (kernel compilation, allocator warm-up) runs under
    ``set_sync_debug_mode("error")``."""
    run_step = TrainHooks.run_step
    seen = {"steps": 0, "checked": 0}

    def checked_step(hooks, *args, **kwargs):
        seen["steps"] += 1
        if seen["steps"] <= 2:
            return run_step(hooks, *args, **kwargs)
        previous = torch.cuda.get_sync_debug_mode()
        torch.cuda.set_sync_debug_mode("error")
        try:
            out = run_step(hooks, *args, **kwargs)
        except RuntimeError as exc:
            raise AssertionError(f"{entry.name}, step {seen['steps']}: {exc}") from exc
        finally:
            torch.cuda.set_sync_debug_mode(previous)
        seen["checked"] += 1
        return out

    monkeypatch.setattr(TrainHooks, "run_step", checked_step)
    adapter = _fit(entry, partial, device="cuda")
    assert next(adapter.parts_.parameters()).is_cuda
    assert seen["checked"] > 0


# ----------------------------------------------------------------------------------------
# The sync-free forms compute what the gathers they replace computed.
@pytest.mark.parametrize("host_reads", [True, False], ids=["cpu-gather", "device-sort"])
@pytest.mark.parametrize("method", ["median", "mean"])
@pytest.mark.parametrize("n_kept", [0, 1, 2, 7, 30])
def test_masked_bandwidth_equals_the_heuristic_on_the_kept_rows(
    monkeypatch, method, n_kept, host_reads
):
    from domainadapt.ops import bandwidth_heuristic
    from domainadapt.ops import kernels as kernels_module

    monkeypatch.setattr(kernels_module, "host_reads_are_free", lambda t: host_reads)

    g = torch.Generator().manual_seed(n_kept)
    Z = torch.randn(40, 3, generator=g, dtype=torch.float64) * torch.tensor([1.0, 2.0, 0.5])
    mask = torch.zeros(40, dtype=torch.bool)
    mask[torch.randperm(40, generator=g)[:n_kept]] = True
    got = bandwidth_heuristic(Z[:25], Z[25:], method=method, mask=mask)
    if n_kept < 2:
        assert float(got) == 1.0
    else:
        ref = bandwidth_heuristic(Z[mask], method=method)
        assert float(got) == pytest.approx(float(ref), rel=1e-12)
    # every row selected: the plain heuristic
    full = bandwidth_heuristic(Z, method=method, mask=torch.ones(40, dtype=torch.bool))
    assert float(full) == pytest.approx(float(bandwidth_heuristic(Z, method=method)), rel=1e-12)
    with pytest.raises(ValueError, match="one entry per pooled row"):
        bandwidth_heuristic(Z, mask=mask[:10])


def test_cdd_with_zero_weight_rows_equals_the_cdd_of_the_kept_rows():
    """CAN's step: dropped rows weigh 0 and the bandwidth comes from the kept rows."""
    from domainadapt.ops import bandwidth_heuristic
    from domainadapt.ops.relation_losses import contrastive_domain_discrepancy

    g = torch.Generator().manual_seed(3)
    H = torch.randn(50, 6, generator=g, dtype=torch.float64, requires_grad=True)
    ys, yt = torch.arange(30) % 3, torch.randint(0, 3, (20,), generator=g)
    keep_s, keep_t = torch.rand(30, generator=g) < 0.7, torch.rand(20, generator=g) < 0.6
    keep = torch.cat([keep_s, keep_t])
    sigma = bandwidth_heuristic(H.detach(), mask=keep)
    weighted = contrastive_domain_discrepancy(
        H[:30],
        H[30:],
        torch.nn.functional.one_hot(ys, 3) * keep_s[:, None],
        torch.nn.functional.one_hot(yt, 3) * keep_t[:, None],
        3,
        bandwidth=sigma,
    )
    gathered = contrastive_domain_discrepancy(
        H[:30][keep_s], H[30:][keep_t], ys[keep_s], yt[keep_t], 3
    )
    assert float(weighted.detach()) == pytest.approx(float(gathered.detach()), rel=1e-10)
    (g_w,) = torch.autograd.grad(weighted, H)
    (g_g,) = torch.autograd.grad(gathered, H)
    torch.testing.assert_close(g_w, g_g, rtol=1e-9, atol=1e-12)


def test_rkd_distance_loss_equals_its_gather_definition():
    from domainadapt.ops.relation_losses import rkd_distance_loss

    g = torch.Generator().manual_seed(0)
    S = torch.randn(9, 4, generator=g, dtype=torch.float64, requires_grad=True)
    T = torch.randn(9, 7, generator=g, dtype=torch.float64)
    S2 = torch.cat([S, S[:1]])  # a duplicated row: a zero distance off the diagonal
    T2 = torch.cat([T, T[:1]])

    def reference(s, t):  # the off-diagonal pairs gathered; squared distances >= 1e-12
        off = ~torch.eye(s.shape[0], dtype=torch.bool)

        def dist(z):
            return ((z[:, None] - z[None]) ** 2).sum(-1)[off].clamp_min(1e-12).sqrt()

        ds, dt = dist(s), dist(t)
        return torch.nn.functional.smooth_l1_loss(ds / ds.mean(), dt / dt.mean())

    for s, t in ((S, T), (S2, T2)):
        got, ref = rkd_distance_loss(s, t), reference(s, t)
        assert float(got.detach()) == pytest.approx(float(ref.detach()), rel=1e-12)
    got, ref = rkd_distance_loss(S, T), reference(S, T)
    torch.testing.assert_close(
        torch.autograd.grad(got, S)[0], torch.autograd.grad(ref, S)[0], rtol=1e-8, atol=1e-12
    )
    assert torch.isfinite(torch.autograd.grad(rkd_distance_loss(S2, T2), S)[0]).all()


def test_tent_momentum_from_the_host_step_is_torchs_cumulative_average():
    from domainadapt.model import TENT

    g = torch.Generator().manual_seed(0)
    batches = [torch.randn(16, 5, generator=g) * (k + 1) + k for k in range(6)]
    torch_average, host = torch.nn.BatchNorm1d(5, momentum=None), torch.nn.BatchNorm1d(5)
    for step, x in enumerate(batches):
        torch_average(x)
        TENT._cumulative_momentum([host], step)
        host(x)
    assert torch.equal(host.running_mean, torch_average.running_mean)
    assert torch.equal(host.running_var, torch_average.running_var)
    TENT._cumulative_momentum([host], None)
    assert host.momentum is None


def test_mme_entropy_over_weighted_rows_equals_the_gathered_rows():
    from domainadapt.model.mme import MME, CosineClassifier

    g = torch.Generator().manual_seed(1)
    torch.manual_seed(0)
    parts = torch.nn.ModuleDict({"classifier": CosineClassifier(6, 3, 0.05)})
    f = torch.randn(10, 6, generator=g, requires_grad=True)
    unlabelled = torch.tensor([1, 0, 1, 1, 0, 0, 1, 1, 1, 0], dtype=torch.bool)
    weighted = MME.adversarial_entropy(parts, f, unlabelled.float())
    gathered = MME.adversarial_entropy(parts, f[unlabelled])
    torch.testing.assert_close(weighted, gathered)
    torch.testing.assert_close(
        torch.autograd.grad(weighted, f)[0], torch.autograd.grad(gathered, f)[0]
    )


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_progress_bar_shows_running_losses_without_synchronising(monkeypatch):
    """The bar's refresh (every 10 steps) runs under ``set_sync_debug_mode("error")``
    and still shows the running losses, one refresh late."""
    import tqdm.std

    from domainadapt.model import DANN
    from domainadapt.training.engine import Trainer

    refresh, shown = Trainer._refresh_bar, []

    def checked_refresh(trainer, bar):
        if trainer.step <= 10:  # warm-up: pinned buffers, events
            return refresh(trainer, bar)
        previous = torch.cuda.get_sync_debug_mode()
        torch.cuda.set_sync_debug_mode("error")
        try:
            return refresh(trainer, bar)
        finally:
            torch.cuda.set_sync_debug_mode(previous)

    postfix = tqdm.std.tqdm.set_postfix
    monkeypatch.setattr(Trainer, "_refresh_bar", checked_refresh)
    monkeypatch.setattr(
        tqdm.std.tqdm, "set_postfix", lambda bar, *a, **k: (shown.append(a), postfix(bar, *a, **k))
    )
    source, target, _ = _data(partial=False)
    model = DANN(device="cuda", progress=True, n_epochs=20, batch_size=16, random_state=0)
    model.fit(source, target)
    assert shown and all("loss" in a[0] for a in shown)


@pytest.mark.parametrize("checkpoint_steps", [0, 30])
def test_lagged_progress_bar_shows_the_previous_refresh_exact_means(
    monkeypatch, tmp_path, checkpoint_steps
):
    """The CUDA bar's logic, run on CPU: each refresh shows the running means as they
    were at the refresh before (checkpoints fold the step values to the host meanwhile)."""
    import tqdm.std

    from domainadapt.model import DANN
    from domainadapt.training.callbacks import Checkpoint
    from domainadapt.training.engine import Trainer

    exact, shown = [], []

    def lagged(trainer, bar):
        n = trainer.step_in_epoch
        sums = {k: float(v.sum()) for k, v in trainer._log_vectors.items()}
        for k, vals in trainer._step_logs.items():
            sums[k] = sums.get(k, 0.0) + sum(float(v) for v in vals)
        exact.append((trainer.epoch, trainer._folds, {k: f"{v / n:.4g}" for k, v in sums.items()}))
        shown.append(None)
        Trainer._refresh_bar_lagged(trainer, bar)

    def record(bar, ordered_dict=None, **kwargs):
        shown[-1] = dict(ordered_dict)

    monkeypatch.setattr(Trainer, "_refresh_bar", lagged)
    monkeypatch.setattr(tqdm.std.tqdm, "set_postfix", record)
    callbacks = [Checkpoint(tmp_path, every_n_steps=checkpoint_steps)] if checkpoint_steps else []
    source, target, _ = _data(partial=False)
    DANN(progress=True, n_epochs=4, batch_size=4, n_threads=1, random_state=0,
         callbacks=callbacks).fit(source, target)
    assert len(shown) >= 8
    compared = 0
    for i in range(1, len(shown)):
        same_run = exact[i][:2] == exact[i - 1][:2]  # same epoch, no fold in between
        if same_run:
            assert shown[i] == exact[i - 1][2]
            compared += 1
        else:
            assert shown[i] is None  # a new epoch or a fold: nothing pending to show
    assert compared >= 4
