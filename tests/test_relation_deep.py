"""The deep relation-based strategies: ClassRelationAlignment (CAN) and
RelationalDistillation (RKD)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.base import clone
from torch import nn

from domainadapt.datasets import make_rotated_blobs, make_shifted_digits
from domainadapt.model import SourceOnly
from domainadapt.relation import (
    ClassRelationAlignment,
    RelationalDistillation,
    spherical_kmeans,
)
from domainadapt.training import DeepAdapter

FAST = dict(n_threads=1, progress=False)
SEEDS = (0, 1)
TRAIN = dict(n_epochs=40, batch_size=32, lr=3e-3, **FAST)


def rotated_shifted_blobs(seed: int, n: int = 150):
    """The rotated and translated three-blob shift (:func:`make_rotated_blobs`), as arrays."""
    source, target = make_rotated_blobs(n, n, random_state=seed)
    return source.X, source.y, target.X, target.y


def _accuracy(make, seeds=SEEDS) -> float:
    acc = []
    for seed in seeds:
        Xs, ys, Xt, yt = rotated_shifted_blobs(seed)
        acc.append(make(seed).fit((Xs, ys), Xt).score(Xt, yt))
    return float(np.mean(acc))


# --------------------------------------------------------------------------- CAN
def test_can_beats_source_only_on_shifted_blobs():
    base = _accuracy(lambda s: SourceOnly(random_state=s, **TRAIN))
    can = _accuracy(lambda s: ClassRelationAlignment(random_state=s, **TRAIN))
    assert base < 0.82  # the shift hurts
    assert can > base + 0.06, (can, base)  # measured: 0.897 vs 0.777 (seeds 0, 1)


def test_spherical_kmeans_fixed_point():
    g = torch.Generator().manual_seed(0)
    dirs = F.normalize(torch.randn(3, 5, generator=g), dim=1)
    labels_true = torch.arange(60) % 3
    X = (dirs[labels_true] + 0.05 * torch.randn(60, 5, generator=g)) * 3.0  # norms do not matter
    init = dirs + 0.3 * torch.randn(3, 5, generator=g)
    centres, labels, dist = spherical_kmeans(X, init)
    assert torch.equal(labels, labels_true)  # started near the true directions: same order
    torch.testing.assert_close(centres.norm(dim=1), torch.ones(3))
    Z = F.normalize(X, dim=1)
    # a fixed point: centres are the normalised means, labels the nearest centres
    for c in range(3):
        torch.testing.assert_close(centres[c], F.normalize(Z[labels == c].mean(0), dim=0))
    assert torch.equal(labels, (Z @ centres.T).argmax(1))
    torch.testing.assert_close(dist, 0.5 * (1 - (Z * centres[labels]).sum(1)))
    assert float(dist.max()) < 0.01


def test_can_warmup_and_clustering_schedule():
    Xs, ys, Xt, _ = rotated_shifted_blobs(0)
    m = ClassRelationAlignment(
        warmup_fraction=0.5, cluster_every=3, random_state=0, **{**TRAIN, "n_epochs": 10}
    ).fit((Xs, ys), Xt)
    cdd = [r["cdd"] for r in m.history_]
    assert all(v == 0 for v in cdd[:5]) and all(v != 0 for v in cdd[5:])
    assert [r["epoch"] for r in m.cluster_history_] == [5, 8]
    assert all(r["n_active"] == 3 and 0 < r["n_kept"] <= len(Xt) for r in m.cluster_history_)
    clusters = m.parts_["clusters"]
    assert int(clusters.epoch) == 8 and bool(clusters.active.all())
    torch.testing.assert_close(clusters.centres.norm(dim=1), torch.ones(3))


def test_can_without_kept_rows_is_source_only():
    """No target row within the threshold: no class is aligned, the loss is the
    source cross-entropy, so the model is SourceOnly's (same seed, same batches)."""
    Xs, ys, Xt, _ = rotated_shifted_blobs(0)
    kw = dict(random_state=0, **{**TRAIN, "n_epochs": 5})
    can = ClassRelationAlignment(distance_threshold=0.0, warmup_fraction=0.2, **kw)
    with pytest.warns(UserWarning, match=r"CDD was 0 in every training step.*distance_threshold=0.0"):
        can.fit((Xs, ys), Xt)
    base = SourceOnly(**kw).fit((Xs, ys), Xt)
    assert all(r["n_active"] == 0 for r in can.cluster_history_)
    np.testing.assert_allclose(can.predict_proba(Xt), base.predict_proba(Xt), atol=1e-5)
    with pytest.warns(UserWarning, match="min_rows_per_class=10000"):
        many = ClassRelationAlignment(min_rows_per_class=10_000, **kw).fit((Xs, ys), Xt)
    assert all(r["n_active"] == 0 for r in many.cluster_history_)


def test_can_aligns_with_the_default_dropout():
    """With dropout (the default MLP turns it on for 64 pixels x 64 units > 898 rows) the
    batch's target rows are labelled from evaluation-mode features, as the centres are:
    labelled from the dropout-noised pass, no row was ever within the threshold and the
    CDD stayed 0 (CAN scored as source-only, 80.0 on relation_deep's digits)."""
    import warnings

    source, target = make_shifted_digits("rotation", random_state=0)
    Xs, Xt = source.X.reshape(len(source.X), -1), target.X.reshape(len(target.X), -1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "CDD was 0" warning
        m = ClassRelationAlignment(random_state=0, n_epochs=6, batch_size=64, lr=3e-3, **FAST)
        m.fit((Xs, source.y), Xt)
    assert m.dropout_ == 0.5
    assert m.cluster_history_ and all(r["n_kept"] > 0 for r in m.cluster_history_)
    # history_ numbers epochs from 1, cluster_history_ from 0: from the first clustering on
    first = m.cluster_history_[0]["epoch"] + 1
    after_warmup = [r["cdd"] for r in m.history_ if r["epoch"] >= first]
    assert after_warmup and all(v != 0 for v in after_warmup)


def test_can_uses_labelled_target_rows():
    Xs, ys, Xt, yt = rotated_shifted_blobs(0)
    y_partial = np.full(len(yt), -1)
    y_partial[:30] = yt[:30]
    m = ClassRelationAlignment(
        distance_threshold=0.0, random_state=0, **{**TRAIN, "n_epochs": 5}
    ).fit((Xs, ys), (Xt, y_partial))
    # the 30 labelled rows are always kept: every class has >= 3 of them
    assert all(r["n_kept"] == 30 and r["n_active"] == 3 for r in m.cluster_history_)


def test_can_save_load_keeps_the_clusters(tmp_path):
    Xs, ys, Xt, _ = rotated_shifted_blobs(0)
    m = ClassRelationAlignment(random_state=0, **{**TRAIN, "n_epochs": 4}).fit((Xs, ys), Xt)
    m.save(tmp_path / "can.pt")
    r = ClassRelationAlignment.load(tmp_path / "can.pt")
    np.testing.assert_array_equal(r.predict_proba(Xt), m.predict_proba(Xt))
    for name in ("centres", "active", "epoch"):
        assert torch.equal(getattr(r.parts_["clusters"], name), getattr(m.parts_["clusters"], name))


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"warmup_fraction": 1.0}, "warmup_fraction"),
        ({"cluster_every": 0}, "cluster_every"),
        ({"distance_threshold": 1.5}, "distance_threshold"),
        ({"trade_off": -1.0}, "trade_off"),
        ({"min_rows_per_class": 2.5}, "min_rows_per_class"),
        ({"multipliers": ()}, "multipliers"),
    ],
)
def test_can_bad_parameters(kw, match):
    Xs, ys, Xt, _ = rotated_shifted_blobs(0)
    with pytest.raises(ValueError, match=match):
        ClassRelationAlignment(n_epochs=1, **FAST, **kw).fit((Xs, ys), Xt)


# --------------------------------------------------------------------------- RKD
# raw inputs, no dropout: the small student this comparison was measured with (the
# data-dependent defaults, standardize="auto" and dropout="auto", make the student
# alone much stronger on these blobs, 0.64 -> 0.83, and leave nothing to distil)
STUDENT = dict(hidden_sizes=(8,), n_epochs=60, batch_size=32, lr=3e-3, standardize=False,
               dropout=0.0, **FAST)


def test_rkd_from_an_adapted_teacher_beats_the_student_alone():
    """A small student (one hidden layer of 8) keeps the target relations of an
    adapted teacher (CAN): it beats the same student trained on the source only."""
    accs = {"alone": [], "rkd": [], "teacher": []}
    for seed in SEEDS:
        Xs, ys, Xt, yt = rotated_shifted_blobs(seed)
        teacher = ClassRelationAlignment(
            hidden_sizes=(64, 64), contrastive=False, random_state=seed, **TRAIN
        ).fit((Xs, ys), Xt)
        rkd = RelationalDistillation(teacher=teacher, random_state=seed, **STUDENT)
        accs["rkd"].append(rkd.fit((Xs, ys), Xt).score(Xt, yt))
        assert rkd.teacher_ is teacher  # a fitted teacher is used as is
        accs["teacher"].append(teacher.score(Xt, yt))
        accs["alone"].append(
            SourceOnly(random_state=seed, **STUDENT).fit((Xs, ys), Xt).score(Xt, yt)
        )
    mean = {k: float(np.mean(v)) for k, v in accs.items()}
    # measured: student alone 0.643, with RKD 0.733, teacher 0.95
    assert mean["rkd"] > mean["alone"] + 0.04, mean
    assert mean["teacher"] > mean["rkd"]


def test_rkd_default_teacher_and_relation_losses_decrease():
    Xs, ys, Xt, _ = rotated_shifted_blobs(0)
    m = RelationalDistillation(teacher_hidden_sizes=(32, 32), random_state=0, **STUDENT)
    m.fit((Xs, ys), Xt)
    # a source-only teacher built from the training base (relation does not import model)
    assert type(m.teacher_) is DeepAdapter
    assert m.teacher_.hidden_sizes == (32, 32) and m.teacher_.n_epochs == STUDENT["n_epochs"]
    assert m.parts_["features"].out_features == 8
    first, last = m.history_[0], m.history_[-1]
    assert last["distance"] < 0.5 * first["distance"]
    assert last["angle"] < first["angle"]


def test_rkd_unfitted_teacher_is_cloned_and_module_teacher():
    Xs, ys, Xt, _ = rotated_shifted_blobs(0)
    kw = dict(random_state=0, **{**STUDENT, "n_epochs": 3})
    proto = SourceOnly(random_state=0, **{**STUDENT, "n_epochs": 3, "hidden_sizes": (16,)})
    m = RelationalDistillation(teacher=proto, **kw).fit((Xs, ys), Xt)
    assert not hasattr(proto, "parts_") and hasattr(m.teacher_, "parts_")
    # an nn.Module teacher: its outputs are the embeddings; KD needs n_classes outputs
    net = nn.Sequential(nn.Linear(2, 5), nn.Tanh())
    m = RelationalDistillation(teacher=net, **kw).fit((Xs, ys), Xt)
    assert m.teacher_ is not net
    with pytest.raises(ValueError, match="kd_weight > 0 needs teacher logits"):
        RelationalDistillation(teacher=net, kd_weight=1.0, **kw).fit((Xs, ys), Xt)
    three = nn.Linear(2, 3)
    m = RelationalDistillation(teacher=three, kd_weight=1.0, **kw).fit((Xs, ys), Xt)
    assert "kd" in m.history_[0]


def test_rkd_bad_inputs():
    Xs, ys, Xt, _ = rotated_shifted_blobs(0)
    kw = dict(random_state=0, **{**STUDENT, "n_epochs": 1})
    with pytest.raises(TypeError, match=r"'teacher' parameter of RelationalDistillation must be .* Got 'big' "):
        RelationalDistillation(teacher="big", **kw).fit((Xs, ys), Xt)
    with pytest.raises(ValueError, match=r"'layer' parameter .* must be a str among .*'features'.* Got 'conv' "):
        RelationalDistillation(layer="conv", **kw).fit((Xs, ys), Xt)
    with pytest.raises(ValueError, match="relation_domains"):
        RelationalDistillation(relation_domains="source", **kw).fit((Xs, ys), Xt)
    with pytest.raises(ValueError, match="temperature"):
        RelationalDistillation(temperature=0, **kw).fit((Xs, ys), Xt)
    other = SourceOnly(**kw).fit((np.c_[Xs, Xs], ys), np.c_[Xt, Xt])
    with pytest.raises(ValueError, match="teacher was fitted on rows of shape"):
        RelationalDistillation(teacher=other, **kw).fit((Xs, ys), Xt)
    with pytest.raises(ValueError, match="teacher module cannot process rows"):
        RelationalDistillation(teacher=nn.Linear(7, 3), **kw).fit((Xs, ys), Xt)
    shifted = SourceOnly(**kw).fit((Xs, ys + 1), Xt)  # classes 1..3, not 0..2
    with pytest.raises(ValueError, match="same classes"):
        RelationalDistillation(teacher=shifted, kd_weight=1.0, **kw).fit((Xs, ys), Xt)


def test_rkd_clone_keeps_params():
    m = RelationalDistillation(teacher_hidden_sizes=(4,), angle_weight=0.5, hidden_sizes=(3,))
    c = clone(m)
    assert c.get_params()["angle_weight"] == 0.5 and c.get_params()["hidden_sizes"] == (3,)


def test_can_resumed_mid_epoch_is_bitwise_identical(tmp_path):
    """The clustering runs in the engine's per-epoch hook and its result is a buffer:
    resuming inside a clustered epoch does not re-cluster, and ends where an
    uninterrupted run does."""
    from domainadapt.training import Callback

    class _StopAt(Callback):
        def on_step_end(self, trainer, logs):
            if trainer.step == 9:  # 4 steps per epoch: inside epoch 2, clustered at step 8
                raise KeyboardInterrupt

    Xs, ys, Xt, _ = rotated_shifted_blobs(0)
    kw = dict(n_epochs=6, batch_size=32, warmup_fraction=0.3, cluster_every=2, random_state=0,
              **FAST)
    full = ClassRelationAlignment(**kw).fit((Xs, ys), Xt)
    assert [r["epoch"] for r in full.cluster_history_] == [2, 4]
    with pytest.raises(KeyboardInterrupt):
        ClassRelationAlignment(checkpoint_dir=tmp_path, checkpoint_every=1,
                               callbacks=[_StopAt()], **kw).fit((Xs, ys), Xt)
    resumed = ClassRelationAlignment(checkpoint_dir=tmp_path, resume=True, **kw)
    resumed.fit((Xs, ys), Xt)
    assert [r["epoch"] for r in resumed.cluster_history_] == [4]
    for a, b in zip(full.parts_.state_dict().values(), resumed.parts_.state_dict().values()):
        assert torch.equal(a, b)
