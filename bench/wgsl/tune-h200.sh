#!/usr/bin/env bash
# `spc tune --target wgsl` on the GPU machine (issue 17): run from the repository root there, after
# bench/wgsl/prepare-h200.sh here, with carry [".gl", ".gpu"] (bench/wgsl/README.md, "The tuning
# call"). Tunes the tiled WGSL variant of bench/wgsl/tune-h200.spc (the paper's bands, H = 16,
# D = 64 and D = 128) at N = 16384 on the adapter Dawn's Vulkan backend gives (the NVIDIA driver),
# with the carried Node and the compiled CLI (.gpu/js/bench/wgsl/tune.js: src/driver/cli.ts run()).
# Each layout in its own process under a watchdog (a hung device costs one layout, not the call);
# inside, each candidate has its own --timeout and no candidate starts after --budget.
# Writes to "$OUT" (7 files):
#   tune.log                     everything printed: set-up, each candidate's oracle check and time, the summaries
#   env.txt                      Node, nvidia-smi, the Vulkan/GLX/EGL libraries, the ICD file
#   tune-h200.json               the tuning record of both layouts (the one to commit; spc compile --tuning takes it)
#   tune-spattention_d64.json    the record of each layout's process
#   tune-spattention_d128.json
#   tune-spattention_d64.txt     the summary table of each
#   tune-spattention_d128.txt
# Ends within about 9 minutes whatever hangs.
#
# --dry-run: on this machine (no GPU): no debs, no NVIDIA ICD, Dawn's backend from
# SPC_WEBGPU_BACKEND (default opengl: Mesa), N = 512, 2 candidates a layout; OUT defaults to
# /tmp/spc-tune-dry. It removes the Node and dawn.node it unpacked into .gpu/ (else 122 MiB would be carried).
set -uo pipefail
cd "$(dirname "$0")/../.."
. bench/wgsl/gpu-env.sh # gpu_vulkan, gpu_node, gpu_env_txt
dry=0
[ "${1:-}" = --dry-run ] && dry=1
if [ $dry = 1 ]; then OUT="${OUT:-/tmp/spc-tune-dry}"; fi
: "${OUT:?OUT must be set (the device tool sets it)}"
mkdir -p "$OUT"
t0=$(date +%s)
elapsed() { echo $(($(date +%s) - t0)); }
say() { echo "[tune-h200.sh $(elapsed) s] $*"; }
SPEC=bench/wgsl/tune-h200.spc
LAYOUTS="${SPC_TUNE_LAYOUTS:-spattention_d64 spattention_d128}" # SPC_TUNE_LAYOUTS, SPC_TUNE_ARGS, SPC_TUNE_WATCHDOG: a shorter call

main() {
  if [ $dry = 0 ]; then
    gpu_vulkan
    BACKEND=vulkan
    # Per layout: at most 40 candidates, none started after 200 s, each at most 60 s; the process
    # itself at most 260 s (2 x 260 + set-up < 600).
    ARGS="${SPC_TUNE_ARGS:---seq 16384 --max-candidates 40 --reps 5 --check-n 4096 --timeout 60 --budget 200}"
    WATCHDOG=${SPC_TUNE_WATCHDOG:-260}
  else
    BACKEND="${SPC_WEBGPU_BACKEND:-opengl}"
    ARGS="--seq 512 --max-candidates 2 --reps 2 --check-n 64 --timeout 60 --budget 60"
    WATCHDOG=150
  fi
  gpu_node
  SPC=".gpu/js/bench/wgsl/tune.js"
  [ -s "$SPC" ] || { say "missing $SPC: run bash bench/wgsl/prepare-h200.sh here first"; return 1; }
  gpu_env_txt "backend: $BACKEND; VK_DRIVER_FILES=${VK_DRIVER_FILES:-}" "args: $ARGS"
  records=()
  for L in $LAYOUTS; do
    say "spc tune $SPC --layout $L --target wgsl --backend $BACKEND $ARGS (watchdog $WATCHDOG s)"
    # shellcheck disable=SC2086
    timeout -k 5 "$WATCHDOG" "$NODE" "$SPC" tune "$SPEC" --layout "$L" --target wgsl --backend "$BACKEND" $ARGS \
      --record "$OUT/tune-$L.json" > "$OUT/tune-$L.txt" 2> >(grep -v -E 'artificially reduced|XDG_RUNTIME_DIR' >&2)
    rc=$?
    if [ $rc = 124 ] || [ $rc = 137 ]; then say "$L: HANG (killed after $WATCHDOG s): no record"; elif [ $rc != 0 ]; then say "$L: exit $rc"; fi
    cat "$OUT/tune-$L.txt"
    [ -s "$OUT/tune-$L.json" ] && records+=("$OUT/tune-$L.json")
  done
  if [ ${#records[@]} -gt 0 ]; then
    # One record for both layouts (one device): the entries of each, checked with spc's own validateRecord.
    "$NODE" --input-type=module -e '
      import { readFileSync, writeFileSync } from "node:fs";
      import { pathToFileURL } from "node:url";
      const { validateRecord } = await import(pathToFileURL(".gpu/js/src/tuner/record.js").href);
      const [out, ...files] = process.argv.slice(1);
      const rs = files.map((f) => JSON.parse(readFileSync(f, "utf8")));
      const r = { ...rs[0], entries: rs.flatMap((x) => x.entries) };
      const v = validateRecord(r);
      if ("problems" in v) console.log("the merged record is not valid: " + v.problems.slice(0, 3).join("; "));
      writeFileSync(out, JSON.stringify(r, null, 2) + "\n");
      console.log("wrote " + out + ": " + r.entries.map((e) => e.layout + " N=" + e.n + " -> " + e.candidates[e.choice].id + (e.measured ? "" : " (not measured)")).join("; "));
    ' "$OUT/tune-h200.json" "${records[@]}"
  fi
  say "done; results in $OUT"
}

main 2>&1 | tee "$OUT/tune.log"
# Here (--dry-run), the unpacked Node and dawn.node would be carried next time (122 MiB): remove them.
if [ $dry = 1 ]; then rm -f .gpu/node .gpu/node_modules/webgpu/dist/linux-x64/dawn.node; fi
ls -la "$OUT"
