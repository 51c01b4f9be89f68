#!/usr/bin/env bash
# The WGSL and gpu.js tests run generated kernels on Dawn (npm package webgpu) through Mesa's
# software drivers, and in Debian's headless Chromium (SwiftShader: WebGPU for the web page,
# webgl2 for gpu.js). No GPU is needed.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
libs="$(ldconfig -p 2>/dev/null || true)"  # not piped into grep -q: SIGPIPE under pipefail
if command -v chromium >/dev/null && grep -q 'libvulkan\.so\.1' <<<"$libs" && ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1; then
  chromium --version
  exit 0
fi
# Another install step may hold the apt lock for a while: wait for it rather than fail.
for try in 1 2 3 4 5 6 7 8 9 10; do
  if apt-get -o DPkg::Lock::Timeout=120 update; then break; fi
  [ "$try" = 10 ] && exit 1
  sleep 15
done
apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends libvulkan1 mesa-vulkan-drivers chromium
chromium --version
