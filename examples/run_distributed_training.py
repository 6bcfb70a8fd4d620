"""
Training on several GPUs or processes
=====================================

The deep strategies train data-parallel when a :mod:`torch.distributed`
process group is initialised (``distributed="auto"``, the default): every
process ("rank") calls the same ``fit`` with the same data and
``random_state``, takes its share of every global batch (``batch_size`` rows
per domain are split evenly across the ranks) and starts from rank 0's
parameters. DANN, like every method with one backward pass per iteration,
trains its parts wrapped in ``DistributedDataParallel``; MCD, which takes three
optimisation steps per batch, averages the gradients with one flat all-reduce
after each backward pass instead. Batch-level losses (MMD, CORAL) are computed
on the rows gathered from all ranks. Only rank 0 writes checkpoints.

This example is **not run** when the documentation is built. Download it and
launch one process per GPU with ``torchrun``::

    torchrun --nproc_per_node=4 run_distributed_training.py

or, on a CPU-only machine, two processes with the ``gloo`` backend::

    torchrun --standalone --nproc_per_node=2 run_distributed_training.py

or on two machines of 8 GPUs each (the same command on both, with its
``--node_rank``)::

    torchrun --nnodes=2 --node_rank=0 --nproc_per_node=8 --rdzv_backend=c10d \
             --rdzv_endpoint=node0:29500 --rdzv_id=dann run_distributed_training.py

``torchrun`` sets ``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE`` in each process's
environment; see the "Training on several GPUs and machines" page of the
documentation and :mod:`domainadapt.training.distributed` for the details.
"""

import os

import torch
import torch.distributed as dist

from domainadapt import Domain
from domainadapt.datasets import make_shifted_digits
from domainadapt.model import DANN


def main():
    # One process per GPU: NCCL between GPUs, gloo on CPUs.
    use_cuda = torch.cuda.is_available()
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if use_cuda:
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    device = f"cuda:{local_rank}" if use_cuda else "cpu"

    # Every rank loads the same data (same seed) and passes the whole arrays:
    # the engine shards each global batch across the ranks itself.
    source, target = make_shifted_digits("rotation", random_state=0)
    model = DANN(
        n_epochs=30,
        batch_size=128,  # global batch: 128 / world_size rows per rank and domain
        lr_schedule="inverse",
        device=device,
        random_state=0,  # the same on every rank
        checkpoint_dir="dann_checkpoints",  # written by rank 0 only
    )
    model.fit(source, Domain(target.X))

    # The ranks end with identical weights; report and save from rank 0.
    if dist.get_rank() == 0:
        print(f"world size {dist.get_world_size()}: "
              f"target accuracy {model.score(target.X, target.y):.3f}")
        model.save("dann_digits.pt")  # reload with DANN.load("dann_digits.pt")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
