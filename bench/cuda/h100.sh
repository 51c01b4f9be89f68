#!/usr/bin/env bash
# Everything the CUDA target needs from a GPU machine, in one command (build, check, sanitize,
# benchmark), for a lease of limited minutes. Prepare on a machine with Node first:
#   npx tsx test/cuda/prepare.ts out/cuda-check
# then on the GPU machine, from the repository root:
#   bash bench/cuda/h100.sh out/cuda-check "$OUT" [check|quick|bench] [extra check_cuda.py / bench_cuda.py arguments]
# (bench with --mode fwdbwd times forward + backward.)
# Logs and the results table land in the second argument (default ./out/h100). One call of the
# device tool is limited to 10 minutes: run `check` in one call and `bench` in another.
set -uo pipefail
dir=${1:-out/cuda-check}
out=${2:-out/h100}
step=${3:-check}
shift 3 2>/dev/null || shift $#
mkdir -p "$out"
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$out/gpu.txt"
case "$step" in
check|quick)
  # 1. Correctness: every layout, bf16 and fp16, TS-oracle vectors, head subsets, both kernel
  #    families on sm_90 (N up to 8192; `quick`: N up to 1000). Builds in parallel first.
  flag=; [ "$step" = quick ] && flag=--quick
  python3 test/cuda/check_cuda.py "$dir" $flag "$@" > "$out/check.log" 2>&1
  echo "check rc=$?"; grep -c " ok$" "$out/check.log"; grep FAIL "$out/check.log" | head; tail -3 "$out/check.log"
  # 2. compute-sanitizer memcheck at small sizes that are not multiples of the tile (N = 77; N = 2100, more
  #    work items than SMs, so each persistent block takes several), both families.
  for k in sm90 sm80; do
    for case in "released_h8_kv8_d64 77 2" "balanced_h16_kv16_d128 2100 1"; do
      set -- $case
      SPC_CUDA_KERNEL=$k compute-sanitizer --tool memcheck --error-exitcode 9 python3 bench/cuda/profile_one.py "$dir" $case > "$out/memcheck-$k-$1.log" 2>&1
      echo "memcheck $k $case rc=$?"; tail -1 "$out/memcheck-$k-$1.log"
    done
  done
  # 3. The backward under memcheck and racecheck (the dK/dV pass shares dS through shared memory),
  #    both families (SPC_CUDA_BWD: the wgmma one is the default on sm_90), atomics and
  #    deterministic modes, GQA (balanced_h16_kv4_d64), N = 77 and 300; racecheck on the wgmma family.
  for fam in sm90 sm80; do
    for mode in 1 det; do
      for tool in memcheck racecheck; do
        [ "$tool" = racecheck ] && [ "$fam" = sm80 ] && continue
        for case in "released_h8_kv8_d64 77 2" "balanced_h16_kv4_d64 300 1"; do
          set -- $case
          SPC_CUDA_BWD=$fam SPC_BACKWARD=$mode compute-sanitizer --tool $tool --error-exitcode 9 python3 bench/cuda/profile_one.py "$dir" $case > "$out/$tool-bwd-$fam-$mode-$1.log" 2>&1
          echo "$tool backward $fam ($mode) $case rc=$?"; tail -1 "$out/$tool-bwd-$fam-$mode-$1.log"
        done
      done
    done
  done
  # One archive of the sanitizer logs (the device tool brings back at most 8 files).
  (cd "$out" && tar czf sanitizers.tgz memcheck-*.log racecheck-*.log && rm -f memcheck-*.log racecheck-*.log)
  ;;
bench)
  # 3. The benchmark, side by side with cuDNN, flash and FlexAttention.
  python3 test/cuda/check_cuda.py "$dir" --build-only > "$out/build.log" 2>&1 || { echo "build failed"; tail -40 "$out/build.log"; }
  python3 bench/cuda/bench_cuda.py "$dir" --out "$out/bench.md" "$@" > "$out/bench.log" 2>&1
  echo "bench rc=$?"; grep -i "error\|Traceback" "$out/bench.log" | head -5; tail -60 "$out/bench.md"
  ;;
*) echo "unknown step $step"; exit 2 ;;
esac
