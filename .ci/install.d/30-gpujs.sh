#!/usr/bin/env bash
# The gpu.js tests run generated kernels in Node (cpu, webasm, and webgpu through Dawn on
# Mesa's software Vulkan driver, lavapipe) and in headless Chromium (webgl2 on SwiftShader).
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends libvulkan1 mesa-vulkan-drivers chromium
chromium --version
