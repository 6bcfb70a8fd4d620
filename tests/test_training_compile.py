"""``compile=True``: the parts' forward passes run through ``torch.compile`` during
training, with the same results as eager training up to float rounding.

The problem is tiny (a 4-feature MLP of width 8, two epochs of 3 steps) so that the
compilation, done once per worker and reused by the later fits of the same shapes,
stays within seconds.
"""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
import torch

from domainadapt.model import DAN, DANN
from domainadapt.training import Callback, DeepAdapter

SMALL = dict(
    hidden_sizes=(8,), n_epochs=2, batch_size=32, n_threads=1, progress=False, random_state=0
)


def _data():
    rng = np.random.RandomState(0)
    Xs = rng.randn(96, 4).astype(np.float32)
    Xt = rng.randn(96, 4).astype(np.float32) + 0.5
    return Xs, (Xs[:, 0] > 0).astype(int), Xt


@pytest.mark.parametrize("cls", [DANN, DAN])
def test_compiled_fit_matches_eager(cls):
    Xs, ys, Xt = _data()
    eager = cls(**SMALL).fit((Xs, ys), Xt)
    compiled = cls(compile=True, **SMALL).fit((Xs, ys), Xt)
    assert compiled.n_iter_ == eager.n_iter_ > 0
    for (name, p), (name_c, p_c) in zip(
        eager.parts_.named_parameters(), compiled.parts_.named_parameters()
    ):
        assert name == name_c
        torch.testing.assert_close(p_c, p, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        compiled.predict_proba(Xt), eager.predict_proba(Xt), rtol=1e-5, atol=1e-5
    )
    # the training really moved the weights (the comparison is not of two initialisations)
    assert eager.history_[-1]["loss"] != eager.history_[0]["loss"]


class _SeesCompiled(Callback):
    """Records, at every step, whether each part runs through torch.compile."""

    def __init__(self):
        self.seen = []

    def on_step_end(self, trainer, logs):
        self.seen.append(
            {k: getattr(m, "_compiled_call_impl", None) is not None for k, m in trainer.parts.items()}
        )


def test_parts_compiled_during_training_and_eager_after_fit():
    Xs, ys, Xt = _data()
    model = DANN(compile=True, callbacks=[_SeesCompiled()], **SMALL).fit((Xs, ys), Xt)
    seen = model.callbacks_[0].seen
    assert len(seen) == model.n_iter_
    assert all(all(step.values()) for step in seen)
    assert set(seen[0]) == {"features", "classifier", "discriminator"}
    assert all(getattr(m, "_compiled_call_impl", None) is None for m in model.parts_.values())
    clone = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(clone.predict_proba(Xt), model.predict_proba(Xt))
    copy.deepcopy(model)


def test_compile_unavailable_names_the_parameter(monkeypatch):
    import torch._dynamo.eval_frame as eval_frame

    def unsupported() -> None:
        raise RuntimeError("torch.compile is not supported on this Python")

    monkeypatch.setattr(eval_frame, "check_if_dynamo_supported", unsupported)
    Xs, ys, Xt = _data()
    with pytest.raises(RuntimeError, match="compile=True"):
        DeepAdapter(compile=True, **SMALL).fit((Xs, ys), Xt)
    # compile=False does not need it
    DeepAdapter(**SMALL).fit((Xs, ys), Xt)


def test_bad_compile_rejected():
    from sklearn.utils._param_validation import InvalidParameterError

    Xs, ys, Xt = _data()
    with pytest.raises(InvalidParameterError, match="compile"):
        DeepAdapter(compile="yes", **SMALL).fit((Xs, ys), Xt)
