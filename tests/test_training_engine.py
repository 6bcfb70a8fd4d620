"""The training engine shared by the deep strategies (domainadapt.training)."""

from __future__ import annotations

import pickle
from functools import partial

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from domainadapt import Domain
from domainadapt.datasets import make_rotated_moons
from domainadapt.model import DANN, SourceOnly
from domainadapt.model.deep import DeepAdapter
from domainadapt.training import Callback, EarlyStopping, LeNet, load_checkpoint, lr_factor
from domainadapt.training.data import Batch

FAST = dict(n_threads=1, progress=False, hidden_sizes=(16,), batch_size=32)


@pytest.fixture(scope="module")
def moons():
    s, t = make_rotated_moons(160, 120, angle=30, random_state=0)
    return s.X, s.y, t.X, t.y


def _weights(adapter):
    return [v.clone() for v in adapter.parts_.state_dict().values()]


def _same(a, b) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b))


class _StopAt(Callback):
    """Simulates an interruption (Ctrl-C) after ``epoch`` epochs or ``step`` steps."""

    def __init__(self, epoch=None, step=None):
        self.epoch, self.step = epoch, step

    def on_step_end(self, trainer, logs):
        if self.step is not None and trainer.step == self.step:
            raise KeyboardInterrupt

    def on_epoch_end(self, trainer, record):
        if self.epoch is not None and record["epoch"] == self.epoch:
            raise KeyboardInterrupt


class _CountSteps(Callback):
    def __init__(self):
        self.started = False
        self.steps = 0

    def on_fit_start(self, trainer):
        self.started = True

    def on_step_end(self, trainer, logs):
        self.steps += 1


# --------------------------------------------------------------------------- determinism
def test_deterministic_and_global_rng_untouched(moons):
    Xs, ys, Xt, _ = moons
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a = DANN(random_state=4, n_epochs=3, dropout=0.2, **FAST).fit((Xs, ys), Xt)
    assert torch.equal(torch.get_rng_state(), before), "fit must not move the global torch RNG"
    b = DANN(random_state=4, n_epochs=3, dropout=0.2, **FAST).fit((Xs, ys), Xt)
    c = DANN(random_state=5, n_epochs=3, dropout=0.2, **FAST).fit((Xs, ys), Xt)
    assert _same(_weights(a), _weights(b))
    assert not _same(_weights(a), _weights(c))
    assert torch.get_num_threads() == torch.get_num_threads()  # n_threads restored (no error)


def test_history_records_and_auto_epochs(moons):
    Xs, ys, Xt, _ = moons
    m = DANN(random_state=0, n_epochs=4, lr_schedule="inverse", lr=0.01, **FAST).fit((Xs, ys), Xt)
    assert [r["epoch"] for r in m.history_] == [1, 2, 3, 4]
    spe = len(Xs) // 32
    assert m.n_iter_ == 4 * spe and m.history_[-1]["step"] == 4 * spe
    for key in ("loss", "classification", "domain", "domain_acc", "lr", "time"):
        assert all(np.isfinite(r[key]) for r in m.history_), key
    # the lr of each record is the lr of the epoch's last step: eta0 (1 + 10 p)^-0.75
    for r in m.history_:
        p = (r["step"] - 1) / m.n_iter_
        assert r["lr"] == pytest.approx(0.01 * lr_factor("inverse", p))
    auto = SourceOnly(random_state=0, **FAST).fit((Xs, ys), Xt)
    assert auto.n_epochs_ == 120  # ceil(600 / 5 steps per epoch), within [5, 200]


# --------------------------------------------------------------------------- checkpoints
@pytest.mark.parametrize("stop", [dict(epoch=2), dict(step=8)], ids=["epoch-end", "mid-epoch"])
def test_resume_after_interrupt_is_bitwise_identical(moons, tmp_path, stop):
    Xs, ys, Xt, _ = moons
    kw = dict(random_state=0, n_epochs=4, dropout=0.1, **FAST)
    ref = DANN(**kw).fit((Xs, ys), Xt)
    with pytest.raises(KeyboardInterrupt):
        DANN(**kw, callbacks=[_StopAt(**stop)], checkpoint_dir=tmp_path).fit((Xs, ys), Xt)
    state = torch.load(tmp_path / "last.pt", weights_only=True)  # plain tensors/containers
    assert state["step"] == (2 * (len(Xs) // 32) if "epoch" in stop else 8)
    resumed = DANN(**kw, checkpoint_dir=tmp_path, resume=True).fit((Xs, ys), Xt)
    assert _same(_weights(ref), _weights(resumed))
    assert [r["loss"] for r in resumed.history_] == [r["loss"] for r in ref.history_]
    np.testing.assert_array_equal(resumed.predict_proba(Xt), ref.predict_proba(Xt))


def test_periodic_checkpoint_contents(moons, tmp_path):
    Xs, ys, Xt, _ = moons
    DANN(random_state=0, n_epochs=2, checkpoint_dir=tmp_path, checkpoint_every=3, **FAST).fit(
        (Xs, ys), Xt
    )
    state = load_checkpoint(tmp_path / "last.pt")
    assert set(state["parts"]) == {"features", "classifier", "discriminator"}
    assert state["epoch"] == 2 and state["reversal"]["step_count"] == state["step"]
    assert "main" in state["optimizers"] and isinstance(state["torch_rng"], torch.Tensor)
    # a finished run resumed does not train further
    again = DANN(random_state=0, n_epochs=2, checkpoint_dir=tmp_path, resume="auto", **FAST).fit(
        (Xs, ys), Xt
    )
    assert again.n_iter_ == state["step"]


def test_resume_errors(moons, tmp_path):
    Xs, ys, Xt, _ = moons
    with pytest.raises(ValueError, match="no checkpoint"):
        SourceOnly(n_epochs=1, checkpoint_dir=tmp_path, resume=True, **FAST).fit((Xs, ys), Xt)
    with pytest.raises(ValueError, match="resume needs checkpoint_dir"):
        SourceOnly(n_epochs=1, resume=True, **FAST).fit((Xs, ys), Xt)
    SourceOnly(n_epochs=2, checkpoint_dir=tmp_path, **FAST).fit((Xs, ys), Xt)
    with pytest.raises(ValueError, match="does not match this run: max_steps"):
        SourceOnly(n_epochs=3, checkpoint_dir=tmp_path, resume=True, **FAST).fit((Xs, ys), Xt)


# --------------------------------------------------------------------------- save / pickle
def test_save_load_weights_only_and_pickle(moons, tmp_path):
    Xs, ys, Xt, _ = moons
    m = DANN(random_state=0, n_epochs=2, **FAST).fit((Xs, ys), Xt)
    path = tmp_path / "model.pt"
    m.save(path)
    torch.load(path, weights_only=True)  # never needs weights_only=False
    loaded = DeepAdapter.load(path)
    assert type(loaded) is DANN and loaded.get_params()["hidden_sizes"] == (16,)
    np.testing.assert_array_equal(loaded.predict_proba(Xt), m.predict_proba(Xt))
    restored = pickle.loads(pickle.dumps(m))
    np.testing.assert_array_equal(restored.predict_proba(Xt), m.predict_proba(Xt))
    with pytest.raises(TypeError, match="holds a DANN, not a SourceOnly"):
        SourceOnly.load(path)


def test_custom_network_images_and_load(tmp_path):
    rng = np.random.default_rng(0)
    Xs = rng.normal(size=(40, 1, 12, 12)).astype(np.float32)
    ys = rng.integers(0, 3, 40)
    Xt = rng.normal(size=(30, 1, 12, 12)).astype(np.float32) + 0.3
    m = SourceOnly(network=LeNet(out_features=32), n_epochs=1, random_state=0, **FAST).fit(
        (Xs, ys), Xt
    )
    assert m.predict_proba(Xt).shape == (30, 3)
    assert m.transform(Xt).shape == (30, 32)
    np.testing.assert_array_equal(m.predict(Xt.reshape(30, -1)), m.predict(Xt))  # flat rows
    m.save(tmp_path / "lenet.pt")
    with pytest.raises(ValueError, match="custom network"):
        SourceOnly.load(tmp_path / "lenet.pt")
    back = SourceOnly.load(tmp_path / "lenet.pt", network=LeNet(out_features=32))
    np.testing.assert_array_equal(back.predict_proba(Xt), m.predict_proba(Xt))
    # a network factory is built under random_state: same seed, same initial weights
    factory = partial(LeNet, out_features=8)
    a, b = (
        SourceOnly(network=factory, n_epochs=1, random_state=5, **FAST).fit((Xs, ys), Xt)
        for _ in range(2)
    )
    np.testing.assert_array_equal(a.predict_proba(Xt), b.predict_proba(Xt))


def test_clone_keeps_subclass_and_base_params():
    m = DANN(trade_off=0.5, lr=0.01, hidden_sizes=(8,), random_state=3)
    params = m.get_params()
    assert params["trade_off"] == 0.5 and params["lr"] == 0.01 and "network" in params
    c = clone(m)
    assert type(c) is DANN and c.get_params() == params
    with pytest.raises(TypeError):
        DANN(not_a_param=1)


# --------------------------------------------------------------------------- data inputs
def test_dataset_inputs_match_arrays(moons):
    Xs, ys, Xt, _ = moons
    kw = dict(random_state=1, n_epochs=3, **FAST)
    ref = DANN(**kw).fit((Xs, ys), Xt)
    ds_s = TensorDataset(torch.tensor(Xs, dtype=torch.float32), torch.tensor(ys))
    ds_t = TensorDataset(torch.tensor(Xt, dtype=torch.float32))
    by_ds = DANN(**kw).fit(ds_s, ds_t)
    np.testing.assert_array_equal(by_ds.predict_proba(Xt), ref.predict_proba(Xt))
    np.testing.assert_array_equal(by_ds.predict_proba(ds_t), ref.predict_proba(Xt))
    mixed = DANN(**kw).fit(ds_s, Xt)
    np.testing.assert_array_equal(mixed.predict_proba(Xt), ref.predict_proba(Xt))


def test_dataloader_inputs_train(moons):
    Xs, ys, Xt, yt = moons
    ds_s = TensorDataset(torch.tensor(Xs, dtype=torch.float32), torch.tensor(ys))
    ds_t = TensorDataset(torch.tensor(Xt, dtype=torch.float32))
    g = torch.Generator().manual_seed(0)
    m = SourceOnly(random_state=0, n_epochs=30, **FAST).fit(
        DataLoader(ds_s, batch_size=32, shuffle=True, generator=g), DataLoader(ds_t, batch_size=50)
    )
    assert m.n_iter_ == 30 * 5 and m.n_classes_ == 2
    assert m.score(Xt, yt) > 0.75


def test_bad_inputs_fail_before_training(moons):
    Xs, ys, Xt, _ = moons
    counter = _CountSteps()
    # network that cannot take the features
    net = nn.Sequential(nn.Linear(5, 4), nn.ReLU())
    with pytest.raises(ValueError, match=r"network cannot process inputs of shape \(2,\)"):
        SourceOnly(network=net, callbacks=[counter], **FAST).fit((Xs, ys), Xt)
    # labels outside the head's range
    ds_s = TensorDataset(torch.tensor(Xs, dtype=torch.float32), torch.tensor(ys) + 1)  # {1, 2}
    with pytest.raises(ValueError, match=r"source labels must be class indices in \[0, 2\)"):
        SourceOnly(n_classes=2, callbacks=[counter], **FAST).fit(ds_s, Xt)
    # empty target
    empty = TensorDataset(torch.zeros(0, 2))
    with pytest.raises(ValueError, match="target DataLoader is empty"):
        SourceOnly(callbacks=[counter], **FAST).fit(
            TensorDataset(torch.tensor(Xs), torch.tensor(ys)), DataLoader(empty, batch_size=4)
        )
    with pytest.raises(ValueError, match="target Dataset is empty"):
        SourceOnly(callbacks=[counter], **FAST).fit((Xs, ys), empty)
    with pytest.raises(ValueError, match="different feature shapes"):
        SourceOnly(**FAST).fit((Xs, ys), TensorDataset(torch.zeros(5, 3)))
    assert counter.steps == 0 and not counter.started
    with pytest.raises(ValueError, match="classifier: source y must be class labels"):
        SourceOnly(**FAST).fit((Xs, ys + 0.5), Xt)
    with pytest.raises(ValueError, match=r"'optimizer' parameter of SourceOnly must be a str among .* Got 'lbfgs' "):
        SourceOnly(optimizer="lbfgs", **FAST).fit((Xs, ys), Xt)
    with pytest.raises(ValueError, match=r"'batch_size' parameter of SourceOnly must be an int in the range \[1, inf\)\. Got 0 "):
        SourceOnly(n_threads=1, batch_size=0).fit((Xs, ys), Xt)


# --------------------------------------------------------------------------- weights
def test_classification_loss_is_the_weighted_mean():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 3, generator=g)
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    w = torch.tensor([0.0, 1.0, 2.0, 0.5, 1.5, 1.0])
    batch = Batch(torch.zeros(6, 2), y, w, torch.zeros(4, 2))
    ce = torch.nn.functional.cross_entropy(logits, y, reduction="none")
    torch.testing.assert_close(DeepAdapter.classification_loss(logits, batch), (w * ce).mean())
    # labelled target rows join the mean with weight 1
    lt = torch.randn(4, 3, generator=g)
    yt = torch.tensor([2, -1, 0, -1])
    batch = Batch(torch.zeros(6, 2), y, w, torch.zeros(4, 2), yt, yt >= 0)
    ce_t = torch.nn.functional.cross_entropy(lt[yt >= 0], yt[yt >= 0], reduction="sum")
    torch.testing.assert_close(
        DeepAdapter.classification_loss(logits, batch, lt), ((w * ce).sum() + ce_t) / 8
    )


def test_instance_weights_steer_the_source_loss(moons):
    Xs, ys, Xt, _ = moons
    kw = dict(random_state=0, n_epochs=20, lr=0.01, **FAST)
    w = np.where(ys == 1, 0.0, 1.0)
    w[np.flatnonzero(ys == 1)[:2]] = 1e-3  # class 1 nearly ignored
    weighted = SourceOnly(**kw).fit((Xs, ys), Xt, sample_weight=w)
    plain = SourceOnly(**kw).fit((Xs, ys), Xt)
    p1_w = weighted.predict_proba(Xs[ys == 1])[:, 1].mean()
    p1 = plain.predict_proba(Xs[ys == 1])[:, 1].mean()
    assert p1 > 0.8 and p1_w < 0.3
    # the fit parameter and Domain.sample_weight are the same thing (also in the stacked form)
    via_domain = SourceOnly(**kw).fit(Domain(Xs, ys, sample_weight=w), Xt)
    np.testing.assert_array_equal(via_domain.predict_proba(Xt), weighted.predict_proba(Xt))
    X = np.concatenate([Xs, Xt])
    y = np.concatenate([ys, np.zeros(len(Xt), int)])
    sd = np.array(["source"] * len(Xs) + ["target"] * len(Xt))
    stacked = SourceOnly(**kw).fit(X, y, sample_domain=sd, sample_weight=np.r_[w, np.ones(len(Xt))])
    np.testing.assert_array_equal(stacked.predict_proba(Xt), weighted.predict_proba(Xt))


# --------------------------------------------------------------------------- callbacks
def test_early_stopping_restores_the_best_epoch(moons):
    Xs, ys, Xt, _ = moons
    kw = dict(random_state=0, **FAST)
    worse = EarlyStopping(monitor=lambda trainer: float(trainer.epoch), patience=2)
    m = SourceOnly(n_epochs=10, callbacks=[worse], **kw).fit((Xs, ys), Xt)
    assert len(m.history_) == 3 and m.callbacks_[0].stopped_epoch == 3
    assert m.callbacks_[0].best_epoch == 1 and worse.stopped_epoch is None  # param untouched
    # restored weights: those after epoch 1 (the schedule-free run is identical up to there)
    one = SourceOnly(n_epochs=10, callbacks=[_StopAfterOne()], **kw).fit((Xs, ys), Xt)
    assert _same(_weights(m), _weights(one))
    ent = SourceOnly(n_epochs=3, callbacks=[EarlyStopping(patience=5)], **kw).fit((Xs, ys), Xt)
    assert all(0 <= r["target_entropy"] <= np.log(2) for r in ent.history_)
    # held-out source rows: 25 % of 160 leave 120 training rows, 3 steps of 32 per epoch
    val = EarlyStopping("source_val_loss", patience=50, validation_fraction=0.25)
    held = SourceOnly(n_epochs=2, callbacks=[val], **kw).fit((Xs, ys), Xt)
    assert held.n_iter_ == 2 * (120 // 32)
    assert all(r["source_val_loss"] > 0 for r in held.history_)
    with pytest.raises(ValueError, match="needs validation_fraction > 0"):
        EarlyStopping("source_val_loss")


class _StopAfterOne(Callback):
    def on_epoch_end(self, trainer, record):
        trainer.stop_training = True


# --------------------------------------------------------------------------- devices
def test_device_auto_mixed_precision_and_estimator(moons):
    Xs, ys, Xt, yt = moons
    m = SourceOnly(device="auto", n_epochs=2, random_state=0, **FAST).fit((Xs, ys), Xt)
    expect = "cuda" if torch.cuda.is_available() else "cpu"
    assert next(m.parts_.parameters()).device.type == expect
    bf = SourceOnly(mixed_precision=True, device="cpu", n_epochs=30, random_state=0, **FAST)
    assert bf.fit((Xs, ys), Xt).score(Xt, yt) > 0.7
    est = DANN(estimator=LogisticRegression(), n_epochs=3, random_state=0, **FAST).fit((Xs, ys), Xt)
    np.testing.assert_array_equal(est.predict(Xt), est.estimator_.predict(est.transform(Xt)))
    with pytest.raises(ValueError, match="CUDA is not available|device"):
        if torch.cuda.is_available():
            raise ValueError("device")
        SourceOnly(device="cuda", **FAST).fit((Xs, ys), Xt)


@pytest.mark.cuda
def test_cuda_fit_matches_cpu(moons):
    Xs, ys, Xt, _ = moons
    kw = dict(random_state=0, n_epochs=3, **FAST)
    cpu = DANN(device="cpu", **kw).fit((Xs, ys), Xt)
    gpu = DANN(device="cuda", **kw).fit((Xs, ys), Xt)
    assert next(gpu.parts_.parameters()).is_cuda
    np.testing.assert_allclose(gpu.predict_proba(Xt), cpu.predict_proba(Xt), atol=1e-3)
    restored = pickle.loads(pickle.dumps(gpu))  # pickles through the CPU
    np.testing.assert_allclose(restored.predict_proba(Xt), cpu.predict_proba(Xt), atol=1e-3)


def test_engine_runs_from_a_config_and_hooks_without_an_adapter(moons):
    """The Trainer reads only its TrainConfig and the method's TrainHooks: a bare loss
    function trains, and the per-epoch hook runs before each epoch's first batch."""
    from domainadapt.training import TrainConfig, Trainer, TrainHooks
    from domainadapt.training.data import ArrayData
    from domainadapt.training.distributed import DistributedContext

    Xs, ys, Xt, _ = moons
    torch.manual_seed(0)
    parts = nn.ModuleDict({"features": nn.Linear(2, 8), "classifier": nn.Linear(8, 2)})
    seen = []

    def logits(parts, x):
        return parts["classifier"](torch.relu(parts["features"](x)))

    def loss(parts, batch, state):
        return nn.functional.cross_entropy(logits(parts, batch.source_x), batch.source_y), {}

    def on_epoch_start(parts, state):
        assert parts.training and state.step_in_epoch == 0
        seen.append((state.epoch, state.step))

    config = TrainConfig(n_epochs=3, batch_size=32, lr=1e-2, progress=False, name="bare")
    hooks = TrainHooks(predict_logits=logits, loss=loss, on_epoch_start=on_epoch_start)
    trainer = Trainer(
        parts, ArrayData(Xs, ys), ArrayData(Xt), config=config, hooks=hooks, n_classes=2,
        seed=0, device=torch.device("cpu"), callbacks=[], dist_ctx=DistributedContext(),
    )
    history = trainer.run()
    spe = trainer.steps_per_epoch
    assert seen == [(0, 0), (1, spe), (2, 2 * spe)]
    assert [r["epoch"] for r in history] == [1, 2, 3] and history[-1]["loss"] < history[0]["loss"]
    assert trainer.state_dict()["meta"]["adapter"] == "bare"
    with pytest.raises(TypeError, match="per-step loss"):
        TrainHooks(predict_logits=logits)


@pytest.mark.parametrize("cls", ["DeepAdapter", "FineTuning", "ClassRelationAlignment",
                                 "RelationalDistillation"])
def test_fit_leaves_only_parameters_and_fitted_attributes(moons, cls):
    """Temporary fit-time state lives in a per-fit context, never on the estimator."""
    from domainadapt.model import FineTuning
    from domainadapt.relation import ClassRelationAlignment, RelationalDistillation

    Xs, ys, Xt, yt = moons
    make = {"DeepAdapter": DeepAdapter, "FineTuning": partial(FineTuning, pretrain_on_source=True),
            "ClassRelationAlignment": ClassRelationAlignment,
            "RelationalDistillation": partial(RelationalDistillation, teacher_hidden_sizes=(8,))}
    y_partial = np.where(np.arange(len(yt)) < 20, yt, -1)
    m = make[cls](n_epochs=2, random_state=0, **FAST).fit((Xs, ys), (Xt, y_partial))
    params = set(m.get_params(deep=False))
    extra = [k for k in vars(m) if k not in params and not k.endswith("_")]
    assert extra == []


class _PoisonAt(Callback):
    """Makes the first parameter NaN after step ``step``, as a diverging update would."""

    def __init__(self, step: int):
        self.step = step

    def on_step_end(self, trainer, logs):
        if trainer.step == self.step:
            with torch.no_grad():
                next(trainer.parts.parameters()).fill_(float("nan"))


def test_divergence_inside_an_epoch_is_named_not_the_ops_input_check(moons):
    # DAN's MMD checks its features; with NaN weights the next step fails there. The user
    # must read that training diverged, where, and what to do; the op's error is the cause.
    from domainadapt.model import DAN

    Xs, ys, Xt, _ = moons
    adapter = DAN(n_epochs=2, callbacks=[_PoisonAt(3)], **FAST)
    with pytest.raises(FloatingPointError, match=r"diverged before step 4 \(epoch 1\)") as info:
        adapter.fit((Xs, ys), Xt)
    assert "no longer finite" in str(info.value) and "max_grad_norm" in str(info.value)
    assert isinstance(info.value.__cause__, ValueError)
    assert "NaN" in str(info.value.__cause__)


def test_divergence_seen_at_the_end_of_an_epoch(moons):
    # a loss that does not check its inputs (cross-entropy) goes on with NaN: the epoch's
    # mean losses are checked when the epoch ends
    Xs, ys, Xt, _ = moons
    with pytest.raises(FloatingPointError, match=r"training diverged at epoch 1"):
        SourceOnly(n_epochs=2, callbacks=[_PoisonAt(2)], **FAST).fit((Xs, ys), Xt)


def test_an_error_with_finite_parameters_is_not_called_a_divergence(moons, monkeypatch):
    # the same kind of error raised inside a step while every parameter is finite is the
    # step's own error and reaches the user unchanged
    from domainadapt.model import DAN

    def broken(self, *args, **kwargs):
        raise ValueError("not a divergence")

    monkeypatch.setattr(DAN, "_alignment", broken)
    Xs, ys, Xt, _ = moons
    with pytest.raises(ValueError, match="not a divergence"):
        DAN(n_epochs=1, **FAST).fit((Xs, ys), Xt)
