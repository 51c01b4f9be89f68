#!/usr/bin/env bash
# The tensor-parallel example on every GPU of this machine, for the three bench patterns, in one
# command for a leased machine. Prepare the packages on a machine with Node first:
#   npx tsx test/cuda/prepare.ts out/cuda-check
# then on the GPU machine, from the repository root:
#   bash bench/cuda/tp.sh out/cuda-check "$OUT" [N ...]        (default N: 8192 32768)
# Each run is one torchrun with a process per GPU; results are appended to $OUT/tp.log.
set -uo pipefail
dir=${1:-out/cuda-check}
out=${2:-out/tp}
shift 2 2>/dev/null || shift $#
lengths=${*:-8192 32768}
mkdir -p "$out"
ngpu=$(nvidia-smi -L | wc -l)
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1 PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$out/gpus.txt"
# Build once before the ranks start (each rank would otherwise wait on the same build).
python3 test/cuda/check_cuda.py "$dir" --build-only --only paper_h16_kv16_d128,released_h16_kv16_d128,balanced_h16_kv16_d128 > "$out/build.log" 2>&1 || { echo "build failed"; tail -20 "$out/build.log"; exit 1; }
for pat in paper released balanced; do
  for n in $lengths; do
    for plan in in_order balanced; do
      timeout 180 torchrun --standalone --nproc_per_node="$ngpu" examples/distributed/tp_attention.py \
        "$dir" "${pat}_h16_kv16_d128" --seq "$n" --plan "$plan" >> "$out/tp.log" 2>&1
      echo "$pat N=$n $plan ranks=$ngpu rc=$?"
    done
  done
done
grep -E "layer|gathered|rank [0-9]" "$out/tp.log" | tail -60
