#!/bin/bash
# call F: tuner re-measure (per-head at batch B*H), ncu of the D64 backward, WGSL with the new automatic choice.
set -uo pipefail
export PYTHONUNBUFFERED=1 TORCH_EXTENSIONS_DIR=$PWD/out/torch_extensions
R=${OUT:-out/callF}; mkdir -p $R/t
O=$R/t
T0=$(date +%s); el(){ echo "[$(( $(date +%s)-T0 ))s] $*"; }
P=scratch/gpuF/pk
(for l in paper_h16_kv16_d64 paper_h16_kv16_d128; do python3 -c "import sys,torch; sys.path.insert(0,'$P'); m=__import__('$l'); m._extension(9,0)" & done; wait) > $O/build-pk.log 2>&1 &
el tune8k
timeout 150 python3 bench/cuda/tune_measure.py scratch/gpuF/tune8k --per-head --max 4 --out $O/measured8k.json > $O/tune8k.log 2>&1; el "tune8k rc=$?"; tail -7 $O/tune8k.log
el tune4k
timeout 120 python3 bench/cuda/tune_measure.py scratch/gpuF/tune4k --per-head --max 4 --out $O/measured4k.json > $O/tune4k.log 2>&1; el "tune4k rc=$?"; tail -7 $O/tune4k.log
wait
el ncu
for l in paper_h16_kv16_d64 paper_h16_kv16_d128; do
SPC_BACKWARD=1 timeout 60 ncu --clock-control none -k "regex:bwd" --launch-count 3 --section SpeedOfLight --section Occupancy --section LaunchStats --section WarpStateStats python3 bench/cuda/profile_one.py $P $l 16384 1 > $O/ncu-$l.txt 2>&1; el "ncu $l rc=$?"
awk '/spc_.*bwd/ {k=$1} /Duration/ {print k, $(NF-1), $NF} /Registers Per Thread/ {print "   regs", $NF} /Achieved Occupancy/ {print "   occupancy", $NF} /Compute \(SM\) Throughput/ {print "   SM throughput", $NF} /Block Size/ {print "   block", $NF} /Grid Size/ {print "   grid", $NF}' $O/ncu-$l.txt
done
el wgsl
OUT=$R/wgsl timeout 420 bash bench/wgsl/h200.sh > $O/h200-outer.log 2>&1; el "wgsl rc=$?"
grep -E "^\| (dense|spattention)" $R/wgsl/wgsl-h200.md | head -30; grep -cE '"ok":true' $R/wgsl/check.jsonl; grep -cE '"ok":false' $R/wgsl/check.jsonl
cp $O/measured8k.json $O/measured4k.json $R/ 2>/dev/null
(cd $R && tar czf all.tgz t wgsl && rm -rf t wgsl)
el done
