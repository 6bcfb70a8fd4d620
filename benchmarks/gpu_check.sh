#!/usr/bin/env bash
# The device checks of issue #11 as one command, run from the repository root on a
# machine with a CUDA GPU:
#
#     bash benchmarks/gpu_check.sh            # a few minutes (not yet timed on a GPU)
#
# 1. installs the project as it is in this tree (no network: --no-index, --no-deps;
#    torch, and triton for the fused kernel, must already be installed; if the
#    install fails, the tree is used through PYTHONPATH),
# 2. runs every test marked `cuda` (fused kernel on the GPU, no host sync in the MMD
#    losses nor in any deep strategy's training step or progress bar under
#    torch.cuda.set_sync_debug_mode("error"), CPU/GPU agreement),
# 3. runs `python benchmarks/gpu.py --quick`, which writes benchmarks/results/gpu.md,
# 4. times the engine against a hand-written DANN loop on the GPU
#    (`deep_throughput.py --device cuda`, the two-moons MLP; LeNet on MNIST/USPS too
#    when DOMAINADAPT_DATA is set), which writes deep_throughput_cuda.md.
#
# Exit status: non-zero if the install, the tests or the benchmark failed (the
# benchmark still runs when tests fail, so one session gets both).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
if ! $PY -m pip install -q --no-deps --no-build-isolation --no-index -e .; then
    # e.g. a setuptools older than the build-system's: run from the tree instead
    echo "install failed: running domainadapt from this tree (PYTHONPATH=$PWD)"
    export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi
$PY -c "import torch, sys; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available()); sys.exit(0 if torch.cuda.is_available() else 3)" || { echo "no CUDA device visible to torch"; exit 3; }
$PY -c "import triton; print('triton', triton.__version__)" || echo "triton is not installed: the fused-kernel tests will skip and gpu.py reports why"

status=0
OMP_NUM_THREADS=${OMP_NUM_THREADS:-4} $PY -m pytest -m cuda -q -p no:cacheprovider -o addopts="-ra" tests/ || status=$?
$PY benchmarks/gpu.py --quick || status=$((status ? status : $?))
workloads="mlp"
[ -n "${DOMAINADAPT_DATA:-}" ] && workloads="lenet mlp"
$PY benchmarks/deep_throughput.py --device cuda --workloads $workloads --repeats 3 --epochs 3 \
    || status=$((status ? status : $?))
exit $status
