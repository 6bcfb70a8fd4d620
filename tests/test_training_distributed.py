"""Data-parallel training under ``torchrun``: 2 CPU processes (gloo) reproduce the
1-process run at the same global batch, through ``DistributedDataParallel`` (DAN, DANN:
one backward per step) and through the flat gradient all-reduce (MCD: three updates).

One ``torchrun --standalone --nproc_per_node=2`` launch of ``_torchrun_fit.py`` is
checked by one test (under pytest-xdist, tests of a module may land on both workers,
and a module-scoped fixture would then launch it twice); the single-process reference
is fitted meanwhile.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist

pytestmark = pytest.mark.skipif(
    sys.platform == "win32" or not dist.is_available() or not dist.is_gloo_available(),
    reason="needs torch.distributed with gloo (not on Windows)",
)

WORLD = 2
WORKER = Path(__file__).with_name("_torchrun_fit.py")


def _worker_module():
    spec = importlib.util.spec_from_file_location("_torchrun_fit", WORKER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _launch(out: Path):
    """(single-process result, [rank results]) of one torchrun launch writing to ``out``."""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore::FutureWarning")
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone",
        f"--nproc_per_node={WORLD}", str(WORKER), str(out),
    ]
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )
    try:
        single = _worker_module().fit_all()  # the reference, while torchrun runs
        log, _ = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
            proc.wait()
    assert proc.returncode == 0, f"torchrun failed ({proc.returncode}):\n{log[-4000:]}"
    ranks = [torch.load(out / f"rank{r}.pt", weights_only=True) for r in range(WORLD)]
    return single, ranks


def _assert_same_training(ref: dict, res: dict, name: str) -> None:
    assert res["n_iter"] == ref["n_iter"]
    np.testing.assert_allclose(res["loss"], ref["loss"], rtol=1e-5, err_msg=name)
    assert res["weights"].keys() == ref["weights"].keys()
    for k, w in ref["weights"].items():
        torch.testing.assert_close(res["weights"][k], w, rtol=1e-5, atol=1e-6, msg=f"{name} {k}")
    torch.testing.assert_close(res["proba"], ref["proba"], rtol=1e-5, atol=1e-6)


def _check_ddp_matches_one_process(single, ranks, name):
    for res in ranks:
        # every step ran through a DistributedDataParallel wrapping the trainer's own parts
        assert res[name]["seen"] == [("ddp", True, True)]
        # and what was fitted is the plain ModuleDict (predict, save use it unwrapped)
        assert res[name]["parts_type"] == "ModuleDict"
        _assert_same_training(single[name], res[name], name)
    assert single[name]["seen"] == [("None", False, False)]  # one process: no data parallelism
    for k, w in ranks[0][name]["weights"].items():
        assert torch.equal(ranks[1][name]["weights"][k], w)


def _check_mcd_flat_all_reduce_matches_one_process(single, ranks):
    for res in ranks:
        # three updates per batch: no DDP, one flat gradient all-reduce per backward
        assert res["MCD"]["seen"] == [("all_reduce", False, False)]
        _assert_same_training(single["MCD"], res["MCD"], "MCD")
    for k, w in ranks[0]["MCD"]["weights"].items():
        assert torch.equal(ranks[1]["MCD"]["weights"][k], w)


def _check_batch_norm_statistics_averaged_over_ranks(single, ranks):
    """Each rank normalises with its own shard; the running statistics end averaged,
    so both ranks hold the same model (their shards' statistics differ)."""
    a, b = ranks[0]["DANN-batchnorm"], ranks[1]["DANN-batchnorm"]
    assert "1.running_mean" in a
    for k in a:
        assert torch.equal(a[k], b[k]), k
    # the 1-process run normalised with the global batch: close, not equal
    ref = single["DANN-batchnorm"]["1.running_mean"]
    assert not torch.equal(a["1.running_mean"], ref)
    torch.testing.assert_close(a["1.running_mean"], ref, rtol=0.2, atol=0.2)


def _check_ddp_rebuilt_when_layers_are_unfrozen(ranks):
    """FineTuning unfreezes the features at epoch 2: a wrapper built at epoch 0 knows only
    the head, so without the rebuild the features' gradients stay per-rank and the ranks
    drift apart."""
    a, b = ranks[0]["FineTuning-unfreeze"], ranks[1]["FineTuning-unfreeze"]
    assert a["seen"] == [("ddp", True, True)]
    for k in a["weights"]:
        assert torch.equal(a["weights"][k], b["weights"][k]), k


def test_the_method_decides_the_path():
    """One loss per iteration: no step hook (DDP); own _training_step: a step hook (flat)."""
    from domainadapt.model import DANN, MCD
    from domainadapt.training import DeepAdapter

    assert DeepAdapter()._train_hooks().step is None
    assert DANN()._train_hooks().step is None
    assert MCD()._train_hooks().step is not None


def _check_saved_ddp_model_predicts_like_one_process(single, out):
    from domainadapt.model import DANN

    loaded = DANN.load(out / "dann.pt")
    Xt = _worker_module().data()[2]
    torch.testing.assert_close(
        torch.as_tensor(loaded.predict_proba(Xt)), single["DANN"]["proba"], rtol=1e-5, atol=1e-6
    )


def test_torchrun_two_processes_match_one(tmp_path):
    single, ranks = _launch(tmp_path)
    _check_ddp_matches_one_process(single, ranks, "DANN")  # gradient reversal
    _check_ddp_matches_one_process(single, ranks, "DAN")  # MMD on the gathered batch
    _check_mcd_flat_all_reduce_matches_one_process(single, ranks)
    _check_batch_norm_statistics_averaged_over_ranks(single, ranks)
    _check_ddp_rebuilt_when_layers_are_unfrozen(ranks)
    _check_saved_ddp_model_predicts_like_one_process(single, tmp_path)
