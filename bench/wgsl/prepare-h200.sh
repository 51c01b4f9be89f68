#!/usr/bin/env bash
# Prepares, on this machine, what bench/wgsl/h200.sh needs on the GPU machine (no Node, no npm, no
# network there): run from the repository root, then make the one `run` call that
# bench/wgsl/README.md gives (carry: .gl and .gpu). Writes, all git-ignored:
#   .gpu/node.xz                        this machine's Node binary (links only libc, libstdc++, libm)
#   .gpu/node_modules/webgpu/           index.js, package.json, dist/linux-x64/dawn.node.xz (unpacked there)
#   .gpu/node_modules/chevrotain/       package.json, lib/chevrotain.mjs (the one-file bundle dsl/chevrotain.ts loads), lib/src/api.js (for resolve)
#   .gpu/js/                            bench/wgsl.ts, bench/wgsl/{check,life}.ts and what they import, compiled (tsconfig.bench.json)
#   .gl/*.deb                           the Vulkan loader and GLVND (apt-get download; needs the network)
# and prints the size of what the call carries (the limit is 64 MiB, tracked files included).
# Options: --no-debs (keep .gl as it is), --force (redo node.xz and dawn.node.xz).
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
debs=1 force=0
for a in "$@"; do
  case "$a" in
    --no-debs) debs=0 ;;
    --force) force=1 ;;
    *) echo "prepare-h200.sh: unknown option $a" >&2; exit 2 ;;
  esac
done
grep -qxF '/.gpu/' .gitignore || { echo "prepare-h200.sh: .gitignore must list /.gpu/" >&2; exit 1; }
grep -qxF '/.gl/' .gitignore || { echo "prepare-h200.sh: .gitignore must list /.gl/" >&2; exit 1; }
mkdir -p .gpu .gl
nm=node_modules   # the project's (here: may be a link to the main checkout's)

# 1. Node.
node_bin="$(command -v node)"
if [ "$force" = 1 ] || [ ! -s .gpu/node.xz ] || [ "$node_bin" -nt .gpu/node.xz ]; then
  echo "xz $node_bin ($(node --version)) -> .gpu/node.xz"
  nice -n 19 xz -T2 -6 -c "$node_bin" > .gpu/node.xz.tmp && mv .gpu/node.xz.tmp .gpu/node.xz
fi
node --version > .gpu/node.version

# 2. The packages the compiled benchmark imports at run time: webgpu (Dawn) and chevrotain (the parser).
w=.gpu/node_modules/webgpu
mkdir -p "$w/dist/linux-x64"
cp "$nm/webgpu/index.js" "$nm/webgpu/package.json" "$w/"
dawn="$nm/webgpu/dist/linux-x64/dawn.node"
if [ "$force" = 1 ] || [ ! -s "$w/dist/linux-x64/dawn.node.xz" ] || [ "$dawn" -nt "$w/dist/linux-x64/dawn.node.xz" ]; then
  echo "xz $dawn -> $w/dist/linux-x64/dawn.node.xz"
  nice -n 19 xz -T2 -6 -c "$dawn" > "$w/dist/linux-x64/dawn.node.xz.tmp" && mv "$w/dist/linux-x64/dawn.node.xz.tmp" "$w/dist/linux-x64/dawn.node.xz"
fi
rm -f "$w/dist/linux-x64/dawn.node" .gpu/node # unpacked by h200.sh (or by --dry-run here); never carried uncompressed
c=.gpu/node_modules/chevrotain
mkdir -p "$c/lib/src"
cp "$nm/chevrotain/package.json" "$c/"
cp "$nm/chevrotain/lib/chevrotain.mjs" "$c/lib/"
cp "$nm/chevrotain/lib/src/api.js" "$c/lib/src/"

# 3. The Vulkan loader and GLVND (../shared/RECIPES.md, "Node and WebGPU on the GPU machine").
if [ "$debs" = 1 ]; then
  mkdir -p .gl-lists/partial
  o="-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=$PWD/.gl-lists"
  if apt-get $o update >/dev/null && (cd .gl && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 >/dev/null); then
    echo "debs: $(ls .gl/*.deb | wc -l) in .gl/"
  else
    echo "prepare-h200.sh: apt-get download failed (no network?); .gl/ holds: $(ls .gl 2>/dev/null | tr '\n' ' ')" >&2
  fi
fi
n_debs=$(find .gl -maxdepth 1 -name '*.deb' | wc -l)
[ "$n_debs" -ge 7 ] || echo "prepare-h200.sh: WARNING: .gl/ has $n_debs .deb files, expected 7 (libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)" >&2

# 4. The benchmark, compiled.
rm -rf .gpu/js
nice -n 19 npx tsc -p tsconfig.bench.json
echo "built .gpu/js ($(find .gpu/js -name '*.js' | wc -l) files)"

# 5. What the call carries: tracked and untracked-not-ignored files, plus .gpu and .gl.
tree_bytes=$(git ls-files -z --cached --others --exclude-standard | xargs -0 stat -L -c %s 2>/dev/null | awk '{s += $1} END {print s + 0}')
gpu_bytes=$(du -sb .gpu | cut -f1)
gl_bytes=$(du -sb .gl | cut -f1)
total=$((tree_bytes + gpu_bytes + gl_bytes))
mib() { awk -v b="$1" 'BEGIN {printf "%.1f MiB", b / 1048576}'; }
echo "carried: tree $(mib "$tree_bytes") + .gpu $(mib "$gpu_bytes") + .gl $(mib "$gl_bytes") = $(mib "$total") (limit 64 MiB)"
[ "$total" -lt $((60 * 1048576)) ] || { echo "prepare-h200.sh: over 60 MiB: too close to the 64 MiB limit" >&2; exit 1; }
