"""Worker of ``tests/test_training_distributed.py``, launched by ``torchrun``.

``python -m torch.distributed.run --standalone --nproc_per_node=2 _torchrun_fit.py OUT``:
every rank fits the same adapters on the same data (gloo, CPU) and writes what it
trained to ``OUT/rank{RANK}.pt``. Without ``torchrun`` (no process group), the same
``fit_all`` is the single-process reference.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from domainadapt.model import DAN, DANN, MCD, FineTuning
from domainadapt.training import Callback

#: Same global batch (32 rows of each domain; 16 per rank under 2 processes) in every run.
SETTINGS = dict(n_epochs=3, batch_size=32, hidden_sizes=(16,), lr=3e-3, n_threads=1, progress=False)
METHODS = {"DAN": DAN, "DANN": DANN, "MCD": MCD}


class RecordDataParallel(Callback):
    """What the engine trained through at each step: its data-parallel path, whether the
    module run was a ``DistributedDataParallel`` wrapping the trainer's very parts."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, bool, bool]] = []

    def on_step_end(self, trainer, logs) -> None:
        ddp = trainer.ddp
        wrapped = isinstance(ddp, DistributedDataParallel)
        self.seen.append(
            (str(trainer.data_parallel), wrapped, wrapped and ddp.module.parts is trainer.parts)
        )


def data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    centers = np.array([[0, 0], [4, 0], [0, 4]], float)
    ys, yt = rng.integers(0, 3, 100), rng.integers(0, 3, 90)
    Xs = centers[ys] + 0.7 * rng.normal(size=(100, 2))
    Xt = centers[yt] + 0.7 * rng.normal(size=(90, 2)) + 1.5
    return Xs, ys, Xt, yt


def batch_norm_network() -> nn.Module:
    return nn.Sequential(nn.Linear(2, 16), nn.BatchNorm1d(16), nn.ReLU())


def fit_all(save_dir: str | None = None) -> dict:
    Xs, ys, Xt, yt = data()
    out = {}
    for name, cls in METHODS.items():
        m = cls(random_state=0, callbacks=[RecordDataParallel()], **SETTINGS).fit((Xs, ys), Xt)
        out[name] = {
            "loss": [r["loss"] for r in m.history_],
            "weights": {k: v.detach().clone() for k, v in m.parts_.state_dict().items()},
            "proba": torch.as_tensor(m.predict_proba(Xt)),
            "n_iter": m.n_iter_,
            "seen": sorted(set(m.callbacks_[0].seen)),
            "parts_type": type(m.parts_).__name__,
        }
        if save_dir is not None and name == "DANN":
            m.save(os.path.join(save_dir, "dann.pt"))
    # a batch-norm feature extractor: each rank normalises with its own shard's statistics
    m = DANN(network=batch_norm_network, random_state=0, **SETTINGS).fit((Xs, ys), Xt)
    out["DANN-batchnorm"] = {k: v.clone() for k, v in m.parts_["features"].state_dict().items()}
    # layers unfrozen at epoch 2: the DDP wrapper must be rebuilt to average them too
    y_partial = np.where(np.arange(len(Xt)) % 6 == 0, yt, -1)  # 15 labelled target rows
    m = FineTuning(
        pretrain_on_source=True, freeze="features.*", unfreeze_schedule={2: "features.*"},
        random_state=0, callbacks=[RecordDataParallel()], **SETTINGS,
    ).fit((Xs, ys), (Xt, y_partial))
    out["FineTuning-unfreeze"] = {
        "weights": {k: v.clone() for k, v in m.parts_.state_dict().items()},
        "seen": sorted(set(m.callbacks_[0].seen)),
    }
    return out


def main(out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    try:
        result = fit_all(out_dir if rank == 0 else None)
        torch.save(result, os.path.join(out_dir, f"rank{rank}.pt"))
        # both ranks done before either tears gloo down
        dist.barrier()
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
