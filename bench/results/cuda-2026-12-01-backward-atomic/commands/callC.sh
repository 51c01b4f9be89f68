#!/bin/bash
# call C (wip/bwd-atomic): ncu kernel durations of both backward modes at 8k B=2, 8k B=1, 16k B=1; then learning runs.
set -uo pipefail
export PYTHONUNBUFFERED=1 TORCH_EXTENSIONS_DIR=$PWD/out/torch_extensions
O=${OUT:-out/callC}; mkdir -p $O
D=scratch/gpu/check P=scratch/gpu/train
T0=$(date +%s); el(){ echo "[$(( $(date +%s)-T0 ))s] $*"; }
el build
python3 examples/train/_packages.py --build $P > $O/build-train.log 2>&1 &
timeout 200 python3 test/cuda/check_cuda.py $D --only balanced_h16_kv16_d128,paper_h16_kv16_d128 --build-only > $O/build.log 2>&1; el "build rc=$?"
for c in "balanced_h16_kv16_d128 8192 2" "balanced_h16_kv16_d128 8192 1" "balanced_h16_kv16_d128 16384 1" "paper_h16_kv16_d128 8192 2"; do
  set -- $c
  for m in 1 det; do
    SPC_BACKWARD=$m timeout 60 ncu --clock-control none -k "regex:bwd" --launch-count 5 --section SpeedOfLight python3 bench/cuda/profile_one.py $D $1 $2 $3 > $O/ncu-$1-$2-$3-$m.txt 2>&1
    echo "$c $m: $(grep -E '^\s+spc_|Duration' $O/ncu-$1-$2-$3-$m.txt | paste - - | awk '{print $1, $(NF)}' | sed 's/spc_[a-z0-9_]*_bwd/bwd/' | tr '\n' ' ')"
  done
done
el "wait train build"; wait; tail -2 $O/build-train.log
run(){ tag=$1; t=$2; shift 2; timeout $t python3 examples/train/gpt.py learn --packages $P --out $O/$tag --budget $(( t - 20 )) "$@" > $O/$tag.out 2> $O/$tag.log & }
left=$(( 570 - ($(date +%s)-T0) ))
run all  $left --variants dense,spc_released,spc_balanced,spc_paper --tasks mqar --alphabet 32 --per-sequence 16 --seq 256 --layers 2 --batch 128 --train-steps 1500 --lr 3e-4
run d1   $left --variants dense --tasks mqar --alphabet 32 --per-sequence 16 --seq 256 --layers 2 --batch 256 --train-steps 3000 --lr 1e-3
run d2   $left --variants dense --tasks mqar --alphabet 32 --per-sequence 16 --seq 256 --layers 2 --batch 256 --train-steps 3000 --lr 3e-4
run d3   $left --variants dense --tasks copy --alphabet 32 --per-sequence 16 --seq 256 --layers 2 --batch 256 --train-steps 3000 --lr 3e-4
wait; el "learn done"
for t in all d1 d2 d3; do echo "== $t"; grep -E "step" $O/$t.log | awk 'NR%6==0' | tail -6; tail -4 $O/$t.out; done
el done; (cd $O && tar czf /tmp/all.tgz . && rm -rf ./* && mv /tmp/all.tgz .)
