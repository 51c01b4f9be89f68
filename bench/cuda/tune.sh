#!/usr/bin/env bash
# Tile/pipeline configurations side by side on a GPU machine, each one isolated so a hang or a
# failure in one does not cost the others. Prepare with bench/cuda/prepare_tune.ts first.
#   bash bench/cuda/tune.sh DIR OUT SUFFIXES [LENGTHS] [PATTERNS] [SHAPES] [nocheck]
# SUFFIXES: comma list of package-name suffixes as prepare_tune.ts writes them
# (the config names given to prepare_tune.ts, e.g. s3,s4). Logs go to OUT/logs (OUT/logs.tgz at the end), the tables to OUT/tune.md.
set -uo pipefail
dir=$1; out=$2; sufs=$3; lengths=${4:-8192,16384,32768}; pats=${5:-balanced,released}; shapes=${6:-16x128}; nocheck=${7:-}
log=$out/logs; mkdir -p "$log"; export PYTHONUNBUFFERED=1
python3 test/cuda/check_cuda.py "$dir" --build-only > "$log/build.log" 2>&1; echo "build rc=$? $(grep -c 'BUILD FAILED' "$log/build.log") failed; $(grep built "$log/build.log")"
for s in ${sufs//,/ }; do
  if [ -z "$nocheck" ]; then
    only=$(python3 -c "import json; print(','.join(l['name'] for l in json.load(open('$dir/layouts.json')) if l['name'].endswith('_$s')))")
    timeout 120 python3 test/cuda/check_cuda.py "$dir" --quick --kernels sm90 --only "$only" --watchdog 110 > "$log/check-$s.log" 2>&1
    echo "check $s rc=$? $(grep -c ' ok$' "$log/check-$s.log") ok $(grep -c FAIL "$log/check-$s.log") fail"
  fi
  timeout 150 python3 bench/cuda/bench_cuda.py "$dir" --no-flex --shapes "$shapes" --lengths "$lengths" --patterns "$pats" --suffixes "$s" --watchdog 140 --out "$log/bench-$s.md" > "$log/bench-$s.log" 2>&1
  echo "bench $s rc=$? $(grep -c '^| [a-z]' "$log/bench-$s.md" 2>/dev/null) rows"
  cat "$log/bench-$s.md" >> "$out/tune.md" 2>/dev/null  # as it goes: a run cut short keeps what it measured
done
tar czf "$out/logs.tgz" -C "$out" logs && rm -rf "$log"
awk -F'|' '$4+0>0 {printf "%-46s D=%s N=%-6s spc %s ms  x%s cuDNN  %s TFLOP/s\n", $2, $4, $5, $10, $11, $13}' "$out/tune.md" | sort
