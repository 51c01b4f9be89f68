#!/usr/bin/env bash
# Nsight Compute profile of one spc package's sm_90 bf16 kernel at one length (B = 1, random
# inputs, bench/cuda/profile_one.py): throughput sections, warp stall reasons, and the SASS lines with the most stall samples.
# Needs ncu with hardware counters (not under gVisor); clocks are left alone.
#   bash bench/cuda/profile.sh DIR NAME N OUT [KERNEL_REGEX]
# KERNEL_REGEX defaults to the sm_90 forward (_fwd_sm90_bf16); for the backward's dK/dV kernel give
# _bwd90_dkdv_bf16 and set SPC_BACKWARD=1 (profile_one.py runs the backward then).
set -uo pipefail
dir=$1; name=$2; n=$3; out=$4; kern=${5:-_fwd_sm90_bf16}
mkdir -p "$out"; export PYTHONUNBUFFERED=1
python3 test/cuda/check_cuda.py "$dir" --build-only --only "$name" > "$out/build-$name.log" 2>&1 || { tail -20 "$out/build-$name.log"; exit 1; }
rep="$out/$name-$n${5:+-$kern}"
ncu --clock-control none --kernel-name "regex:$kern" --launch-count 1 \
  --section SpeedOfLight --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis --section Occupancy \
  --section WarpStateStats --section SchedulerStats --section SourceCounters --section LaunchStats \
  -f -o "$rep" python3 bench/cuda/profile_one.py "$dir" "$name" "$n" > "$rep.ncu.log" 2>&1 || { tail -20 "$rep.ncu.log"; exit 1; }
ncu -i "$rep.ncu-rep" --page details > "$rep.details.txt" 2>&1
ncu -i "$rep.ncu-rep" --page source --csv --print-source sass > "$rep.sass.csv" 2>&1
python3 - "$rep.sass.csv" <<'EOF' > "$rep.hot.txt"
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
head = next(i for i, r in enumerate(rows) if any("Source" == c for c in r))
cols = rows[head]
src = cols.index("Source")
stall = next((i for i, c in enumerate(cols) if c.startswith("Warp Stall Sampling (All")), None)
if stall is None:
    print("columns:", cols); sys.exit()
body = [r for r in rows[head + 1:] if len(r) == len(cols)]
num = lambda x: float(x.replace(",", "") or 0)
total = sum(num(r[stall]) for r in body)
print(f"{len(body)} SASS lines, {total:.0f} stall samples")
for r in sorted(body, key=lambda r: -num(r[stall]))[:45]:
    print(f"{num(r[stall]) / total * 100:5.1f}%  {r[src][:110]}")
EOF
grep -E "Duration|Compute \(SM\) Throughput|Memory Throughput|Registers Per|Issue Slots Busy|No Eligible|Warp Cycles Per Issued|Stall" "$rep.details.txt" | head -40
head -30 "$rep.hot.txt"
