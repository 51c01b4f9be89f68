#!/usr/bin/env bash
# The CUDA tests compile generated kernels with the real nvcc (no GPU needed). The machine
# image ships CUDA 13 at /usr/local/bin/nvcc; fail loudly if it is gone rather than skip.
set -euo pipefail
if ! command -v nvcc >/dev/null; then
  echo "nvcc not found: the CUDA compile tests need the CUDA toolkit (nvcc 13) on PATH" >&2
  exit 1
fi
nvcc --version | tail -n 2
