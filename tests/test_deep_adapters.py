"""The deep strategies: SourceOnly, DANN, CDAN(+E), MCD, DAN, JAN, DCORAL, FineTuning."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from torch import nn

from domainadapt.datasets import make_rotated_blobs, make_rotated_moons
from domainadapt.model import CDAN, DAN, DANN, DCORAL, JAN, MCD, FineTuning, SourceOnly
from domainadapt.model.cdan import MultilinearMap
from domainadapt.ops import ReversalSchedule
from domainadapt.training.data import Batch

FAST = dict(n_threads=1, progress=False)
SEEDS = (0, 1)


def rotated_shifted_blobs(seed: int, n: int = 150):
    """The rotated and translated three-blob shift (:func:`make_rotated_blobs`), as arrays."""
    source, target = make_rotated_blobs(n, n, random_state=seed)
    return source.X, source.y, target.X, target.y


TRAIN = dict(n_epochs=40, batch_size=32, lr=3e-3, **FAST)


def _mean_accuracy(cls, **kw) -> float:
    acc = []
    for seed in SEEDS:
        Xs, ys, Xt, yt = rotated_shifted_blobs(seed)
        acc.append(cls(random_state=seed, **TRAIN, **kw).fit((Xs, ys), Xt).score(Xt, yt))
    return float(np.mean(acc))


@pytest.fixture(scope="module")
def source_only_accuracy():
    return _mean_accuracy(SourceOnly)


@pytest.mark.parametrize(
    "cls, kw, margin",
    [
        (DANN, {}, 0.03),
        (CDAN, {}, 0.03),
        (CDAN, {"entropy": True}, 0.03),
        (DAN, {}, 0.1),
        (JAN, {}, 0.1),
        (DCORAL, {}, 0.03),
        (MCD, {"n_generator_steps": 2}, 0.0),
    ],
    ids=["dann", "cdan", "cdan_e", "dan", "jan", "dcoral", "mcd"],
)
def test_beats_source_only_on_shifted_blobs(cls, kw, margin, source_only_accuracy):
    assert source_only_accuracy < 0.8  # the shift hurts
    acc = _mean_accuracy(cls, **kw)
    assert acc > source_only_accuracy + margin, (acc, source_only_accuracy)


def test_dan_fixes_rotated_moons():
    # raw 2-D inputs, three seeds: measured (seeds 0-9) source-only 0.70, DAN 0.85 on
    # average (0.87 with the bandwidth held constant); seeds 0-2: 0.70 / 0.91
    base, dan = [], []
    for seed in (0, 1, 2):
        s, t = make_rotated_moons(200, 200, angle=40, random_state=seed)
        kw = dict(random_state=seed, n_epochs=60, batch_size=64, standardize=False, **FAST)
        base.append(SourceOnly(**kw).fit((s.X, s.y), t.X).score(t.X, t.y))
        dan.append(DAN(**kw).fit((s.X, s.y), t.X).score(t.X, t.y))
    assert np.mean(dan) > 0.85 > np.mean(base) + 0.1, (dan, base)


@pytest.mark.parametrize("cls, loss_name", [(DAN, "MMDAlignment"), (JAN, "JointMMDAlignment")])
@pytest.mark.parametrize("detach", [False, True])
def test_mmd_methods_pass_detach_bandwidth_to_their_loss(cls, loss_name, detach, monkeypatch):
    """``detach_bandwidth`` reaches the loss (whose gradient tests are in test_ops_mmd), and
    the two settings train different networks from the same seed."""
    import domainadapt.model.alignment as alignment

    seen = []
    real = getattr(alignment, loss_name)

    def spy(*args, **kwargs):
        seen.append(kwargs["detach_bandwidth"])
        return real(*args, **kwargs)

    monkeypatch.setattr(alignment, loss_name, spy)
    Xs, ys, Xt, _ = rotated_shifted_blobs(0)
    kw = dict(random_state=0, n_epochs=2, batch_size=32, **FAST)
    model = cls(detach_bandwidth=detach, **kw).fit((Xs, ys), Xt)
    assert seen and set(seen) == {detach}
    monkeypatch.undo()
    other = cls(detach_bandwidth=not detach, **kw).fit((Xs, ys), Xt)
    assert not np.allclose(model.transform(Xt), other.transform(Xt))


def test_mmd_methods_reject_a_non_boolean_detach_bandwidth():
    Xs, ys, Xt, _ = rotated_shifted_blobs(0)
    with pytest.raises(ValueError, match="detach_bandwidth"):
        DAN(detach_bandwidth="yes", n_epochs=1, **FAST).fit((Xs, ys), Xt)


# --------------------------------------------------------------------------- DANN / CDAN
class _State:
    def __init__(self, coeff: float):
        self.reversal = ReversalSchedule(max_steps=10)
        self.reversal.step_count = 10
        self.reversal.max_coeff = coeff
        self.group = None


def _grads_of(adapter, coeff: float):
    torch.manual_seed(0)
    parts = adapter._make_parts((2,), 3)
    g = torch.Generator().manual_seed(1)
    batch = Batch(
        torch.randn(16, 2, generator=g),
        torch.randint(0, 3, (16,), generator=g),
        None,
        torch.randn(16, 2, generator=g) + 2.0,
    )
    loss, _ = adapter._training_loss(parts, batch, _State(coeff))
    loss.backward()
    return {n: p.grad.clone() for n, p in parts.named_parameters()}


@pytest.mark.parametrize(
    "adapter", [DANN(), CDAN(), CDAN(entropy=True)], ids=["dann", "cdan", "cdan_e"]
)
def test_domain_loss_moves_the_features(adapter):
    """The discriminator's loss reaches the features (reversed): a one-unit softmax
    discriminator, or a detached input, would leave the feature gradients unchanged."""
    on, off = _grads_of(adapter, 1.0), _grads_of(adapter, 0.0)
    feat = [n for n in on if n.startswith("features.")]
    disc = [n for n in on if n.startswith("discriminator.")]
    moved = sum(float((on[n] - off[n]).norm()) for n in feat)
    assert moved > 1e-3
    for n in disc:  # the discriminator itself is trained the same way whatever the coefficient
        torch.testing.assert_close(on[n], off[n])
    for n in on:  # and the classifier only sees the classification loss
        if n.startswith("classifier."):
            torch.testing.assert_close(on[n], off[n])


def test_multilinear_map_exact_and_randomized():
    g = torch.Generator().manual_seed(0)
    f, p = torch.randn(5, 4, generator=g), torch.softmax(torch.randn(5, 3, generator=g), 1)
    exact = MultilinearMap(4, 3)(f, p)
    torch.testing.assert_close(exact, torch.einsum("bi,bj->bij", p, f).reshape(5, -1))
    torch.manual_seed(0)
    rnd = MultilinearMap(4, 3, random_dim=40000)
    approx = rnd(f, p) @ rnd(f, p).T
    gram = (f @ f.T) * (p @ p.T)  # <f x g, f' x g'> = <f, f'><g, g'>
    assert float((approx - gram).abs().max() / gram.abs().max()) < 0.1
    wide = CDAN(max_multilinear_dim=50, random_dim=32)._build_parts((20,), 3)  # 64 * 3 > 50
    assert (
        wide["multilinear"].random_dim == 32
        and wide["discriminator"].body.layers[1].in_features == 32
    )


# --------------------------------------------------------------------------- MCD
def test_mcd_takes_the_three_steps():
    Xs, ys, Xt, _ = rotated_shifted_blobs(0)
    m = MCD(n_generator_steps=3, n_epochs=1, batch_size=32, random_state=0, **FAST)
    m.fit((Xs, ys), Xt)
    assert m.n_iter_ == 4
    assert {"loss", "discrepancy", "generator_discrepancy"} <= set(m.history_[0])
    # two classifier heads with their own weights; predictions average them
    assert not torch.equal(m.parts_["classifier"].weight, m.parts_["classifier2"].weight)
    p = m.predict_proba(Xt)
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-6)


def test_mcd_optimiser_steps_per_batch(monkeypatch):
    Xs, ys, Xt, _ = rotated_shifted_blobs(0)
    calls = []
    from domainadapt.training.engine import Trainer

    real = Trainer.optimize

    def spy(self, loss, names, retain_graph=False):
        calls.append(tuple([names] if isinstance(names, str) else names))
        return real(self, loss, names, retain_graph)

    monkeypatch.setattr(Trainer, "optimize", spy)
    MCD(n_generator_steps=2, n_epochs=1, batch_size=150, random_state=0, **FAST).fit((Xs, ys), Xt)
    assert calls == [("features", "classifiers"), ("classifiers",), ("features",), ("features",)]


# --------------------------------------------------------------------------- FineTuning
@pytest.fixture(scope="module")
def few_labels():
    s, t = make_rotated_moons(200, 200, angle=40, random_state=0)
    y = np.full(len(t.y), -1)
    y[:20] = t.y[:20]
    return s.X, s.y, t.X, t.y, y


def test_finetuning_beats_source_only_with_few_labels(few_labels):
    Xs, ys, Xt, yt, y_partial = few_labels
    kw = dict(random_state=0, n_epochs=60, **FAST)
    base = SourceOnly(**kw).fit((Xs, ys), Xt).score(Xt, yt)
    ft = FineTuning(pretrain_on_source=True, **kw).fit((Xs, ys), (Xt, y_partial))
    assert ft.score(Xt, yt) > base + 0.1
    assert ft.source_model_.score(Xt, yt) == pytest.approx(base, abs=0.05)


def test_finetuning_needs_labels(few_labels):
    Xs, ys, Xt, _, _ = few_labels
    with pytest.raises(ValueError, match="needs labelled target rows"):
        FineTuning(**FAST).fit((Xs, ys), Xt)


def test_finetuning_clone_pickle_determinism(few_labels):
    Xs, ys, Xt, _, y_partial = few_labels
    m = FineTuning(pretrain_on_source=True, pretrain_epochs=5, n_epochs=10, random_state=3, **FAST)
    c = clone(m)
    assert c.get_params() == m.get_params()
    a = m.fit((Xs, ys), (Xt, y_partial))
    b = c.fit((Xs, ys), (Xt, y_partial))
    np.testing.assert_array_equal(a.predict_proba(Xt), b.predict_proba(Xt))
    r = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(r.predict_proba(Xt), a.predict_proba(Xt))


def test_finetuning_freeze_lr_groups_unfreeze_and_l2sp(few_labels, tmp_path):
    Xs, ys, Xt, _, y_partial = few_labels
    src = SourceOnly(random_state=0, n_epochs=5, hidden_sizes=(8,), **FAST).fit((Xs, ys), Xt)
    path = tmp_path / "start.pt"
    torch.save(src.parts_.state_dict(), path)
    kw = dict(pretrained=str(path), hidden_sizes=(8,), n_epochs=4, random_state=0, **FAST)
    # frozen features stay exactly at the pretrained weights; the head moves
    frozen = FineTuning(freeze="features.*", **kw).fit((Xs, ys), (Xt, y_partial))
    for n, t in frozen.parts_["features"].state_dict().items():
        torch.testing.assert_close(t, src.parts_["features"].state_dict()[n], rtol=0, atol=0)
    assert not torch.equal(frozen.parts_["classifier"].weight, src.parts_["classifier"].weight)
    # gradual unfreezing: frozen for epoch 0 only, then trained
    later = FineTuning(freeze="features.*", unfreeze_schedule={1: "features.*"}, **kw)
    later.fit((Xs, ys), (Xt, y_partial))
    assert not torch.equal(
        later.parts_["features"].layers[1].weight, src.parts_["features"].layers[1].weight
    )
    # per-group learning rates reach the optimiser
    grouped = FineTuning(lr_groups={"features.*": 1e-5}, lr=1e-2, **kw)
    parts = grouped._make_parts((2,), 2)
    lrs = sorted(g.get("lr", 1e-2) for g in grouped._param_groups(parts)["main"])
    assert lrs == [1e-5, 1e-2]
    # L2-SP: alpha/2 |w_S - w_S0|^2 + beta/2 |w_new|^2, pretrained tensors are "shared"
    reg = FineTuning(l2sp_alpha=2.0, l2sp_beta=4.0, **kw)
    parts = reg._make_parts((2,), 2)
    assert float(reg._l2sp(parts).detach()) == pytest.approx(
        0.0, abs=1e-12
    )  # at the start, all shared
    with torch.no_grad():
        parts["features"].layers[1].weight.add_(0.5)
    n = parts["features"].layers[1].weight.numel()
    assert float(reg._l2sp(parts).detach()) == pytest.approx(0.5 * 2.0 * n * 0.25, rel=1e-6)


def test_finetuning_patterns_that_match_nothing_and_bad_l2sp_are_refused(few_labels):
    Xs, ys, Xt, _, y_partial = few_labels
    kw = dict(hidden_sizes=(8,), n_epochs=1, random_state=0, **FAST)
    for params, match in (
        ({"freeze": "feature.*"}, "freeze pattern 'feature.*' matches no parameter"),
        ({"lr_groups": {"clasifier.*": 1e-4}}, "lr_groups pattern 'clasifier.*' matches no"),
        ({"freeze": "features.*", "unfreeze_schedule": {1: "featurs.*"}},
         "unfreeze_schedule pattern 'featurs.*' matches no parameter"),
    ):
        with pytest.raises(ValueError, match=match):
            FineTuning(**params, **kw).fit((Xs, ys), (Xt, y_partial))
    # l2sp_alpha is checked before any stage, labelled target rows or not
    with pytest.raises(ValueError, match=r"'l2sp_alpha' parameter of FineTuning must be a float in the range \[0\.0, inf\)\. Got -1 "):
        FineTuning(l2sp_alpha=-1, pretrain_on_source=True, **kw).fit((Xs, ys), Xt)


def test_finetuning_pretrained_module_new_head(few_labels):
    Xs, ys, Xt, yt, y_partial = few_labels
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 16), nn.ReLU())
    start = net[0].weight.detach().clone()
    m = FineTuning(
        pretrained=net, l2sp_alpha=1.0, l2sp_beta=0.5, random_state=0, n_epochs=2, **FAST
    )
    parts = m._make_parts((2,), 2)
    flags = {n: float(f) for n, _, f in parts["reference"].items()}
    assert flags["features.0.weight"] == 1.0 and flags["classifier.weight"] == 0.0
    torch.testing.assert_close(parts["features"][0].weight, net[0].weight)
    m.fit((Xs, ys), (Xt, y_partial))
    assert torch.equal(net[0].weight, start)  # the user's module is never trained in place
    assert not torch.equal(m.parts_["features"][0].weight, start)
