#!/usr/bin/env bash
# What `npm test` needs from the system (run by npm's pretest, and by .ci/run): when a command or
# library the tests use is missing, run .ci/install.d/*.sh (apt-get; the test machines run as
# root); when all is present, return at once. Each check names the install step that provides it.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
command -v nvcc >/dev/null || missing+=("nvcc (CUDA toolkit: .ci/install.d/00-nvcc.sh)")
command -v python3 >/dev/null || missing+=("python3 (.ci/install.d/10-python.sh)")
command -v pyflakes3 >/dev/null || missing+=("pyflakes3 (.ci/install.d/10-python.sh)")
[ -x "${SPC_CHROMIUM:-/usr/bin/chromium}" ] || missing+=("chromium (.ci/install.d/20-webgpu.sh)")
# (Not `ldconfig -p | grep -q`: grep -q exits at the first match, ldconfig then dies of SIGPIPE, and
# pipefail turns the found library into a missing one.)
libs="$(ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null || true)"
{ grep -q 'libvulkan\.so\.1' <<<"$libs" || ls /usr/lib/*/libvulkan.so.1 /usr/lib/libvulkan.so.1 >/dev/null 2>&1; } || missing+=("libvulkan1 (.ci/install.d/20-webgpu.sh)")
ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 || missing+=("mesa-vulkan-drivers (lavapipe: .ci/install.d/20-webgpu.sh)")
if [ "${#missing[@]}" = 0 ] && [ "${1:-}" != --force ]; then exit 0; fi
if [ "${#missing[@]}" != 0 ]; then
  echo "spc tests: missing ${missing[*]}; installing with .ci/install.d/*.sh" >&2
fi
# SPC_ENSURE_DRY_RUN=1: say what is missing, install nothing (test/setup.test.ts).
[ "${SPC_ENSURE_DRY_RUN:-}" = 1 ] && exit 0
if [ "$(id -u)" != 0 ] && ! command -v sudo >/dev/null; then
  echo "spc tests need root to install the above: run 'sudo bash .ci/ensure-system.sh'" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
for f in .ci/install.d/*.sh; do
  [ -e "$f" ] || continue
  echo "== $f" >&2
  if [ "$(id -u)" = 0 ]; then bash "$f"; else sudo -E bash "$f"; fi
done
