#!/usr/bin/env bash
# The GPU figures that size a deployment, in one command on a machine with an NVIDIA GPU and
# lungscreen installed (bash .ci/setup, then a CUDA build of torch in .venv):
#   bench/gpu.sh [OUT_DIR]
# It checks the driver and that torch sees the GPU, then runs `lungscreen bench gpu`: the
# detector in process on cuda (stage split) and the bundled Triton on models/repository_gpu
# at 1, 2 and 4 requests in flight (latency, volumes/s, and whether Triton ran it on the GPU).
# The figures are printed and kept in OUT_DIR/gpu.txt (default: the current folder).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-.}"
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
.venv/bin/python -c 'import sys, torch; ok = torch.cuda.is_available(); print("torch", torch.__version__, "sees a GPU:", ok); sys.exit(0 if ok else 3)'
.venv/bin/lungscreen bench gpu --runs 3 | tee "$out/gpu.txt"
